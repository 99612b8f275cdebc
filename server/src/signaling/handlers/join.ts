import type { types } from 'mediasoup';
import { defineHandler } from '../handler.js';

export const join = defineHandler({
  event: 'join',
  handle: ({ room, participant }, request) =>
    room.join(participant, request.rtpCapabilities as types.RtpCapabilities),
  // The server pushes consumers for what is already live, without waiting to be asked.
  afterAck: ({ room, participant }) => room.subscribeToExisting(participant),
});
