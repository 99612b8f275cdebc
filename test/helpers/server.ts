import assert from 'node:assert/strict';
import { loadConfig, type Config } from '../../server/src/config/config.js';
import { createLogger } from '../../server/src/logging/logger.js';
import type { Room } from '../../server/src/rooms/Room.js';
import { startServer, type RunningServer, type StartOptions } from '../../server/src/server.js';

export const TEST_KEYS = {
  apiKey: 'test-key',
  apiSecret: 'test-secret-0123456789abcdef0123456789',
};

/** `Authorization` for the admin API with the test key pair. */
export const ADMIN_AUTH = `Basic ${Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64')}`;

/**
 * A real server (real mediasoup worker, real socket.io) on free ports. `env` overrides the
 * defaults below; an empty string unsets one (loadConfig ignores empty values), e.g.
 * `{ DEV_ENDPOINTS: '' }` for the default that real deployments get. `options.now` is the
 * signaling clock for token expiry (rate limits keep real time).
 */
export async function startTestServer(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<RunningServer & { config: Config }> {
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    MEDIA_PORT_BASE: '0',
    MEDIA_WORKERS: '1',
    ROOM_EMPTY_GRACE_MS: '0',
    LIVESTAGE_API_KEY: TEST_KEYS.apiKey,
    LIVESTAGE_API_SECRET: TEST_KEYS.apiSecret,
    DEV_ENDPOINTS: 'true',
    // Every test client comes from 127.0.0.1; per-IP budgets are tested where they matter.
    RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '100000',
    RATE_LIMIT_IP_REQUESTS_PER_SECOND: '100000',
    // Hand-made test producers send no RTP; liveness is tested where it is the subject.
    MEDIA_INACTIVE_AFTER_MS: '600000',
    MEDIA_CLOSE_AFTER_MS: '600000',
    // A dropped (not closed) connection is kept this long for a resume.
    RECONNECT_GRACE_MS: '3000',
    // The periodic viewer count would slip into tests that check exact event sequences; it is
    // tested where it is the subject (presence, e2e fan-out), with a short interval.
    ROOM_VIEWER_COUNT_INTERVAL_MS: '600000',
    // Likewise the hosts' quality reports: tested where they are the subject.
    QUALITY_REPORT_INTERVAL_MS: '0',
    ...env,
  });
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'error', format: 'pretty' });
  const server = await startServer(config, log, options);
  return Object.assign(server, { config });
}

/** Counts what the worker really holds, from mediasoup's own dumps. */
export async function workerCounts(
  server: RunningServer,
): Promise<{ routers: number; transports: number; producers: number; consumers: number }> {
  const totals = { routers: 0, transports: 0, producers: 0, consumers: 0 };
  for (const { worker } of server.pool.workers) {
    const dump = (await worker.dump()) as { routerIds: string[] };
    totals.routers += dump.routerIds.length;
  }
  for (const room of server.rooms.rooms.values()) {
    for (const { router } of room.routers.all) {
      const dump = (await router.dump()) as {
        transportIds: string[];
        mapProducerIdConsumerIds: Record<string, unknown>;
        mapConsumerIdProducerId: Record<string, unknown>;
      };
      totals.transports += dump.transportIds.length;
      totals.producers += Object.keys(dump.mapProducerIdConsumerIds).length;
      totals.consumers += Object.keys(dump.mapConsumerIdProducerId).length;
    }
  }
  return totals;
}

export async function eventually<T>(
  check: () => Promise<T> | T,
  ceilingMs = 10_000,
  message = 'condition',
): Promise<T> {
  const deadline = Date.now() + ceilingMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${message} not reached within ${ceilingMs} ms: ${String(lastError)}`);
}

export type TestServer = Awaited<ReturnType<typeof startTestServer>>;

/** The server's open room `name`; fails the test when there is none. */
export function openRoom(server: RunningServer, name: string): Room {
  const room = server.rooms.rooms.get(name);
  assert.ok(room, `room ${name} is open`);
  return room;
}

/**
 * Mocha hooks for a suite on one real server: started before, closed after; the sockets a test
 * pushes into `sockets` are disconnected after it, and the test must leave no transport behind.
 * `env` overrides the test defaults, e.g. `useTestServer({ STAGE_MAX: '1' })`.
 */
export function useTestServer(env: Record<string, string> = {}): {
  readonly server: TestServer;
  sockets: { disconnect(): void }[];
} {
  const context = {
    server: undefined as unknown as TestServer,
    sockets: [] as { disconnect(): void }[],
  };
  before(async function () {
    context.server = await startTestServer(env);
  });
  afterEach(async function () {
    for (const socket of context.sockets.splice(0)) socket.disconnect();
    await eventually(
      async () => assert.equal((await workerCounts(context.server)).transports, 0),
      5000,
      'cleanup',
    );
  });
  after(async function () {
    await context.server?.close();
  });
  return context;
}
