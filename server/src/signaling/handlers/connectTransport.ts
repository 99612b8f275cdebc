import { AppError } from '../../errors.js';
import { defineHandler } from '../handler.js';
import { requireJoined } from '../guards.js';

export const connectTransport = defineHandler({
  event: 'connectTransport',
  async handle({ participant }, request) {
    requireJoined(participant);
    const transport = participant.transport(request.transportId);
    // mediasoup allows one connect() per transport; a client retrying after a lost ack gets a code.
    if (transport.appData.connectRequested) {
      throw new AppError('INVALID_STATE', 'transport already connected');
    }
    transport.appData.connectRequested = true;
    try {
      await transport.connect({ dtlsParameters: request.dtlsParameters });
    } catch (error) {
      // The worker refuses before it takes anything in, so a failed connect may be tried again.
      transport.appData.connectRequested = false;
      if (transport.closed) throw new AppError('NOT_FOUND', 'no such transport');
      throw error;
    }
    return null;
  },
});
