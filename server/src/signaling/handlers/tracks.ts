import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';
import { trackSchema } from '../schemas.js';

export const closeTrack = defineHandler({
  event: 'closeTrack',
  schema: trackSchema,
  async handle({ participant }, request) {
    requireJoined(participant);
    participant.track(request.trackId).producer.close();
    return null;
  },
});

export const pauseTrack = defineHandler({
  event: 'pauseTrack',
  schema: trackSchema,
  async handle({ participant }, request) {
    requireJoined(participant);
    await participant.track(request.trackId).producer.pause();
    return null;
  },
});

export const resumeTrack = defineHandler({
  event: 'resumeTrack',
  schema: trackSchema,
  async handle({ participant }, request) {
    requireJoined(participant);
    await participant.track(request.trackId).producer.resume();
    return null;
  },
});
