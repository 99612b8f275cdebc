import type { KickReason, StageSource, TrackInfo } from '@livestage/protocol';
import { defaultGrants } from '../auth/grants.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { Participant, trackInfo, type Connection } from './Participant.js';
import type { Room } from './Room.js';
import { DEFAULT_GUEST_SOURCES, stageSourceOf } from './Stage.js';

/** Who the room's stage sees acting when an operator acts over the admin API (e.g. invite `from`). */
export const ADMIN_IDENTITY = 'admin';

const NO_CONNECTION: Connection = {
  id: 'admin',
  emit: () => undefined,
  disconnect: () => undefined,
};

/**
 * The operator, as the stage's host-only operations need a host to act: a host that is in no
 * room, holds no connection and publishes nothing. Made per call; it never enters a room.
 */
function adminActor(room: Room, log: Logger): Participant {
  return new Participant(ADMIN_IDENTITY, defaultGrants(room.name, 'host'), NO_CONNECTION, log);
}

/** The joined participant `identity` of `room` connected to this node, or NOT_FOUND/INVALID_STATE. */
export function localParticipant(room: Room, identity: string): Participant {
  const participant = room.participants.get(identity);
  if (!participant || participant.closed) throw new AppError('NOT_FOUND', 'no such participant');
  if (participant.remote) {
    throw new AppError('INVALID_STATE', `connected to another node: ${participant.remote}`);
  }
  return participant;
}

function requireJoined(participant: Participant): void {
  if (!participant.joined) throw new AppError('INVALID_STATE', 'participant has not joined');
}

/** Tells the client why, closes its connection and takes it out of the room at once. */
export function removeParticipant(room: Room, participant: Participant, reason: KickReason): void {
  const message =
    reason === 'removed' ? 'removed by an operator' : 'the room was closed by an operator';
  participant.disconnect({ code: 'FORBIDDEN', message, reason });
  room.remove(participant);
}

/**
 * Everyone connected here is told and removed; the empty room then closes as any empty room
 * does (ROOM_EMPTY_GRACE_MS). Returns how many were removed.
 */
export function closeRoom(room: Room): number {
  const here = [...room.participants.values()].filter((p) => !p.remote && !p.closed);
  for (const participant of here) removeParticipant(room, participant, 'room-closed');
  return here.length;
}

/**
 * Pauses or resumes a published track. A guest's track goes through the stage's host mute (the
 * guest cannot unmute it; every track of that source follows); a host's track is paused in the
 * worker. An unmute leaves a track its owner paused as it is.
 */
export async function setTrackMuted(
  room: Room,
  participant: Participant,
  trackId: string,
  muted: boolean,
): Promise<TrackInfo> {
  requireJoined(participant);
  const track = participant.track(trackId);
  const source = stageSourceOf(track.source);
  if (participant.seat?.sources.has(source)) {
    await room.stage.mute(adminActor(room, participant.log), participant.identity, source, muted);
  } else if (muted) {
    await track.producer.pause();
  } else if (!track.pausedByOwner && !participant.isMutedByHost(track.source)) {
    await track.producer.resume();
  }
  if (track.producer.closed) throw new AppError('NOT_FOUND', 'no such track');
  return trackInfo(track);
}

export type StageOutcome = 'seated' | 'invited';

/**
 * Someone with a raised hand is seated at once; anyone else is invited (the client accepts or
 * declines, as with a host's invitation): nobody's camera goes on stage without its consent.
 */
export async function bringOnStage(
  room: Room,
  participant: Participant,
  sources: readonly StageSource[] = DEFAULT_GUEST_SOURCES,
): Promise<{ outcome: StageOutcome; expiresAt?: number }> {
  requireJoined(participant);
  if (participant.role !== 'audience') throw new AppError('INVALID_STATE', 'already on stage');
  const admin = adminActor(room, participant.log);
  if (room.stage.stage.hand(participant.identity)) {
    await room.stage.approve(admin, participant.identity, sources);
    return { outcome: 'seated' };
  }
  const invite = await room.stage.invite(admin, participant.identity, sources);
  return { outcome: 'invited', expiresAt: invite.expiresAt };
}

/** Takes a guest off stage (its tracks close); hosts are always on stage. */
export async function takeOffStage(room: Room, participant: Participant): Promise<void> {
  requireJoined(participant);
  if (participant.role === 'host') throw new AppError('INVALID_STATE', 'hosts are always on stage');
  await room.stage.removeFromStage(adminActor(room, participant.log), participant.identity);
}

/** Sets the metadata others see; the participant and everyone who knows of it are told. */
export function setMetadata(room: Room, participant: Participant, metadata: string): void {
  participant.metadata = metadata;
  if (!participant.joined) return;
  const info = participant.info();
  for (const other of room.participants.values()) {
    if (!other.joined || other.closed || other.remote) continue;
    if (other !== participant && participant.grants.hidden) continue;
    // As the room decides who hears of a join: hosts all, the audience only who matters.
    const knows =
      other === participant ||
      other.role === 'host' ||
      participant.knownToAudience ||
      participant.role !== 'audience';
    if (knows) other.emit('participantUpdated', info);
  }
}
