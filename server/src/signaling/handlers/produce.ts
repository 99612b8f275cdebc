import type { types } from 'mediasoup';
import { AppError } from '../../errors.js';
import { defineHandler } from '../handler.js';
import { requireJoined, requirePublishRight } from '../guards.js';

const AUDIO_SOURCES = new Set(['microphone', 'screen-audio']);

export const produce = defineHandler({
  event: 'produce',
  async handle({ room, participant, config }, request) {
    requireJoined(participant);
    requirePublishRight(participant, request.source);
    if (AUDIO_SOURCES.has(request.source) !== (request.kind === 'audio')) {
      throw new AppError(
        'INVALID_PAYLOAD',
        `source ${request.source} cannot carry ${request.kind}`,
      );
    }
    const transport = participant.transport(request.transportId);
    if (transport.appData.direction !== 'send')
      throw new AppError('INVALID_STATE', 'not a send transport');
    if (participant.tracks.size >= config.rooms.maxProducersPerParticipant) {
      throw new AppError('LIMIT_EXCEEDED', 'too many tracks');
    }
    for (const track of participant.tracks.values()) {
      if (track.source === request.source)
        throw new AppError('INVALID_STATE', `${request.source} already published`);
    }
    let producer: types.Producer;
    try {
      producer = await transport.produce({
        kind: request.kind,
        rtpParameters: request.rtpParameters as types.RtpParameters,
        // A join storm asks for a keyframe per viewer; the publisher makes one per interval.
        keyFrameRequestDelay: config.media.keyFrameRequestDelayMs,
        appData: { source: request.source },
      });
    } catch (error) {
      // Taken off stage while this request was on its way: the transport is gone.
      if (!participant.mayPublish(request.source)) {
        throw new AppError('FORBIDDEN', `not allowed to publish ${request.source}`);
      }
      // Closed meanwhile (the participant left, or its worker died and the room is moving).
      if (transport.closed) throw new AppError('NOT_FOUND', 'no such transport');
      // mediasoup rejects RTP parameters it cannot use: TypeError/UnsupportedError in Node, a
      // plain Error from the worker (e.g. a MID, SSRC or RID already used on this transport).
      if (error instanceof Error) {
        participant.log.warn('produce refused', { error: String(error) });
        throw new AppError('INVALID_PAYLOAD', 'unusable RTP parameters');
      }
      throw error;
    }
    if (participant.closed) {
      producer.close();
      throw new AppError('INVALID_STATE', 'participant left');
    }
    if (!participant.mayPublish(request.source)) {
      producer.close();
      throw new AppError('FORBIDDEN', `not allowed to publish ${request.source}`);
    }
    await room.publish(participant, producer, request.source);
    return { trackId: producer.id };
  },
});
