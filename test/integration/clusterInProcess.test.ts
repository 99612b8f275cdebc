import assert from 'node:assert/strict';

import {
  joinRaw,
  produceAudio,
  produceVideo,
  request,
  tokenFor,
  type JoinedClient,
} from '../helpers/client.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

// Several nodes in this process sharing one real Redis: presence, relayed tracks and the stage
// across nodes, with the servers' own state to look at.

describe('cluster (nodes in one process)', function () {
  this.timeout(120_000);
  let redis: TestRedis;
  let nodes: TestServer[] = [];
  const clients: JoinedClient[] = [];

  before(async function () {
    redis = await startRedis();
  });
  after(async function () {
    await redis?.stop();
  });
  afterEach(async function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
    await Promise.all(nodes.map((node) => node.close()));
    nodes = [];
  });

  async function startNodes(
    count: number,
    env: Record<string, string> = {},
  ): Promise<TestServer[]> {
    nodes = await Promise.all(
      Array.from({ length: count }, () =>
        startTestServer({ REDIS_URL: redis.url, CLUSTER_HEARTBEAT_MS: '300', ...env }),
      ),
    );
    // Every node sees every other once a heartbeat has gone round.
    await eventually(
      () =>
        assert.ok(
          nodes.every((node) => node.cluster!.registry.nodes.size === count),
          'every node lists every node',
        ),
      5_000,
      'nodes see each other',
    );
    return nodes;
  }

  async function join(
    node: TestServer,
    room: string,
    identity: string,
    role: 'host' | 'guest' | 'audience',
  ) {
    const client = await joinRaw(node.url, tokenFor(room, identity, role));
    clients.push(client);
    return client;
  }

  it('relays a host on one node to viewers on the others', async function () {
    const [a, b, c] = await startNodes(3);
    const room = 'relay-room';
    const host = await join(a!, room, 'host', 'host');
    const sendId = host.join.sendTransport!.id;
    const video = await produceVideo(host.socket, sendId);
    const audio = await produceAudio(host.socket, sendId);
    assert.ok(video.ok && audio.ok, 'host publishes');
    const viewers = [
      await join(b!, room, 'viewer-b', 'audience'),
      await join(c!, room, 'viewer-c', 'audience'),
    ];
    for (const viewer of viewers) {
      assert.ok(
        viewer.join.participants.some((p) => p.identity === 'host'),
        `${viewer.identity} sees the host in its join reply`,
      );
      await eventually(
        () => assert.equal(viewer.events.of('newConsumer').length, 2),
        10_000,
        `${viewer.identity} gets a consumer for each of the host's tracks`,
      );
      const consumers = viewer.events.of('newConsumer');
      assert.deepEqual(
        consumers.map((c) => c.identity),
        ['host', 'host'],
        'both from the host',
      );
    }
    assert.ok(
      a!.rooms.rooms.get(room)?.participants.get('viewer-b')?.remote,
      'the host node knows the viewer on B as a remote participant',
    );
    // The host leaves: the viewers on other nodes hear it.
    host.socket.disconnect();
    for (const viewer of viewers) {
      await eventually(
        () => assert.ok(viewer.events.of('participantLeft').some((e) => e.identity === 'host')),
        10_000,
        `${viewer.identity} hears the host left`,
      );
    }
  });

  it('keeps the stage single: two hosts on two nodes approving the last seat', async function () {
    const [a, b, c] = await startNodes(3, { STAGE_MAX: '1' });
    const room = 'stage-room';
    const hostA = await join(a!, room, 'host-a', 'host');
    const hostB = await join(b!, room, 'host-b', 'host');
    const fans = [
      await join(c!, room, 'fan-1', 'audience'),
      await join(b!, room, 'fan-2', 'audience'),
    ];
    for (const fan of fans) {
      const ack = await request(fan.socket, 'raiseHand', { message: 'me' });
      assert.ok(ack.ok, `${fan.identity} raises a hand: ${JSON.stringify(ack)}`);
    }
    await eventually(
      () => assert.equal(hostA.events.of('handRaised').length, 2),
      10_000,
      'the host on A hears both hands, raised on B and C',
    );
    const [first, second] = await Promise.all([
      request(hostA.socket, 'approveHand', { identity: 'fan-1' }),
      request(hostB.socket, 'approveHand', { identity: 'fan-2' }),
    ]);
    const outcomes = [first, second].map((ack) =>
      ack.ok ? 'ok' : (ack as { error: { code: string } }).error.code,
    );
    assert.deepEqual(
      outcomes.sort(),
      ['STAGE_FULL', 'ok'],
      'one approval wins, the other is STAGE_FULL',
    );
  });

  it('brings a guest on C on stage and relays its media to A and B', async function () {
    const [a, b, c] = await startNodes(3);
    const room = 'guest-room';
    const host = await join(a!, room, 'host', 'host');
    const viewer = await join(b!, room, 'viewer', 'audience');
    const fan = await join(c!, room, 'fan', 'audience');
    assert.ok((await request(fan.socket, 'raiseHand', { message: 'hi' })).ok, 'fan raises a hand');
    await eventually(
      () => assert.equal(host.events.of('handRaised').length, 1),
      10_000,
      'the host on A hears the hand raised on C',
    );
    const approved = await request(host.socket, 'approveHand', { identity: 'fan' });
    assert.ok(approved.ok, `approved: ${JSON.stringify(approved)}`);
    const role = await eventually(
      () => {
        const [event] = fan.events.of('roleChanged');
        assert.ok(event, 'roleChanged');
        return event;
      },
      10_000,
      'the fan on C is told it is a guest',
    );
    assert.equal(role.role, 'guest');
    const sendId = role.sendTransport!.id;
    assert.ok((await produceVideo(fan.socket, sendId)).ok, 'guest publishes video');
    assert.ok((await produceAudio(fan.socket, sendId)).ok, 'guest publishes audio');
    for (const watcher of [host, viewer]) {
      await eventually(
        () =>
          assert.equal(
            watcher.events.of('newConsumer').filter((e) => e.identity === 'fan').length,
            2,
          ),
        10_000,
        `${watcher.identity} consumes the guest's audio and video`,
      );
      const stage = watcher.events.of('stageChanged').at(-1);
      assert.ok(
        stage?.members.some((m) => m.identity === 'fan' && m.role === 'guest'),
        `${watcher.identity} sees the guest on stage`,
      );
    }
  });
});
