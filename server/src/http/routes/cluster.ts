import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { ClusterNode } from '../../cluster/ClusterNode.js';
import { isNodeToken } from '../../cluster/nodeAuth.js';
import type { RelayOffer } from '../../cluster/Relay.js';
import type { Config } from '../../config/config.js';
import { AppError } from '../../errors.js';
import type { RoomRegistry } from '../../rooms/RoomRegistry.js';
import { requireApiKey } from '../basicAuth.js';

const srtpParameters = z
  .object({ cryptoSuite: z.string().min(1).max(64), keyBase64: z.string().min(1).max(256) })
  .strict();

const relayOffer = z
  .object({
    room: z.string().min(1).max(128),
    trackId: z.string().min(1).max(64),
    node: z.string().min(1).max(64),
    ip: z.string().min(1).max(64),
    port: z.number().int().min(1).max(65535),
    srtpParameters,
  })
  .strict();

const relayNeed = z.object({ maxSpatialLayer: z.number().int().min(0).max(7) }).strict();

/**
 * Placement for clients (`GET /api/cluster/node`: where to connect), the node list for
 * operators, and the node-to-node relay requests (`/internal/relays`, node tokens only).
 */
export function clusterRoutes(config: Config, rooms: RoomRegistry, cluster: ClusterNode): Router {
  const router = Router();
  const fromNode: RequestHandler = (req, _res, next) => {
    if (!isNodeToken(req.headers.authorization, config.auth.apiKey, config.auth.apiSecret)) {
      throw new AppError('UNAUTHORIZED', 'node token required');
    }
    next();
  };

  router.get('/api/cluster/node', (_req, res) => {
    const self = cluster.registry.nodes.get(cluster.id);
    const best = cluster.registry.leastLoaded();
    res.json({ url: best?.url ?? self?.url ?? cluster.url });
  });

  router.get('/api/cluster/nodes', requireApiKey(config.auth), (_req, res) => {
    res.json({ self: cluster.id, nodes: [...cluster.registry.nodes.values()] });
  });

  router.post('/internal/relays', fromNode, async (req, res) => {
    const parsed = relayOffer.safeParse(req.body);
    if (!parsed.success) throw new AppError('INVALID_PAYLOAD', 'bad relay offer');
    const offer = parsed.data as RelayOffer;
    const room = rooms.rooms.get(offer.room);
    if (!room || room.closed) throw new AppError('NOT_FOUND', 'no such room on this node');
    res.status(201).json(await cluster.relay.serve(room, offer));
  });

  router.patch('/internal/relays/:id', fromNode, (req, res) => {
    const parsed = relayNeed.safeParse(req.body);
    if (!parsed.success) throw new AppError('INVALID_PAYLOAD', 'bad relay need');
    if (!cluster.relay.setNeed(String(req.params.id), parsed.data.maxSpatialLayer)) {
      throw new AppError('NOT_FOUND', 'no such relay');
    }
    res.status(204).end();
  });

  router.delete('/internal/relays/:id', fromNode, (req, res) => {
    cluster.relay.release(String(req.params.id));
    res.status(204).end();
  });

  return router;
}
