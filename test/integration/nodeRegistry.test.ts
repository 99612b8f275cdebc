import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { NodeRegistry, type NodeStatus } from '../../server/src/cluster/NodeRegistry.js';
import { createLogger } from '../../server/src/logging/logger.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/server.js';

// Cluster membership on a real Redis: nodes see each other, a node that stops refreshing is
// reported lost once, and losing Redis's keys (a flush, a restart) makes nobody lost.

const HEARTBEAT_MS = 100;
const log = createLogger({ level: 'error', format: 'pretty' });

function status(id: string): () => NodeStatus {
  return () => ({
    id,
    url: `http://${id}`,
    mediaAddress: '127.0.0.1',
    workers: 1,
    consumers: 0,
    consumerBudget: 600,
    participants: 0,
    participantBudget: 100,
    rooms: 0,
    cpu: 0,
    draining: false,
    updatedAt: Date.now(),
  });
}

describe('NodeRegistry (real Redis)', function () {
  this.timeout(30_000);
  let redis: TestRedis;
  const clients: Redis[] = [];
  const registries: NodeRegistry[] = [];

  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    await redis?.stop();
  });
  afterEach(async function () {
    await Promise.all(registries.splice(0).map((registry) => registry.stop()));
    for (const client of clients.splice(0)) client.disconnect();
    await flushAll();
  });

  async function flushAll(): Promise<void> {
    const client = new Redis(redis.url);
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  }

  async function node(id: string): Promise<NodeRegistry> {
    const client = new Redis(redis.url);
    client.on('error', () => undefined); // refused while Redis restarts: the registry copes
    clients.push(client);
    const registry = new NodeRegistry(client, status(id), HEARTBEAT_MS, log);
    registries.push(registry);
    await registry.start();
    return registry;
  }

  it('lists every live node and reports a silent one lost, once', async function () {
    const a = await node('a');
    const b = await node('b');
    await eventually(
      () => assert.deepEqual([...a.nodes.keys()].sort(), ['a', 'b']),
      2_000,
      'a sees b',
    );
    const lost: string[] = [];
    a.on('nodeLost', (id) => lost.push(id));
    await b.stop();
    registries.splice(registries.indexOf(b), 1);
    await eventually(() => assert.deepEqual(lost, ['b']), 3_000, 'b reported lost');
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 5));
    assert.deepEqual(lost, ['b'], 'only once');
    assert.deepEqual([...a.nodes.keys()], ['a']);
  });

  it('reports nobody lost when Redis loses every key', async function () {
    const a = await node('a');
    await node('b');
    await eventually(() => assert.equal(a.nodes.size, 2), 2_000, 'a sees b');
    const lost: string[] = [];
    a.on('nodeLost', (id) => lost.push(id));
    await flushAll();
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 8));
    assert.deepEqual(lost, [], 'nobody lost');
    assert.equal(a.nodes.size, 2, 'b registered again');
  });

  it('reports nobody lost across a Redis restart', async function () {
    const a = await node('a');
    await node('b');
    await eventually(() => assert.equal(a.nodes.size, 2), 2_000, 'a sees b');
    const lost: string[] = [];
    a.on('nodeLost', (id) => lost.push(id));
    await redis.restart();
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 10));
    assert.deepEqual(lost, [], 'nobody lost');
    assert.equal(a.nodes.size, 2, 'both still listed');
  });
});
