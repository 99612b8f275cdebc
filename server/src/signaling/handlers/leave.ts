import { defineHandler } from '../handler.js';

export const leave = defineHandler({
  event: 'leave',
  async handle({ room, participant }) {
    room.remove(participant);
    return null;
  },
});
