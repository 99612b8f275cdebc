import assert from 'node:assert/strict';
import type { ConsumerInfo, PublisherLayers } from '@livestage/protocol';
import type { Room } from '../../server/src/rooms/Room.js';
import {
  joinRaw,
  produceAudio,
  produceVideo,
  request,
  tokenFor,
  vp8RtpParameters,
  type JoinedClient,
  type TestSocket,
} from '../helpers/client.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

// One room over every worker: viewers placed by load on routers of their own worker, tracks
// piped from the origin to where they are watched, and a dead worker costing only its own share.

type Peer = JoinedClient;

describe('one room across workers (fan-out)', function () {
  this.timeout(120_000);
  let server: TestServer | undefined;
  const sockets: TestSocket[] = [];

  afterEach(async function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await server?.close();
    server = undefined;
  });

  async function start(env: Record<string, string> = {}): Promise<TestServer> {
    server = await startTestServer({
      MEDIA_WORKERS: '2',
      // Each viewer of a host with two tracks reserves two consumers: two viewers per worker.
      MEDIA_WORKER_MAX_CONSUMERS: '4',
      ...env,
    });
    return server;
  }

  async function peer(room: string, identity: string, role: 'host' | 'audience'): Promise<Peer> {
    const joined = await joinRaw(server!.url, tokenFor(room, identity, role));
    sockets.push(joined.socket);
    return joined;
  }

  async function hostWithTracks(room: string): Promise<{ host: Peer; trackIds: string[] }> {
    const host = await peer(room, 'host', 'host');
    const send = host.join.sendTransport!.id;
    const trackIds: string[] = [];
    for (const ack of [
      await produceVideo(host.socket, send),
      await produceAudio(host.socket, send),
    ]) {
      assert.ok(ack.ok, JSON.stringify(ack));
      trackIds.push((ack.data as { trackId: string }).trackId);
    }
    return { host, trackIds };
  }

  const consumersOf = (p: Peer): ConsumerInfo[] => p.events.of('newConsumer');

  /** Waits until `p` has a consumer of every track in `trackIds`. */
  async function receives(p: Peer, trackIds: string[], what = p.identity): Promise<void> {
    await eventually(
      () => {
        const got = new Set(consumersOf(p).map((c) => c.trackId));
        for (const id of trackIds) assert.ok(got.has(id), `${what} consumes ${id}`);
      },
      15_000,
      `${what} receives`,
    );
  }

  function roomOf(name: string): Room {
    const room = server!.rooms.rooms.get(name);
    assert.ok(room, 'room exists');
    return room;
  }

  /** Joins viewers until at least `perWorker` are on each of the two workers. */
  async function audienceOnBothWorkers(roomName: string, count: number): Promise<Peer[]> {
    const viewers: Peer[] = [];
    for (let i = 0; i < count; i += 1)
      viewers.push(await peer(roomName, `viewer-${i}`, 'audience'));
    const room = roomOf(roomName);
    const workers = new Set(viewers.map((v) => room.workerIndexOf(v.identity)));
    assert.deepEqual([...workers].sort(), [0, 1], 'viewers on both workers');
    return viewers;
  }

  async function consumersOnWorker(room: Room, index: number): Promise<number> {
    const place = room.routers.all.find((r) => r.media.index === index);
    if (!place) return 0;
    const dump = (await place.router.dump()) as { mapConsumerIdProducerId: Record<string, string> };
    return Object.keys(dump.mapConsumerIdProducerId).length;
  }

  it('places viewers on both workers by load; each gets the host, piped only where watched', async function () {
    await start();
    const { host, trackIds } = await hostWithTracks('spread');
    const viewers = await audienceOnBothWorkers('spread', 4);
    for (const viewer of viewers) await receives(viewer, trackIds);
    const room = roomOf('spread');
    const origin = room.originWorkerIndex;
    const edge = 1 - origin;
    // The host publishes and receives on the origin; viewers split two and two.
    assert.equal(room.workerIndexOf(host.identity), origin);
    const onEdge = viewers.filter((v) => room.workerIndexOf(v.identity) === edge);
    assert.equal(onEdge.length, 2, 'two viewers on the edge worker');
    assert.deepEqual(
      [...(room.routers.pipedTracks().get(edge) ?? [])].sort(),
      [...trackIds].sort(),
      'both tracks piped into the edge',
    );
    // Two viewers × two tracks on the edge; on the origin, two viewers plus the two pipe consumers.
    assert.equal(await consumersOnWorker(room, edge), 4);
    assert.equal(await consumersOnWorker(room, origin), 6);
    for (const w of server!.pool.workers) assert.ok(w.consumers <= 6, `worker ${w.index} load`);

    // The edge's viewers leave: the pipes close once nobody there needs them.
    for (const viewer of onEdge) viewer.socket.disconnect();
    await eventually(
      () => assert.deepEqual(room.routers.pipedTracks().get(edge) ?? [], [], 'unpiped'),
      15_000,
      'unpiped after the edge emptied',
    );
    assert.equal(await consumersOnWorker(room, origin), 4, 'pipe consumers gone from the origin');
  });

  it('a guest approved while on a non-origin worker reaches viewers on both workers', async function () {
    await start();
    const { host, trackIds } = await hostWithTracks('guest');
    const viewers = await audienceOnBothWorkers('guest', 4);
    const room = roomOf('guest');
    const edge = 1 - room.originWorkerIndex;
    const guest = viewers.find((v) => room.workerIndexOf(v.identity) === edge)!;
    await receives(guest, trackIds, 'guest before the stage');

    assert.ok((await request(guest.socket, 'raiseHand', {})).ok);
    const roleChanged = new Promise<{ sendTransport: { id: string } | null }>((resolve) =>
      guest.socket.once('roleChanged', resolve),
    );
    assert.ok((await request(host.socket, 'approveHand', { identity: guest.identity })).ok);
    const { sendTransport } = await roleChanged;
    assert.ok(sendTransport, 'a send transport for the guest');
    // Sends to the origin, so its media reaches every router of the room; keeps receiving on the edge.
    const participant = room.participants.get(guest.identity)!;
    assert.equal(participant.sendTransport?.appData.routerId, room.router.id);
    assert.equal(room.workerIndexOf(guest.identity), edge);

    const ack = await produceVideo(guest.socket, sendTransport.id, vp8RtpParameters(424242));
    assert.ok(ack.ok, JSON.stringify(ack));
    const guestTrack = (ack.data as { trackId: string }).trackId;
    for (const viewer of viewers.filter((v) => v !== guest)) {
      await receives(
        viewer,
        [guestTrack],
        `${viewer.identity} (worker ${room.workerIndexOf(viewer.identity)})`,
      );
    }
    await receives(host, [guestTrack], 'host');
  });

  it('killing the non-origin worker moves only its viewers, who get the host again', async function () {
    await start();
    const { host, trackIds } = await hostWithTracks('edge-dies');
    const viewers = await audienceOnBothWorkers('edge-dies', 4);
    for (const viewer of viewers) await receives(viewer, trackIds);
    const room = roomOf('edge-dies');
    const origin = room.originWorkerIndex;
    const edge = 1 - origin;
    const [onEdge, onOrigin] = [
      viewers.filter((v) => room.workerIndexOf(v.identity) === edge),
      viewers.filter((v) => room.workerIndexOf(v.identity) === origin),
    ];
    const consumedBefore = new Map(viewers.map((v) => [v, consumersOf(v).length]));
    const edgeWorker = server!.pool.workers.find((w) => w.index === edge)!;
    process.kill(edgeWorker.worker.pid, 'SIGKILL');

    for (const viewer of onEdge) {
      await eventually(
        () => assert.equal(viewer.events.of('mediaReset').length, 1, `${viewer.identity} reset`),
        15_000,
        'edge viewers reset',
      );
      const reset = viewer.events.of('mediaReset')[0]!;
      assert.ok(reset.recvTransport, 'a new receiving transport');
      await eventually(
        () => {
          const again = consumersOf(viewer).slice(consumedBefore.get(viewer));
          assert.deepEqual(
            again.map((c) => c.trackId).sort(),
            [...trackIds].sort(),
            'consumed again',
          );
        },
        15_000,
        `${viewer.identity} receives the host again`,
      );
      assert.notEqual(room.workerIndexOf(viewer.identity), undefined, 'placed on a live worker');
    }
    // Nobody else noticed: no reset, the same consumers, the same origin.
    for (const other of [host, ...onOrigin]) {
      assert.equal(other.events.of('mediaReset').length, 0, `${other.identity} untouched`);
    }
    for (const viewer of onOrigin)
      assert.equal(consumersOf(viewer).length, consumedBefore.get(viewer));
    assert.equal(room.originWorkerIndex, origin);
    assert.equal(host.events.of('consumerClosed').length, 0);
  });

  it('killing the origin: the edge takes over, the host publishes again and everyone gets it', async function () {
    await start();
    const { host, trackIds } = await hostWithTracks('origin-dies');
    const viewers = await audienceOnBothWorkers('origin-dies', 4);
    for (const viewer of viewers) await receives(viewer, trackIds);
    const room = roomOf('origin-dies');
    const origin = room.originWorkerIndex;
    const edge = 1 - origin;
    const onEdge = viewers.filter((v) => room.workerIndexOf(v.identity) === edge);
    const onOrigin = viewers.filter((v) => room.workerIndexOf(v.identity) === origin);
    process.kill(server!.pool.workers.find((w) => w.index === origin)!.worker.pid, 'SIGKILL');

    // The edge router is promoted: its viewers keep their transports.
    await eventually(() => assert.equal(room.originWorkerIndex, edge), 15_000, 'edge promoted');
    await eventually(
      () => assert.equal(host.events.of('mediaReset').length, 1, 'host reset'),
      15_000,
      'host reset',
    );
    const reset = host.events.of('mediaReset')[0]!;
    const republished: string[] = [];
    for (const ack of [
      await produceVideo(host.socket, reset.sendTransport!.id, vp8RtpParameters(777)),
      await produceAudio(host.socket, reset.sendTransport!.id),
    ]) {
      assert.ok(ack.ok, JSON.stringify(ack));
      republished.push((ack.data as { trackId: string }).trackId);
    }
    for (const viewer of [...onEdge, ...onOrigin]) {
      await receives(viewer, republished, `${viewer.identity} after the origin died`);
    }
    for (const viewer of onEdge) {
      assert.equal(
        viewer.events.of('mediaReset').length,
        0,
        `${viewer.identity} kept its transports`,
      );
    }
    for (const viewer of onOrigin) {
      assert.equal(viewer.events.of('mediaReset').length, 1, `${viewer.identity} moved`);
    }
  });
});

