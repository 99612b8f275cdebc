import http from 'node:http';
import type { Express } from 'express';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Config } from './config/config.js';
import { ClusterNode, type NodeLoad } from './cluster/ClusterNode.js';
import { QualityReporter } from './quality/QualityReporter.js';
import { TokenRevocations } from './auth/TokenRevocations.js';
import { createHttpApp, REPO_ROOT } from './http/app.js';
import { EgressService } from './egress/EgressService.js';
import { egressWebhooks } from './webhooks/egressWebhooks.js';
import { IngestSessions } from './ingest/IngestSession.js';
import type { Logger } from './logging/logger.js';
import { WorkerPool } from './media/WorkerPool.js';
import { Metrics } from './metrics/metrics.js';
import { RoomRegistry } from './rooms/RoomRegistry.js';
import { createSignalingServer, type SignalingServer } from './signaling/server.js';
import { Webhooks } from './webhooks/webhooks.js';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly pool: WorkerPool;
  readonly rooms: RoomRegistry;
  readonly io: SignalingServer;
  /** The express app (its route list is checked against the OpenAPI document). */
  readonly app: Express;
  /** Signed webhooks to WEBHOOK_URLS (none configured: sends nothing); `dropped` counts losses. */
  readonly webhooks: Webhooks;
  /** Set when REDIS_URL is: this node's place in the cluster. */
  readonly cluster: ClusterNode | undefined;
  /** Each room's quality every QUALITY_REPORT_INTERVAL_MS. */
  readonly quality: QualityReporter;
  /** WHIP publications and WHEP playbacks on this node. */
  readonly ingest: IngestSessions;
  /** HLS and recording egresses and snapshots on this node. */
  readonly egress: EgressService;
  /**
   * Graceful shutdown: no new rooms or joins (health says draining), clients are told, and it
   * waits up to timeoutMs for the participants to leave, then closes everything.
   */
  drain(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * The signaling clock (ms since the epoch): token expiry on connect is read from it. Tests hold
   * it still or move it; default Date.now. Rate limits keep real time (rate-limiter-flexible).
   */
  now?: () => number;
}

/** Builds and starts everything from a Config; tests use it with PORT=0 and no globals. */
export async function startServer(
  config: Config,
  log: Logger,
  options: StartOptions = {},
): Promise<RunningServer> {
  // Here rather than in index.ts, so that every way of starting a server (CLI, benches, embedders)
  // says so when the token back door is open.
  if (config.devEndpoints) {
    log.warn(
      'GET /api/dev/token is on: anyone who can reach this server can mint a token of any role ' +
        '(DEV_ENDPOINTS=false turns it off; it is off by default once LIVESTAGE_API_KEY is set)',
    );
  }
  const pool = await WorkerPool.start(config.media, log);
  // The registry reports the load the cluster registration carries; it is made right after.
  const load = { of: (): NodeLoad => ({ participants: 0, rooms: 0, draining: false }) };
  const cluster = ClusterNode.create(config, pool, () => load.of(), log);
  const rooms = new RoomRegistry(pool, config, log, cluster);
  const webhooks = Webhooks.start(config, rooms, log);
  const ingest = new IngestSessions();
  const metrics = new Metrics({ pool, rooms, webhooks, ingest });
  const quality = new QualityReporter(rooms, config.quality.reportIntervalMs, log);
  quality.onReport((report) =>
    webhooks.send('quality_report', { room: { name: report.room }, qualityReport: report }),
  );
  load.of = () => ({
    participants: rooms.localParticipants,
    rooms: rooms.rooms.size,
    draining: rooms.draining,
  });
  const revocations = new TokenRevocations();
  const egress = new EgressService({
    settings: config.egress,
    rooms,
    log,
    observers: [metrics.egress, egressWebhooks(webhooks)],
  });
  const app = createHttpApp({
    ingest,
    egress,
    config,
    revocations,
    pool,
    rooms,
    log,
    cluster,
    quality,
    metrics,
    examplesDir: path.join(REPO_ROOT, 'examples'),
    sdkBundleDir: path.join(REPO_ROOT, 'client-sdk', 'dist', 'browser'),
  });
  const httpServer = http.createServer(app);
  const io = createSignalingServer({
    httpServer,
    config,
    rooms,
    cluster,
    log,
    revocations,
    metrics: metrics.signaling,
    now: options.now,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.http.port, config.http.host, () => resolve());
    });
  } catch (error) {
    pool.close();
    await cluster?.stop();
    throw error;
  }
  const { port } = httpServer.address() as AddressInfo;
  quality.start();
  const shownHost =
    config.http.host === '0.0.0.0' || config.http.host === '::' ? 'localhost' : config.http.host;
  if (cluster) {
    try {
      await cluster.start(config.cluster?.nodeUrl ?? `http://${shownHost}:${port}`);
    } catch (error) {
      httpServer.close();
      pool.close();
      await cluster.stop();
      throw error;
    }
  }
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      ingest.closeAll('the server is shutting down');
      // Before the rooms and workers go: recordings are finalised, egress_ended is sent.
      await egress.close();
      rooms.closeAll();
      metrics.close();
      quality.stop();
      await io.close().catch(() => undefined);
      pool.close();
      await webhooks.close();
      await cluster?.stop();
    })();
    return closing;
  };
  return {
    url: `http://${shownHost}:${port}`,
    port,
    pool,
    rooms,
    io,
    app,
    cluster,
    webhooks,
    quality,
    ingest,
    egress,
    async drain(timeoutMs) {
      rooms.startDraining();
      // The cluster hears it first, so that nobody is sent here any more.
      await cluster?.registry.heartbeat();
      io.emit('serverDraining', { deadlineMs: timeoutMs, moveTo: cluster?.betterNode() });
      const deadline = Date.now() + timeoutMs;
      const present = () => rooms.localParticipants;
      log.info('draining', { participants: present(), timeoutMs });
      while (present() > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      log.info('drained', { participantsLeft: present() });
      await close();
    },
    close,
  };
}
