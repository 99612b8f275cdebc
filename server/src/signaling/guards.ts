import type { TrackSource } from '../../../client-sdk/src/protocol.js';
import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';

export function requireJoined(participant: Participant): void {
  if (!participant.joined) throw new AppError('INVALID_STATE', 'join first');
}

/** Hosts publish what their token allows; guests what their stage seat allows; audience nothing. */
export function requirePublishRight(participant: Participant, source: TrackSource): void {
  if (!participant.mayPublish(source)) {
    throw new AppError('FORBIDDEN', `not allowed to publish ${source}`);
  }
}
