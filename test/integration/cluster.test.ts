import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import {
  connectRaw,
  joinRaw,
  nextEvent,
  produceAudio,
  produceVideo,
  request,
  tokenFor,
  vp8RtpParameters,
  type JoinedClient,
} from '../helpers/client.js';
import { startCluster, type TestCluster, type TestNode } from '../helpers/cluster.js';
import {
  publishTestMedia,
  watchMedia,
  type TestPublisher,
  type TestViewer,
} from '../helpers/media.js';
import { TEST_KEYS, eventually } from '../helpers/server.js';

// Three node processes and one Redis. Signaling and stage across nodes, and the faults a
// cluster lives with: a node SIGKILLed (a viewer's, the publisher's) and Redis restarted.

const CEILING_MS = 15_000;

describe('cluster of three node processes', function () {
  this.timeout(180_000);
  let cluster: TestCluster;
  const clients: JoinedClient[] = [];
  const media: (TestPublisher | TestViewer)[] = [];

  beforeEach(async function () {
    cluster = await startCluster(3, { env: { STAGE_MAX: '1' } });
  });
  afterEach(async function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
    await Promise.all(media.splice(0).map((peer) => peer.close().catch(() => undefined)));
    await cluster?.stop();
  });

  function nodes(): [TestNode, TestNode, TestNode] {
    return cluster.nodes as [TestNode, TestNode, TestNode];
  }

  async function join(node: TestNode, room: string, identity: string, role: 'host' | 'audience') {
    const client = await joinRaw(node.url, tokenFor(room, identity, role));
    clients.push(client);
    return client;
  }

  async function publish(client: JoinedClient): Promise<string[]> {
    const transportId = client.join.sendTransport!.id;
    const acks = [
      await produceVideo(client.socket, transportId),
      await produceAudio(client.socket, transportId),
    ];
    return acks.map((ack) => {
      assert.ok(ack.ok, `produce: ${JSON.stringify(ack)}`);
      return (ack.data as { trackId: string }).trackId;
    });
  }

  async function publishMedia(
    node: TestNode,
    room: string,
    identity: string,
  ): Promise<TestPublisher> {
    const publisher = await publishTestMedia({ url: node.url, room, identity, role: 'host' });
    media.push(publisher);
    return publisher;
  }

  async function watch(node: TestNode, room: string, identity: string): Promise<TestViewer> {
    const viewer = await watchMedia({ url: node.url, room, identity });
    media.push(viewer);
    return viewer;
  }

  /** Waits until `viewer` has received RTP of every one of `trackIds` (audio and video). */
  async function receives(viewer: TestViewer, trackIds: string[], what: string): Promise<void> {
    await eventually(
      () => {
        for (const trackId of trackIds) {
          const { audio, video } = viewer.packets(trackId);
          assert.ok(audio + video > 10, `RTP of ${trackId}: ${audio + video} packets`);
        }
      },
      CEILING_MS,
      what,
    );
  }

  /** Waits until `viewer` has a consumer for each of `trackIds` (relayed when on another node). */
  async function consumes(viewer: JoinedClient, trackIds: string[], what: string): Promise<void> {
    await eventually(
      () => {
        const consumed = new Set(viewer.events.of('newConsumer').map((c) => c.trackId));
        for (const trackId of trackIds) assert.ok(consumed.has(trackId), `consumer for ${trackId}`);
      },
      CEILING_MS,
      what,
    );
  }

  async function clusterNodes(node: TestNode): Promise<number> {
    const auth = Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64');
    const response = await fetch(`${node.url}/api/cluster/nodes`, {
      headers: { authorization: `Basic ${auth}` },
    });
    assert.equal(response.status, 200);
    return ((await response.json()) as { nodes: unknown[] }).nodes.length;
  }

  it("viewers on B and C receive the host's audio and video from A through the relay", async function () {
    const [a, b, c] = nodes();
    const room = 'relay';
    const host = await publishMedia(a, room, 'host');
    const viewers = [await watch(b, room, 'viewer-b'), await watch(c, room, 'viewer-c')];
    for (const viewer of viewers) {
      await receives(viewer, host.trackIds, `${viewer.identity} receives the host's RTP`);
      const { audio, video } = viewer.packets();
      assert.ok(audio > 0 && video > 0, `audio ${audio} and video ${video} packets`);
    }
  });

  it('a guest approved while connected to C is heard and seen on A and B', async function () {
    const [a, b, c] = nodes();
    const room = 'guest';
    const host = await join(a, room, 'host', 'host');
    const watchers = [await watch(a, room, 'viewer-a'), await watch(b, room, 'viewer-b')];
    const raised = nextEvent(host.socket, 'handRaised', () => true, CEILING_MS);
    const guestReady = publishTestMedia({
      url: c.url,
      room,
      identity: 'guest',
      role: 'guest',
      stageBy: 'raisedHand',
    });
    assert.equal((await raised).identity, 'guest', 'the host on A hears the hand raised on C');
    const approved = await request(host.socket, 'approveHand', { identity: 'guest' });
    assert.ok(approved.ok, `approved: ${JSON.stringify(approved)}`);
    const guest = await guestReady;
    media.push(guest);
    for (const watcher of watchers) {
      await receives(watcher, guest.trackIds, `${watcher.identity} hears and sees the guest`);
    }
    await consumes(host, guest.trackIds, 'the host on A consumes the guest');
  });

  it("dynacast across nodes: a small viewer on B lowers the host's layers on A, a large one raises them", async function () {
    const [a, b] = nodes();
    const room = 'dynacast';
    const host = await join(a, room, 'host', 'host');
    const simulcast = {
      ...vp8RtpParameters(),
      encodings: [0, 1, 2].map((i) => ({ ssrc: 9000 + i, scaleResolutionDownBy: 4 / 2 ** i })),
    };
    const ack = await produceVideo(host.socket, host.join.sendTransport!.id, simulcast);
    assert.ok(ack.ok, JSON.stringify(ack));
    const viewer = await join(b, room, 'viewer', 'audience');
    const [consumer] = await eventually(
      () => {
        const consumers = viewer.events.of('newConsumer');
        assert.equal(consumers.length, 1, 'one consumer');
        return consumers;
      },
      CEILING_MS,
      'the viewer on B consumes the relayed track',
    );
    const told = async (height: number, layer: number, what: string) => {
      const preference = {
        consumerId: consumer!.consumerId,
        viewport: { width: height * 2, height },
      };
      assert.ok((await request(viewer.socket, 'setConsumerPreferences', preference)).ok, what);
      await eventually(
        () => assert.equal(host.events.of('publisherLayers').at(-1)?.maxSpatialLayer, layer, what),
        CEILING_MS,
        what,
      );
    };
    await told(180, 0, 'a small viewer on B: the host on A encodes layer 0 only');
    await told(720, 2, 'a large viewer on B: every layer again');
  });

  it('a hand raised on B reaches the host on A; two hosts on different nodes race for the last seat', async function () {
    const [a, b, c] = nodes();
    const room = 'stage-race';
    const hostA = await join(a, room, 'host-a', 'host');
    const hostC = await join(c, room, 'host-c', 'host');
    const fans = [
      await join(b, room, 'fan-1', 'audience'),
      await join(b, room, 'fan-2', 'audience'),
    ];
    for (const fan of fans) {
      assert.ok((await request(fan.socket, 'raiseHand', { message: 'me' })).ok, 'hand raised');
    }
    await eventually(
      () =>
        assert.deepEqual(
          hostA.events.of('handRaised').map((h) => h.identity),
          ['fan-1', 'fan-2'],
        ),
      CEILING_MS,
      'the host on A hears both hands raised on B, in order',
    );
    const acks = await Promise.all([
      request(hostA.socket, 'approveHand', { identity: 'fan-1' }),
      request(hostC.socket, 'approveHand', { identity: 'fan-2' }),
    ]);
    const outcomes = acks.map((ack) =>
      ack.ok ? 'ok' : (ack as { error: { code: string } }).error.code,
    );
    assert.deepEqual([...outcomes].sort(), ['STAGE_FULL', 'ok'], 'one wins, one gets STAGE_FULL');
    const winner = outcomes[0] === 'ok' ? fans[0]! : fans[1]!;
    const loser = winner === fans[0] ? fans[1]! : fans[0]!;
    await eventually(
      () => assert.equal(winner.events.of('roleChanged').at(-1)?.role, 'guest'),
      CEILING_MS,
      'the winner is told it is a guest',
    );
    assert.equal(loser.events.of('roleChanged').length, 0, 'the loser is not');
  });

  it('a viewer whose node is SIGKILLed comes back through another node', async function () {
    const [a, b, c] = nodes();
    const room = 'viewer-node-dies';
    const host = await publishMedia(a, room, 'host');
    const viewer = await watch(b, room, 'viewer');
    await receives(viewer, host.trackIds, 'the viewer on B receives the host');
    await b.kill('SIGKILL');
    // What the SDK does when its node dies: connect to the next node of its list and join.
    await viewer.close();
    const again = await watch(c, room, 'viewer');
    await receives(again, host.trackIds, 'the viewer, back through C, receives the host again');
  });

  it("the publisher's node SIGKILLed: the host republishes through another node and viewers get it again", async function () {
    const [a, b, c] = nodes();
    const room = 'publisher-node-dies';
    const first = await publishMedia(a, room, 'host');
    const viewers = [await watch(b, room, 'viewer-b'), await watch(c, room, 'viewer-c')];
    for (const viewer of viewers) {
      await receives(viewer, first.trackIds, `${viewer.identity} receives the host`);
    }
    await a.kill('SIGKILL');
    await first.close();
    // What the SDK does: connect to the next node, join, publish again.
    const second = await publishMedia(b, room, 'host');
    for (const viewer of viewers) {
      await receives(viewer, second.trackIds, `${viewer.identity} receives the republished host`);
      await eventually(
        () =>
          assert.deepEqual(
            viewer.trackIds().filter((id) => first.trackIds.includes(id)),
            [],
            'no consumer of the dead tracks left',
          ),
        CEILING_MS,
        `${viewer.identity} lets go of the tracks that died with A`,
      );
    }
    await eventually(
      async () => assert.equal(await clusterNodes(b), 2, 'two nodes listed'),
      CEILING_MS,
      'the dead node leaves the cluster',
    );
  });

  it('Redis restarted: nodes register again, the room lives on, clients see nothing', async function () {
    const [a, b, c] = nodes();
    const room = 'redis-restart';
    const host = await join(a, room, 'host', 'host');
    const tracks = await publish(host);
    const viewer = await join(b, room, 'viewer', 'audience');
    await consumes(viewer, tracks, 'the viewer on B consumes the host');
    const before = [host, viewer].map((client) => client.events.events.length);
    await cluster.redis.restart();
    await eventually(
      async () => {
        for (const node of [a, b, c])
          assert.equal(await clusterNodes(node), 3, `${node.name} lists 3`);
        const redis = new Redis(cluster.redis.url);
        try {
          assert.equal((await redis.smembers('livestage:nodes')).length, 3, 'registered again');
        } finally {
          redis.disconnect();
        }
      },
      CEILING_MS,
      'every node is registered again',
    );
    // Longer than a node's expiry: nobody may be declared dead meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    assert.deepEqual(
      [host, viewer].map((client) =>
        client.events.events.slice(before[[host, viewer].indexOf(client)]).map((e) => e.event),
      ),
      [[], []],
      'the clients saw nothing',
    );
    assert.ok(host.socket.connected && viewer.socket.connected, 'both still connected');
    const late = await join(c, room, 'late', 'audience');
    assert.ok(
      late.join.participants.some((p) => p.identity === 'host'),
      'the room is still there',
    );
    await consumes(late, tracks, 'a viewer joining on C after the restart consumes the host');
  });

  it('a draining node sends its clients to another node, and nobody sees them leave or join', async function () {
    const [a, b] = nodes();
    const room = 'drain';
    const host = await join(a, room, 'host', 'host');
    const tracks = await publish(host);
    const viewer = await join(b, room, 'viewer', 'audience');
    await consumes(viewer, tracks, 'the viewer on B consumes the host');
    const draining = nextEvent(viewer.socket, 'serverDraining', () => true, CEILING_MS);
    void b.kill('SIGTERM');
    const { moveTo } = await draining;
    assert.ok(moveTo && moveTo !== b.url, `told to move to another node (${moveTo})`);
    // What the SDK does: join there first, then let go of the draining node.
    const moved = await join(
      cluster.nodes.find((node) => node.url === moveTo)!,
      room,
      'viewer',
      'audience',
    );
    await consumes(moved, tracks, 'the moved viewer consumes the host');
    viewer.socket.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const presence = host.events.events.filter((e) => /^participant(Joined|Left)$/.test(e.event));
    assert.deepEqual(
      presence.map((e) => e.event),
      ['participantJoined'],
      'the host saw the viewer join once, and never leave',
    );
  });

  it('a node over its participant budget refuses with UNAVAILABLE and names a better node', async function () {
    await cluster.stop();
    cluster = await startCluster(2, {
      nodeEnv: (i): Record<string, string> => (i === 0 ? { NODE_MAX_PARTICIPANTS: '1' } : {}),
    });
    const [a, b] = cluster.nodes as [TestNode, TestNode];
    await join(a, 'budget', 'first', 'audience');
    await eventually(
      async () => {
        const refused = await connectRaw(a.url, tokenFor('budget', 'second', 'audience')).then(
          ({ socket }) => {
            socket.disconnect();
            return undefined;
          },
          (error: Error & { data?: { code: string; node?: string } }) => error.data,
        );
        assert.equal(refused?.code, 'UNAVAILABLE', 'refused');
        assert.equal(refused?.node, b.url, 'names the other node');
      },
      CEILING_MS,
      'a full node names another (once the heartbeat has told it of B)',
    );
    const elsewhere = await join(b, 'budget', 'second', 'audience');
    assert.ok(
      elsewhere.join.participants.some((p) => p.identity === 'first'),
      'the room is one room across the two nodes',
    );
  });
});
