import type { Access, TrackSource } from '@livestage/protocol';
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

/** Who may send a request (declared with it in the protocol); the handler checks the rest. */
export function requireAccess(participant: Participant, access: Access): void {
  if (access === 'anyone') return;
  if (access === 'notJoined') {
    if (participant.joined) throw new AppError('INVALID_STATE', 'already joined');
    return;
  }
  requireJoined(participant);
  if (access === 'host' && participant.role !== 'host') {
    throw new AppError('FORBIDDEN', 'hosts only');
  }
  if (access === 'chat' && !participant.grants.canChat) {
    throw new AppError('FORBIDDEN', 'this token may not chat');
  }
}
