import { AppError } from '../../errors.js';
import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';

export const closeTrack = defineHandler({
  event: 'closeTrack',
  async handle({ participant }, request) {
    requireJoined(participant);
    participant.track(request.trackId).producer.close();
    return null;
  },
});

export const pauseTrack = defineHandler({
  event: 'pauseTrack',
  async handle({ participant }, request) {
    requireJoined(participant);
    const track = participant.track(request.trackId);
    track.pausedByOwner = true;
    await track.producer.pause();
    return null;
  },
});

export const resumeTrack = defineHandler({
  event: 'resumeTrack',
  async handle({ participant }, request) {
    requireJoined(participant);
    const track = participant.track(request.trackId);
    if (participant.isMutedByHost(track.source)) {
      throw new AppError('FORBIDDEN', 'muted by the host');
    }
    track.pausedByOwner = false;
    await track.producer.resume();
    return null;
  },
});
