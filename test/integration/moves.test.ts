import assert from 'node:assert/strict';
import type { JoinResponse, MediaReset } from '@livestage/protocol';
import {
  connectRaw,
  joinRaw,
  recordEvents,
  nextEvent,
  opusRtpParameters,
  produceAudio,
  produceVideo,
  request,
  tokenFor,
  vp8RtpParameters,
  type JoinedClient,
  type TestSocket,
} from '../helpers/client.js';
import {
  eventually,
  openRoom,
  startTestServer,
  TEST_KEYS,
  workerCounts,
  type TestServer,
} from '../helpers/server.js';

// Rooms moving off dead workers: the move always finishes, whoever leaves meanwhile and however
// many workers die, and what the room knew (stage, hands, bitrate caps) comes along.

type Peer = JoinedClient;

describe('room core: moves off dead workers', function () {
  this.timeout(120_000);
  let server: TestServer | undefined;
  const sockets: TestSocket[] = [];

  afterEach(async function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await server?.close();
    server = undefined;
  });

  async function peer(
    room: string,
    identity: string,
    role: 'host' | 'guest' | 'audience',
  ): Promise<Peer> {
    const joined = await joinRaw(server!.url, tokenFor(room, identity, role));
    sockets.push(joined.socket);
    return joined;
  }

  /** Every `mediaReset` a peer received so far, last one last. */
  const resets = (p: Peer): MediaReset[] => p.events.of('mediaReset');

  /**
   * Waits until the room sits on a live router and every listed peer's latest mediaReset names
   * transports that exist on it; returns those resets.
   */
  async function settledOnLiveRouter(roomName: string, peers: Peer[]): Promise<MediaReset[]> {
    return eventually(
      async () => {
        const room = openRoom(server!, roomName);
        assert.equal(room.router.closed, false, 'router alive');
        assert.equal(room.media.worker.closed, false, 'worker alive');
        const dump = (await room.router.dump()) as { transportIds: string[] };
        return peers.map((p) => {
          const last = resets(p).at(-1);
          assert.ok(last, `${p.identity} got a mediaReset`);
          for (const transport of [last.recvTransport, last.sendTransport]) {
            if (transport) assert.ok(dump.transportIds.includes(transport.id), 'on live router');
          }
          return last;
        });
      },
      30_000,
      'room settled on a live router',
    );
  }

  function killWorkers(indexes: number[]): number[] {
    const pids = indexes.map((index) => server!.pool.workers.find((w) => w.index === index)!);
    for (const { worker } of pids) process.kill(worker.pid, 'SIGKILL');
    return pids.map((w) => w.worker.pid);
  }

  async function publishAfterReset(publisher: Peer, reset: MediaReset, round: number) {
    const ack = await produceVideo(publisher.socket, reset.sendTransport!.id, {
      ...vp8RtpParameters(500_000 + round),
      mid: String(round),
    });
    assert.ok(ack.ok, JSON.stringify(ack));
    return (ack.data as { trackId: string }).trackId;
  }

  it('every worker SIGKILLed at once, 10 rounds: the room survives on the replacements every time', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '2' });
    const R = 'all-workers-die';
    const host = await peer(R, 'host', 'host');
    const viewer = await peer(R, 'viewer', 'audience');
    const room = openRoom(server, R);
    for (let round = 0; round < 10; round += 1) {
      const before = { host: resets(host).length, viewer: resets(viewer).length };
      const killed = killWorkers([0, 1]);
      await eventually(
        () => {
          assert.equal(server!.pool.workers.length, 2, 'both replaced');
          for (const w of server!.pool.workers) assert.ok(!killed.includes(w.worker.pid));
          assert.ok(resets(host).length > before.host && resets(viewer).length > before.viewer);
        },
        30_000,
        `round ${round}: replacements and resets`,
      );
      const [hostReset] = await settledOnLiveRouter(R, [host, viewer]);
      assert.equal(server.rooms.rooms.get(R), room, `round ${round}: the same room`);
      assert.deepEqual([...room.participants.keys()].sort(), ['host', 'viewer']);
      // Media flows again through the new router: the host republishes, the viewer consumes.
      const trackId = await publishAfterReset(host, hostReset!, round);
      await nextEvent(viewer.socket, 'newConsumer', (c) => c.trackId === trackId, 10_000);
    }
    assert.deepEqual(viewer.events.of('participantLeft'), []);
    assert.deepEqual(viewer.events.of('kicked'), []);
  });

  it('the target worker dies during the move: the room moves again, to a live one', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '2' });
    const R = 'target-dies';
    const host = await peer(R, 'host', 'host');
    const viewer = await peer(R, 'viewer', 'audience');
    const room = openRoom(server, R);
    const first = room.media.index;
    const other = first === 0 ? 1 : 0;
    // The room's worker dies; as soon as the room has picked the other worker, that one dies too.
    killWorkers([first]);
    await eventually(() => assert.equal(room.media.index, other), 15_000, 'moved once');
    killWorkers([other]);
    const [hostReset] = await settledOnLiveRouter(R, [host, viewer]);
    const trackId = await publishAfterReset(host, hostReset!, 0);
    await nextEvent(viewer.socket, 'newConsumer', (c) => c.trackId === trackId, 10_000);
    assert.equal(server.rooms.rooms.get(R), room);
  });

  it('a participant leaving during a move does not close the room', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const R = 'leave-during-move';
    const host = await peer(R, 'host', 'host');
    const stay = await peer(R, 'stay', 'audience');
    const leavers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => peer(R, `leaver${i}`, 'audience')),
    );
    const room = openRoom(server, R);
    killWorkers([0]);
    for (const leaver of leavers) leaver.socket.disconnect();
    const [hostReset] = await settledOnLiveRouter(R, [host, stay]);
    assert.equal(server.rooms.rooms.get(R), room, 'the room is still open');
    assert.equal(room.closed, false);
    await eventually(() =>
      assert.deepEqual([...room.participants.keys()].sort(), ['host', 'stay']),
    );
    const trackId = await publishAfterReset(host, hostReset!, 0);
    await nextEvent(stay.socket, 'newConsumer', (c) => c.trackId === trackId, 10_000);
    await eventually(async () => {
      const counts = await workerCounts(server!);
      assert.equal(counts.transports, 3, "host's two, stay's one: the leavers' are gone");
    });
  });

  it('stage seats, host mute and the hand queue survive a move', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const R = 'stage-move';
    const host = await peer(R, 'host', 'host');
    const guest = await peer(R, 'guest', 'audience');
    const hand = await peer(R, 'hand', 'audience');
    assert.ok((await request(guest.socket, 'raiseHand', {})).ok);
    const seated = nextEvent(guest.socket, 'roleChanged', (e) => e.role === 'guest');
    assert.ok((await request(host.socket, 'approveHand', { identity: 'guest' })).ok);
    await seated;
    assert.ok(
      (
        await request(host.socket, 'muteParticipant', {
          identity: 'guest',
          source: 'microphone',
          muted: true,
        })
      ).ok,
    );
    assert.ok((await request(hand.socket, 'raiseHand', { message: 'me next' })).ok);
    const room = openRoom(server, R);
    const stageBefore = room.stage.info();

    killWorkers([0]);
    const [, guestReset] = await settledOnLiveRouter(R, [host, guest, hand]);
    assert.ok(guestReset!.sendTransport, 'the guest may still publish: it gets a send transport');
    assert.deepEqual(room.stage.info(), stageBefore, 'same seats, sources and mutes');
    assert.deepEqual(
      room.stage.stage.hands.map((h) => [h.identity, h.message]),
      [['hand', 'me next']],
    );
    // The seat is real: the guest publishes on its new transport; the host mute still holds.
    const trackId = await publishAfterReset(guest, guestReset!, 0);
    await nextEvent(host.socket, 'newConsumer', (c) => c.trackId === trackId, 10_000);
    const mic = await produceAudio(
      guest.socket,
      guestReset!.sendTransport!.id,
      opusRtpParameters(777, '9'),
    );
    assert.ok(mic.ok, JSON.stringify(mic));
    const micId = (mic.data as { trackId: string }).trackId;
    assert.equal(room.participants.get('guest')!.tracks.get(micId)!.producer.paused, true);
    // The hand is still there to approve.
    assert.ok((await request(host.socket, 'approveHand', { identity: 'hand' })).ok);
  });

  it('a REST bitrate cap on a viewer survives the move', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const R = 'cap-move';
    await peer(R, 'host', 'host');
    const viewer = await peer(R, 'viewer', 'audience');
    const auth = `Basic ${Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64')}`;
    const patched = await fetch(`${server.url}/api/rooms/${R}/participants/viewer`, {
      method: 'PATCH',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ maxOutgoingBitrate: 250_000 }),
    });
    assert.equal(patched.status, 200);

    killWorkers([0]);
    const [viewerReset] = await settledOnLiveRouter(R, [viewer]);
    const participant = openRoom(server, R).participants.get('viewer')!;
    const transport = participant.recvTransport!;
    assert.equal(transport.id, viewerReset!.recvTransport!.id);
    assert.equal(participant.maxOutgoingBitrate, 250_000);
    // The worker refuses a min outgoing bitrate above the transport's max: a probe of its state.
    await assert.rejects(
      transport.setMinOutgoingBitrate(250_001),
      /current max outgoing bitrate \(250000\)/,
    );
  });
  it('joins and stage approvals while the worker is dead wait for the move instead of failing', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const R = 'busy-during-move';
    const host = await peer(R, 'host', 'host');
    const room = openRoom(server, R);
    for (let round = 0; round < 5; round += 1) {
      const { socket, welcome } = await connectRaw(
        server.url,
        tokenFor(R, `late${round}`, 'audience'),
      );
      sockets.push(socket);
      const events = recordEvents(socket);
      const hand = await peer(R, `hand${round}`, 'audience');
      assert.ok((await request(hand.socket, 'raiseHand', {})).ok);
      const seated = nextEvent(hand.socket, 'roleChanged', (e) => e.role === 'guest', 20_000);
      killWorkers([room.media.index]);
      const [joined, approved] = await Promise.all([
        request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities }),
        request(host.socket, 'approveHand', { identity: hand.identity }),
      ]);
      assert.ok(joined.ok, `round ${round}: join answered ok: ${JSON.stringify(joined)}`);
      assert.ok(approved.ok, `round ${round}: approve answered ok: ${JSON.stringify(approved)}`);
      const late: Peer = {
        identity: welcome.identity,
        socket,
        welcome,
        join: joined.data as JoinResponse,
        events,
      };
      await seated;
      // Whether the join's transports were made on the new router or remade by a reset after
      // it, the newcomer ends with transports on a live router, and the guest keeps its seat.
      const [hostReset] = await eventually(async () => {
        const dump = (await room.router.dump()) as { transportIds: string[] };
        const recv = resets(late).at(-1)?.recvTransport ?? late.join.recvTransport;
        assert.ok(recv && dump.transportIds.includes(recv.id), 'newcomer on the live router');
        const send =
          resets(hand).at(-1)?.sendTransport ??
          hand.events.of('roleChanged').findLast((e) => e.role === 'guest')?.sendTransport;
        assert.ok(send && dump.transportIds.includes(send.id), 'guest on the live router');
        return settledOnLiveRouter(R, [host]);
      }, 30_000);
      assert.ok(
        room.stage.info().members.some((m) => m.identity === hand.identity),
        `round ${round}: the guest kept its seat`,
      );
      const trackId = await publishAfterReset(host, hostReset!, round);
      await nextEvent(late.socket, 'newConsumer', (c) => c.trackId === trackId, 10_000);
      assert.ok((await request(host.socket, 'removeFromStage', { identity: hand.identity })).ok);
    }
  });
  it('a hung worker (SIGSTOP) is killed by the watchdog: requests waiting on it are answered, the room moves', async function () {
    server = await startTestServer({
      MEDIA_WORKERS: '1',
      MEDIA_WORKER_WATCHDOG_TIMEOUT_MS: '1000',
    });
    const R = 'hung-worker';
    const host = await peer(R, 'host', 'host');
    const viewer = await peer(R, 'viewer', 'audience');
    const room = openRoom(server, R);
    const hungPid = room.media.worker.pid;
    process.kill(hungPid, 'SIGSTOP');
    try {
      // Sent to the stopped worker: without the watchdog it would wait for ever, and every later
      // request of the host would queue behind it.
      const stuck = await produceVideo(host.socket, host.join.sendTransport!.id);
      assert.equal(stuck.ok, false, 'the produce on the hung worker fails');
      const [hostReset] = await settledOnLiveRouter(R, [host, viewer]);
      assert.notEqual(room.media.worker.pid, hungPid, 'a new worker');
      const trackId = await publishAfterReset(host, hostReset!, 1);
      await nextEvent(viewer.socket, 'newConsumer', (c) => c.trackId === trackId, 10_000);
    } finally {
      try {
        process.kill(hungPid, 'SIGKILL');
      } catch {
        // killed by the watchdog, as it should be
      }
    }
  });
});
