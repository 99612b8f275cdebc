import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import type { RoomRegistry } from '../../rooms/RoomRegistry.js';
import { requireApiKey } from '../basicAuth.js';

/**
 * mediasoup 3.12 refuses a max outgoing bitrate under 30 kbit/s, and takes 0 as "unlimited"
 * (which is also a new transport's default), so null maps to 0.
 */
const MIN_BITRATE = 30_000;
const MAX_BITRATE = 100_000_000;
const UNLIMITED = 0;

const bitrateRequest = z
  .object({
    maxOutgoingBitrate: z.number().int().min(MIN_BITRATE).max(MAX_BITRATE).nullable(),
  })
  .strict();

export function roomRoutes(config: Config, rooms: RoomRegistry): Router {
  const router = Router();

  router.get('/api/rooms', requireApiKey(config.auth), (_req, res) => {
    const list = [...rooms.rooms.values()].map((room) => ({
      name: room.name,
      participants: room.participants.size,
    }));
    res.json({ rooms: list });
  });

  /** Caps (or uncaps, with null) what the server sends one participant. */
  router.patch(
    '/api/rooms/:room/participants/:identity',
    requireApiKey(config.auth),
    async (req, res) => {
      const parsed = bitrateRequest.safeParse(req.body);
      if (!parsed.success) {
        throw new AppError(
          'INVALID_PAYLOAD',
          `maxOutgoingBitrate expected: an integer ${MIN_BITRATE}..${MAX_BITRATE} or null`,
        );
      }
      const { room, identity } = req.params as Record<'room' | 'identity', string>;
      const participant = rooms.rooms.get(room)?.participants.get(identity);
      if (!participant || participant.closed)
        throw new AppError('NOT_FOUND', 'no such participant');
      const transport = participant.recvTransport;
      if (!participant.joined || !participant.grants.canSubscribe) {
        throw new AppError('INVALID_STATE', 'participant has not joined or receives nothing');
      }
      const { maxOutgoingBitrate } = parsed.data;
      // Kept first: a transport remade meanwhile (a move) takes the cap from the participant.
      const previous = participant.maxOutgoingBitrate;
      participant.maxOutgoingBitrate = maxOutgoingBitrate;
      try {
        if (transport && !transport.closed) {
          await transport.setMaxOutgoingBitrate(maxOutgoingBitrate ?? UNLIMITED);
        }
      } catch (error) {
        if (!transport?.closed) {
          participant.maxOutgoingBitrate = previous;
          throw error;
        }
      }
      if (participant.closed) throw new AppError('NOT_FOUND', 'no such participant');
      res.json({ identity: participant.identity, maxOutgoingBitrate });
    },
  );

  return router;
}
