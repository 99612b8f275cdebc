import { Router } from 'express';
import type { WorkerPool } from '../../media/WorkerPool.js';
import type { RoomRegistry } from '../../rooms/RoomRegistry.js';

export function healthRoutes(pool: WorkerPool, rooms: RoomRegistry): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const workers = await pool.health();
    const memory = process.memoryUsage();
    const healthy = workers.length > 0 && workers.every((w) => w.alive);
    // Draining answers 503 so that load balancers send no one new here.
    const status = rooms.draining ? 'draining' : healthy ? 'ok' : 'degraded';
    res.status(status === 'ok' ? 200 : 503).json({
      status,
      uptimeSeconds: Math.round(process.uptime()),
      rooms: rooms.rooms.size,
      memory: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
      },
      workers,
    });
  });
  return router;
}
