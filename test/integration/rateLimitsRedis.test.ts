import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Config } from '../../server/src/config/config.js';
import {
  RATE_LIMITED,
  SignalingRateLimits,
  type RateLimited,
} from '../../server/src/signaling/rateLimits.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// Two "nodes" (two SignalingRateLimits, each with its own ioredis client, as each node process
// has) on one real Redis: the budgets that must hold across a cluster are shared, the
// per-socket one is not, and a Redis that is gone or silent costs no client its connection.

const ROOMY = 1000;
/** The default per-token budget (RATE_LIMIT_TOKEN_CONNECTIONS_PER_MINUTE). */
const TOKEN_BUDGET = 30;

function limits(budgets: Partial<Config['rateLimits']> = {}): Config['rateLimits'] {
  return {
    requestsPerSecondPerSocket: ROOMY,
    requestsPerSecondPerIp: ROOMY,
    connectionsPerMinutePerIp: ROOMY,
    failedConnectionsPerMinutePerIp: ROOMY,
    connectionsPerMinutePerToken: TOKEN_BUDGET,
    ...budgets,
  };
}

/** Names no other test uses: every test has budgets of its own in the shared Redis. */
const unique = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;

const OK = undefined;
type Verdict = RateLimited | undefined;
const times = <T>(n: number, value: T): T[] => Array<T>(n).fill(value);