describe('dynacast: the publisher encodes only the layers someone needs', function () {
  this.timeout(60_000);
  let server: TestServer | undefined;
  const sockets: TestSocket[] = [];

  afterEach(async function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await server?.close();
    server = undefined;
  });

  function simulcastVp8(ssrcBase: number) {
    return {
      ...vp8RtpParameters(),
      encodings: [0, 1, 2].map((i) => ({ ssrc: ssrcBase + i, scaleResolutionDownBy: 4 / 2 ** i })),
    };
  }

  it('keeps every layer while nobody watches, lowers them when every viewer is small or hidden, raises them when one needs more', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const host = await joinRaw(server.url, tokenFor('dyn', 'host', 'host'));
    sockets.push(host.socket);
    const ack = await produceVideo(host.socket, host.join.sendTransport!.id, simulcastVp8(9000));
    assert.ok(ack.ok, JSON.stringify(ack));
    const trackId = (ack.data as { trackId: string }).trackId;
    const room = server.rooms.rooms.get('dyn')!;
    const told = () => host.events.of('publisherLayers') as PublisherLayers[];

    // Nobody watches yet: every layer stays on for the audience to come.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.deepEqual(told(), []);
    assert.equal(room.layersNeeded(trackId), 2);
    const viewer = await joinRaw(server.url, tokenFor('dyn', 'viewer', 'audience'));
    sockets.push(viewer.socket);
    const consumer = await eventually(
      () => {
        const c = viewer.events.of('newConsumer')[0];
        assert.ok(c, 'consumer');
        return c;
      },
      10_000,
      'viewer consumer',
    );
    /** Waits until the host was last told `layer`, after `ask` (a request of the viewer's). */
    const toldAfter = async (what: string, layer: number, ask?: [string, object]) => {
      if (ask) assert.ok((await request(viewer.socket, ask[0], ask[1])).ok, what);
      await eventually(
        () => assert.equal(told().at(-1)?.maxSpatialLayer, layer, what),
        10_000,
        what,
      );
    };
    const { consumerId } = consumer;
    // A viewer with no size yet may need the top layer: nothing to change.
    assert.equal(room.layersNeeded(trackId), 2);
    const viewport = (height: number) => ({ consumerId, viewport: { width: height * 2, height } });
    await toldAfter('small viewer: layer 0', 0, ['setConsumerPreferences', viewport(180)]);
    assert.equal(room.layersNeeded(trackId), 0);
    await toldAfter('medium viewer: layer 1', 1, ['setConsumerPreferences', viewport(360)]);
    // Hidden (paused by the viewer): nothing needed beyond layer 0.
    await toldAfter('hidden: layer 0', 0, ['pauseConsumer', { consumerId }]);
    await toldAfter('shown again: layer 1', 1, ['resumeConsumer', { consumerId }]);
  });
});
