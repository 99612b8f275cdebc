import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';

export function requireJoined(participant: Participant): void {
  if (!participant.joined) throw new AppError('INVALID_STATE', 'join first');
}

export function requirePublishGrant(participant: Participant): void {
  if (!participant.grants.canPublish) throw new AppError('FORBIDDEN', 'this token may not publish');
}
