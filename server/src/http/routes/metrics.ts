import { createHash, timingSafeEqual } from 'node:crypto';
import { Router } from 'express';
import type { Registry } from 'prom-client';

/**
 * GET /metrics in Prometheus text format. With a token, only `Authorization: Bearer <token>` may
 * read it (401 otherwise); without one it is open, for a scraper on a private network.
 */
export function metricsRoutes(registry: Registry, token: string | undefined): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.set('WWW-Authenticate', 'Bearer realm="livestage-metrics"');
      res.status(401).json({ error: { code: 'UNAUTHORIZED', message: 'metrics token required' } });
      return;
    }
    const body = await registry.metrics();
    res.set('Content-Type', registry.contentType).set('Cache-Control', 'no-store').send(body);
  });
  return router;
}

/** Digests first, so the comparison takes the same time whatever was sent. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
  if (given === undefined) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}
