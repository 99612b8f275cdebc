import { DEFAULT_GUEST_SOURCES } from '../../rooms/Stage.js';
import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';

// Mic-link requests. Who may do what is decided in rooms/RoomStage (hosts only for approve,
// deny, invite, remove and mute); these handlers only parse and pass on.

export const raiseHand = defineHandler({
  event: 'raiseHand',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    return room.stage.raiseHand(participant, request.message ?? '');
  },
});

export const lowerHand = defineHandler({
  event: 'lowerHand',
  async handle({ room, participant }) {
    requireJoined(participant);
    await room.stage.lowerHand(participant);
    return null;
  },
});

export const approveHand = defineHandler({
  event: 'approveHand',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    await room.stage.approve(
      participant,
      request.identity,
      request.sources ?? DEFAULT_GUEST_SOURCES,
    );
    return null;
  },
});

export const denyHand = defineHandler({
  event: 'denyHand',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    await room.stage.deny(participant, request.identity);
    return null;
  },
});

export const inviteToStage = defineHandler({
  event: 'inviteToStage',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    return room.stage.invite(
      participant,
      request.identity,
      request.sources ?? DEFAULT_GUEST_SOURCES,
    );
  },
});

export const acceptInvite = defineHandler({
  event: 'acceptInvite',
  async handle({ room, participant }) {
    requireJoined(participant);
    await room.stage.acceptInvite(participant);
    return null;
  },
});

export const declineInvite = defineHandler({
  event: 'declineInvite',
  async handle({ room, participant }) {
    requireJoined(participant);
    await room.stage.declineInvite(participant);
    return null;
  },
});

export const removeFromStage = defineHandler({
  event: 'removeFromStage',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    await room.stage.removeFromStage(participant, request.identity);
    return null;
  },
});

export const leaveStage = defineHandler({
  event: 'leaveStage',
  async handle({ room, participant }) {
    requireJoined(participant);
    await room.stage.leaveStage(participant);
    return null;
  },
});

export const muteParticipant = defineHandler({
  event: 'muteParticipant',
  async handle({ room, participant }, request) {
    requireJoined(participant);
    await room.stage.mute(participant, request.identity, request.source, request.muted);
    return null;
  },
});
