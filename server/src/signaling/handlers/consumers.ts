import type { types } from 'mediasoup';
import { AppError } from '../../errors.js';
import { closedInWorker } from '../../media/closedInWorker.js';
import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';

/**
 * A consumer can close in the worker (its producer left) while a request for it is on the way;
 * the worker may answer before Node has heard of the close, with "handler ... not found".
 */
async function onConsumer(consumer: types.Consumer, action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (consumer.closed || closedInWorker(error)) {
      throw new AppError('NOT_FOUND', 'no such consumer');
    }
    throw error;
  }
}

export const resumeConsumer = defineHandler({
  event: 'resumeConsumer',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    const { consumer } = participant.subscription(request.consumerId);
    await onConsumer(consumer, async () => {
      await room.setPausedBySubscriber(participant, request.consumerId, false);
      // The first frame needs a keyframe; ask for one now instead of waiting for the next.
      if (consumer.kind === 'video') await consumer.requestKeyFrame();
    });
    return null;
  },
});

export const pauseConsumer = defineHandler({
  event: 'pauseConsumer',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    const { consumer } = participant.subscription(request.consumerId);
    await onConsumer(consumer, () =>
      room.setPausedBySubscriber(participant, request.consumerId, true),
    );
    return null;
  },
});

export const setConsumerPreferences = defineHandler({
  event: 'setConsumerPreferences',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    const subscription = participant.subscription(request.consumerId);
    if (request.quality) subscription.quality = request.quality;
    if (request.viewport) subscription.viewportHeight = request.viewport.height;
    await onConsumer(subscription.consumer, () =>
      room.applyPreferences(participant, request.consumerId),
    );
    return null;
  },
});
