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
import { adminApi } from './routes/admin.js';
import { clusterRoutes } from './routes/cluster.js';
import { qualityRoutes } from './routes/quality.js';
import { devTokenRoutes } from './routes/devTokens.js';
import { healthRoutes } from './routes/health.js';
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
  examplesDir,
  sdkBundleDir,
}: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(
    helmet({
      // The examples load the SDK from this origin and use camera, microphone and WebRTC.
      contentSecurityPolicy: {
        directives: { 'script-src': ["'self'"], 'connect-src': ["'self'", 'ws:', 'wss:'] },
      },
    }),
  );
  app.use(express.json({ limit: '16kb' }));
  app.use(healthRoutes(pool, rooms));
  if (metrics) app.use(metricsRoutes(metrics.registry, config.metrics.token));
  app.use(tokenRoutes(config));
  app.use(adminApi({ config, rooms, revocations }));
  if (cluster) app.use(clusterRoutes(config, rooms, cluster));
  if (quality) app.use(qualityRoutes(config, quality));
  if (config.devEndpoints) app.use(devTokenRoutes(config));
  app.use('/sdk', express.static(sdkBundleDir, { fallthrough: true }));
  app.use('/', express.static(examplesDir, { extensions: ['html'] }));
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'NOT_FOUND', message: 'not found' } });
  });
  app.use(errorHandler(log));
  return app;
}

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
