import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';
import { connectTransportSchema } from '../schemas.js';

export const connectTransport = defineHandler({
  event: 'connectTransport',
  schema: connectTransportSchema,
  async handle({ participant }, request) {
    requireJoined(participant);
    await participant
      .transport(request.transportId)
      .connect({ dtlsParameters: request.dtlsParameters });
    return null;
  },
});