/** The node's client, as ClusterNode makes it. */
function nodeClient(redis: TestRedis): Redis {
  const client = new Redis(redis.url, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  client.on('error', () => {}); // refused reconnects while Redis is down are expected here
  return client;
}

async function ready(client: Redis): Promise<void> {
  assert.equal(await client.ping(), 'PONG', 'the node reaches Redis');
}

describe('signaling rate limits shared through Redis (two nodes, real Redis)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  let clients: Redis[];

  beforeEach(async function () {
    redis = await startRedis();
    clients = [nodeClient(redis), nodeClient(redis)];
    await Promise.all(clients.map(ready));
  });

  afterEach(async function () {
    for (const client of clients) client.disconnect();
    await redis.stop();
  });

  function nodes(
    budgets: Partial<Config['rateLimits']> = {},
  ): [SignalingRateLimits, SignalingRateLimits] {
    const [a, b] = clients as [Redis, Redis];
    return [
      new SignalingRateLimits(limits(budgets), { redis: a }),
      new SignalingRateLimits(limits(budgets), { redis: b }),
    ];
  }

  it('one token has one connection budget across both nodes: the 31st connection is refused', async function () {
    const [a, b] = nodes();
    const holder = { room: unique('room'), identity: 'viewer' };
    const connectOn = (node: SignalingRateLimits, n: number) =>
      Promise.all(times(n, node).map((limiter) => limiter.chargeConnection(holder, '10.0.0.1')));
    // 15 on each node: each alone is far below 30, together they are exactly the budget.
    assert.deepEqual(await connectOn(a, 15), times(15, OK), 'node A: 15 of 30');
    assert.deepEqual(await connectOn(b, 15), times(15, OK), 'node B: 30 of 30');
    assert.deepEqual(
      await b.chargeConnection(holder, '10.0.0.2'),
      RATE_LIMITED.tokenConnections,
      'the 31st, on B',
    );
    assert.deepEqual(
      await a.chargeConnection(holder, '10.0.0.3'),
      RATE_LIMITED.tokenConnections,
      'and on A',
    );
    const other = { room: holder.room, identity: 'someone-else' };
    assert.equal(await a.chargeConnection(other, '10.0.0.1'), OK, 'another token has its own');
    const key = `livestage:rl:connect-token:${holder.room}/${holder.identity}`;
    // 30, and A's refused one: B refused its 31st from memory (it saw the budget spent), which
    // is what keeps a looping client from costing Redis anything.
    assert.equal(await clients[0]!.get(key), '31', `the count is in Redis, under ${key}`);
  });

  it('the per-address budgets are shared too; the per-socket one stays on its node', async function () {
    const [a, b] = nodes({
      connectionsPerMinutePerIp: 2,
      failedConnectionsPerMinutePerIp: 2,
      requestsPerSecondPerIp: 4,
      requestsPerSecondPerSocket: 2,
    });
    const ip = unique('ip');
    const room = unique('room');
    const connections: Verdict[] = [
      await a.chargeConnection({ room, identity: 'v1' }, ip),
      await b.chargeConnection({ room, identity: 'v2' }, ip),
      await a.chargeConnection({ room, identity: 'v3' }, ip),
    ];
    assert.deepEqual(connections, [OK, OK, RATE_LIMITED.ipConnections], 'connections per address');

    const refused: Verdict[] = [
      await b.chargeRefusedToken(ip),
      await a.chargeRefusedToken(ip),
      await b.chargeRefusedToken(ip),
    ];
    assert.deepEqual(refused, [OK, OK, RATE_LIMITED.failedConnections], 'refused tokens');

    // Requests, one after another (two connections to Redis keep no order between them), all
    // in the one-second window the first opens: socket s on A spends its own 2; the same socket
    // id on B is another socket (another node) with 2 of its own; the address's 4 are then spent
    // across both nodes.
    const requests: Verdict[] = [];
    for (const [node, socket] of [
      [a, 's'],
      [a, 's'],
      [a, 's'],
      [b, 's'],
      [b, 's'],
      [b, 't'],
    ] as const) {
      requests.push(await node.chargeRequest(socket, ip));
    }
    assert.deepEqual(
      requests,
      [OK, OK, RATE_LIMITED.socketRequests, OK, OK, RATE_LIMITED.ipRequests],
      'requests: per socket on its node, per address across nodes',
    );
  });

  it('with Redis stopped, every charge still answers (from memory) and the budget still holds per node', async function () {
    const [a] = nodes({ connectionsPerMinutePerToken: 3 });
    await redis.stop();
    const holder = { room: unique('room'), identity: 'viewer' };
    const verdicts: Verdict[] = [];
    for (let i = 0; i < 4; i++) verdicts.push(await a.chargeConnection(holder, '10.0.0.1'));
    assert.deepEqual(verdicts, [OK, OK, OK, RATE_LIMITED.tokenConnections], 'insurance budget');
    assert.equal(await a.chargeRequest('s', '10.0.0.1'), OK, 'requests answer');
    assert.equal(await a.chargeRefusedToken('10.0.0.1'), OK, 'refused tokens answer');
  });

  it('a Redis that is connected but silent holds no charge up: memory answers until it speaks again', async function () {
    const [a] = nodes();
    const pauseMs = 5000;
    const backoffMs = 5000; // REDIS_SILENCE_BACKOFF_MS
    // CLIENT PAUSE: Redis keeps every connection open and answers no one until it ends.
    const admin = nodeClient(redis);
    clients.push(admin);
    await admin.call('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
    const pausedAt = Date.now();
    const room = unique('room');
    // 10 connections, 20 charges: one wait for Redis (500 ms), then memory without asking it.
    const verdicts: Verdict[] = [];
    for (let i = 0; i < 10; i++) {
      verdicts.push(await a.chargeConnection({ room, identity: `v${i}` }, '10.0.0.1'));
    }
    const waited = Date.now() - pausedAt;
    assert.deepEqual(verdicts, times(10, OK), 'every connection passes');
    assert.ok(
      waited < pauseMs - 1000,
      `answered in ${waited} ms, while Redis was still paused (${pauseMs} ms)`,
    );
    assert.equal(await a.chargeRequest('s', '10.0.0.1'), OK, 'requests answer');
    assert.equal(await a.chargeRefusedToken('10.0.0.1'), OK, 'refused tokens answer');

    // Once Redis answers and the backoff is over, the budgets are counted there again.
    await new Promise((resolve) => setTimeout(resolve, pausedAt + backoffMs + 600 - Date.now()));
    assert.equal(await a.chargeConnection({ room, identity: 'later' }, '10.0.0.1'), OK);
    assert.equal(
      await admin.get(`livestage:rl:connect-token:${room}/later`),
      '1',
      'counted in Redis again',
    );
  });
});
