import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';

/** New ICE credentials for one of the caller's transports: how a client gets media back after a network change. */
export const restartIce = defineHandler({
  event: 'restartIce',
  async handle({ participant }, request) {
    requireJoined(participant);
    const iceParameters = await participant.transport(request.transportId).restartIce();
    return { iceParameters };
  },
});
