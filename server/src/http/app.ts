import path from 'node:path';
import express, { type Express } from 'express';
import helmet from 'helmet';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import type { QualityReporter } from '../quality/QualityReporter.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { errorHandler } from './errorHandler.js';
import { clusterRoutes } from './routes/cluster.js';
import { qualityRoutes } from './routes/quality.js';
import { devTokenRoutes } from './routes/devTokens.js';
import { healthRoutes } from './routes/health.js';
import { roomRoutes } from './routes/rooms.js';
import { tokenRoutes } from './routes/tokens.js';

export interface HttpDeps {
  config: Config;
  pool: WorkerPool;
  rooms: RoomRegistry;
  log: Logger;
  /** Set in a cluster: placement, the node list and node-to-node relay requests. */
  cluster?: ClusterNode;
  /** The rooms' latest quality reports (GET /api/rooms/{room}/quality). */
  quality?: QualityReporter;
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
  quality,
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
  app.use(tokenRoutes(config));
  app.use(roomRoutes(config, rooms));
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
