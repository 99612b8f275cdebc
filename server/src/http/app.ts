import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import type { QualityReporter } from '../quality/QualityReporter.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import type { TokenRevocations } from '../auth/TokenRevocations.js';
import { errorHandler } from './errorHandler.js';
import type { EgressService } from '../egress/EgressService.js';
import { adminApi } from './routes/admin.js';
import { clusterRoutes } from './routes/cluster.js';
import { hlsRoutes } from './routes/egress.js';
import { qualityRoutes } from './routes/quality.js';
import { devTokenRoutes } from './routes/devTokens.js';
import { healthRoutes } from './routes/health.js';
import { ingestRoutes } from './routes/ingest.js';
import type { IngestSessions } from '../ingest/IngestSession.js';
import { metricsRoutes } from './routes/metrics.js';
import { tokenRoutes } from './routes/tokens.js';

export interface HttpDeps {
  config: Config;
  pool: WorkerPool;
  rooms: RoomRegistry;
  log: Logger;
  /** Set in a cluster: placement, the node list and node-to-node relay requests. */
  cluster?: ClusterNode;
  /** Tokens refused at connect (admin API: removed participants, revoked token ids). */
  revocations?: TokenRevocations;
  /** The rooms' latest quality reports (GET /api/rooms/{room}/quality). */
  quality?: QualityReporter;
  /** GET /metrics (Prometheus), behind METRICS_TOKEN when it is set. */
  metrics?: Metrics;
  /** WHIP and WHEP sessions (POST /whip/{room}, /whep/{room}). */
  ingest: IngestSessions;
  /** HLS and recording egresses and snapshots (their admin routes; /hls/{room}/ is always served). */
  egress?: EgressService;
  /** Folders served as they are: the examples and the SDK's browser bundle. */
  examplesDir: string;
  sdkBundleDir: string;
}

export function createHttpApp({
  config,
  pool,
  rooms,
  log,
  cluster,
  revocations,
  quality,
  metrics,
  ingest,
  egress,
  examplesDir,
  sdkBundleDir,
}: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    helmet({
      // The examples load the SDK from this origin and use camera, microphone and WebRTC.
      contentSecurityPolicy: {
        // The HLS page: hls.js feeds the <video> from a MediaSource (a blob: URL) and transmuxes
        // in a worker it makes from a blob: URL.
        directives: {
          'script-src': ["'self'"],
          'connect-src': ["'self'", 'ws:', 'wss:'],
          'media-src': ["'self'", 'blob:'],
          'worker-src': ["'self'", 'blob:'],
        },
      },
    }),
  );
  app.use(express.json({ limit: '16kb' }));
  app.use(healthRoutes(pool, rooms));
  if (metrics) app.use(metricsRoutes(metrics.registry, config.metrics.token));
  app.use(tokenRoutes(config));
  app.use(adminApi({ config, rooms, revocations, egress }));
  app.use(hlsRoutes(config.egress.hlsDir));
  if (cluster) app.use(clusterRoutes(config, rooms, cluster));
  if (quality) app.use(qualityRoutes(config, quality));
  if (config.devEndpoints) app.use(devTokenRoutes(config));
  app.use(ingestRoutes({ config, rooms, sessions: ingest, log, revocations }));
  app.use('/sdk', express.static(sdkBundleDir, { fallthrough: true }));
  // The HLS example page's player (/vendor/hls/hls.min.js), as static files like the SDK.
  const hlsPlayer = resolveOptional('hls.js/dist/hls.min.js');
  if (hlsPlayer) app.use('/vendor/hls', express.static(path.dirname(hlsPlayer)));
  app.use('/', express.static(examplesDir, { extensions: ['html'] }));
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'not found' } });
  });
  app.use(errorHandler(log));
  return app;
}

function resolveOptional(specifier: string): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(specifier);
  } catch {
    return undefined;
  }
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
