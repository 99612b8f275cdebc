import { defineHandler } from '../handler.js';
import { emptySchema } from '../schemas.js';

export const leave = defineHandler({
  event: 'leave',
  schema: emptySchema,
  async handle({ room, participant }) {
    room.remove(participant);
    return null;
  },
});
