import assert from 'node:assert/strict';
import {
  errorCode,
  joinRaw,
  nextEvent,
  produceVideo,
  request,
  tokenFor,
  vp8RtpParameters,
  type JoinedClient,
} from '../helpers/client.js';
import { eventually, openRoom, useTestServer, workerCounts } from '../helpers/server.js';

// The room core under concurrency: no request waits on another participant's queue, so requests
// that arrive at the same instant are all answered, and every subscriber still gets what it should.

type Peer = JoinedClient;

describe('room core: concurrency', function () {
  this.timeout(60_000);
  const context = useTestServer();

  async function peer(room: string, identity: string, role: 'host' | 'audience'): Promise<Peer> {
    const joined = await joinRaw(context.server.url, tokenFor(room, identity, role));
    context.sockets.push(joined.socket);
    return joined;
  }

  const peers = (room: string, prefix: string, count: number, role: 'host' | 'audience') =>
    Promise.all(Array.from({ length: count }, (_, i) => peer(room, `${prefix}${i}`, role)));

  /** A distinct VP8 camera per publisher and round (SSRC and MID must not repeat on a transport). */
  function publish(publisher: Peer, round: number, index: number) {
    return produceVideo(publisher.socket, publisher.join.sendTransport!.id, {
      ...vp8RtpParameters(100_000 * (index + 1) + round),
      mid: String(round),
    });
  }

  /** The ids of the tracks a subscriber has been given consumers of, by publisher. */
  function consumedBy(subscriber: Peer): Map<string, string[]> {
    const byPublisher = new Map<string, string[]>();
    for (const consumer of subscriber.events.of('newConsumer')) {
      byPublisher.set(consumer.identity, [
        ...(byPublisher.get(consumer.identity) ?? []),
        consumer.trackId,
      ]);
    }
    return byPublisher;
  }

  for (const viewers of [0, 3]) {
    it(`two publishers at the same instant, 20 rounds, ${viewers} viewers: both answered every time, nobody stuck`, async function () {
      const room = `two-at-once-${viewers}`;
      const [a, b] = await peers(room, 'host', 2, 'host');
      const audience = await peers(room, 'viewer', viewers, 'audience');
      for (let round = 0; round < 20; round += 1) {
        const [ackA, ackB] = await Promise.all([publish(a!, round, 0), publish(b!, round, 1)]);
        assert.ok(ackA.ok && ackB.ok, `round ${round}: ${JSON.stringify([ackA, ackB])}`);
        const trackA = (ackA.data as { trackId: string }).trackId;
        const trackB = (ackB.data as { trackId: string }).trackId;
        // Each publisher receives the other's track, every viewer receives both.
        await eventually(() => {
          assert.ok(consumedBy(a!).get(b!.identity)?.includes(trackB), 'a consumes b');
          assert.ok(consumedBy(b!).get(a!.identity)?.includes(trackA), 'b consumes a');
          for (const viewer of audience) {
            assert.ok(consumedBy(viewer).get(a!.identity)?.includes(trackA), 'viewer gets a');
            assert.ok(consumedBy(viewer).get(b!.identity)?.includes(trackB), 'viewer gets b');
          }
        });
        const [closedA, closedB] = await Promise.all([
          request(a!.socket, 'closeTrack', { trackId: trackA }),
          request(b!.socket, 'closeTrack', { trackId: trackB }),
        ]);
        assert.ok(closedA.ok && closedB.ok, `round ${round}: closeTrack answered`);
      }
      // Both are still served afterwards.
      for (const p of [a!, b!]) {
        assert.equal(
          errorCode(await request(p.socket, 'pauseConsumer', { consumerId: 'none' })),
          'NOT_FOUND',
        );
      }
      assert.equal((await workerCounts(context.server)).producers, 0);
    });
  }

  it('six publishers at once with ten viewers: every subscriber gets every track, exactly once', async function () {
    const room = 'six-at-once';
    const audience = await peers(room, 'viewer', 10, 'audience');
    const publishers = await peers(room, 'host', 6, 'host');
    const acks = await Promise.all(publishers.map((p, index) => publish(p, 0, index)));
    assert.ok(
      acks.every((ack) => ack.ok),
      JSON.stringify(acks),
    );
    const expected = new Map(
      publishers.map((p, index) => [
        p.identity,
        (acks[index]!.data as { trackId: string }).trackId,
      ]),
    );
    for (const subscriber of [...audience, ...publishers]) {
      await eventually(() => {
        const got = consumedBy(subscriber);
        for (const [identity, trackId] of expected) {
          if (identity === subscriber.identity) continue;
          assert.deepEqual(got.get(identity), [trackId], `${subscriber.identity} ← ${identity}`);
        }
        assert.equal(got.has(subscriber.identity), false, 'nobody consumes itself');
      });
    }
    // 6 tracks × 10 viewers + each publisher receiving the 5 others.
    assert.equal((await workerCounts(context.server)).consumers, 6 * 10 + 6 * 5);
    const server = openRoom(context.server, room);
    for (const participant of server.participants.values()) {
      const want = participant.identity.startsWith('host') ? 5 : 6;
      assert.equal(participant.subscriptions.size, want, participant.identity);
    }
  });

  it('a publish is answered while a viewer’s queue is stuck: it never waits on another participant', async function () {
    const room = 'stuck-viewer';
    const viewer = await peer(room, 'viewer', 'audience');
    const host = await peer(room, 'host', 'host');
    const stuck = openRoom(context.server, room).participants.get('viewer')!;
    let release: () => void = () => undefined;
    void stuck.requests.run(() => new Promise<void>((resolve) => (release = resolve)));

    const ack = await publish(host, 0, 0);
    assert.ok(ack.ok, JSON.stringify(ack));
    const trackId = (ack.data as { trackId: string }).trackId;
    await eventually(() =>
      assert.ok(viewer.events.of('trackPublished').some((e) => e.track.id === trackId)),
    );
    assert.deepEqual(viewer.events.of('newConsumer'), [], 'the consumer waits for its queue');

    release();
    const consumer = await nextEvent(viewer.socket, 'newConsumer');
    assert.equal(consumer.trackId, trackId);
  });

  it('viewers leaving while a publish fans out to them: the publish is answered, nothing leaks', async function () {
    const room = 'leaving-during-fanout';
    const stay = await peers(room, 'stay', 5, 'audience');
    const leave = await peers(room, 'leave', 15, 'audience');
    const host = await peer(room, 'host', 'host');
    const [ack] = await Promise.all([
      publish(host, 0, 0),
      ...leave.map(async (viewer) => viewer.socket.disconnect()),
    ]);
    assert.ok(ack.ok, JSON.stringify(ack));
    const trackId = (ack.data as { trackId: string }).trackId;
    for (const viewer of stay) {
      const got = await eventually(() => {
        const consumers = viewer.events.of('newConsumer');
        assert.equal(consumers.length, 1);
        return consumers;
      });
      assert.equal(got[0]!.trackId, trackId);
    }
    const server = openRoom(context.server, room);
    await eventually(async () => {
      assert.deepEqual(
        [...server.participants.keys()].sort(),
        ['host', ...stay.map((v) => v.identity)].sort(),
      );
      const counts = await workerCounts(context.server);
      assert.equal(counts.consumers, stay.length, 'one consumer per remaining viewer');
      assert.equal(counts.transports, 2 + stay.length, "host's two and one per viewer");
    });
    // The host is still served.
    assert.ok((await request(host.socket, 'closeTrack', { trackId })).ok);
  });

  it('a join racing a publish gets the track exactly once', async function () {
    const room = 'join-vs-publish';
    const host = await peer(room, 'host', 'host');
    for (let round = 0; round < 10; round += 1) {
      const [viewer, ack] = await Promise.all([
        peer(room, `viewer${round}`, 'audience'),
        publish(host, round, 0),
      ]);
      assert.ok(ack.ok, JSON.stringify(ack));
      const trackId = (ack.data as { trackId: string }).trackId;
      await eventually(() =>
        assert.deepEqual(
          viewer.events.of('newConsumer').map((c) => c.trackId),
          [trackId],
        ),
      );
      assert.ok((await request(host.socket, 'closeTrack', { trackId })).ok);
    }
  });
});

describe('room core: a failed step leaves nothing behind', function () {
  this.timeout(60_000);
  const context = useTestServer();

  async function joined(room: string, identity: string, role: 'host' | 'audience') {
    const client = await joinRaw(context.server.url, tokenFor(room, identity, role));
    context.sockets.push(client.socket);
    return client;
  }

  it('a transport whose connect failed can be connected again', async function () {
    const room = 'connect-again';
    const viewer = await joined(room, 'viewer', 'audience');
    const transportId = viewer.join.recvTransport!.id;
    const transport = openRoom(context.server, room)
      .participants.get('viewer')!
      .transport(transportId);
    // One injected failure of the real transport's connect, as if the worker had refused it.
    const connect = transport.connect.bind(transport);
    transport.connect = async () => {
      transport.connect = connect;
      throw new Error('injected connect failure');
    };
    const dtlsParameters = {
      role: 'client',
      fingerprints: [{ algorithm: 'sha-256', value: 'AB:'.repeat(31) + 'AB' }],
    };
    const failed = await request(viewer.socket, 'connectTransport', {
      transportId,
      dtlsParameters,
    });
    assert.equal(errorCode(failed), 'INTERNAL');
    const again = await request(viewer.socket, 'connectTransport', { transportId, dtlsParameters });
    assert.ok(again.ok, JSON.stringify(again));
    assert.equal(
      errorCode(await request(viewer.socket, 'connectTransport', { transportId, dtlsParameters })),
      'INVALID_STATE',
      'a connect that succeeded is not repeated',
    );
  });

  it('a publish that fails after its producer exists closes it and announces nothing', async function () {
    const room = 'publish-fails';
    const viewer = await joined(room, 'viewer', 'audience');
    const host = await joined(room, 'host', 'host');
    const stage = openRoom(context.server, room).stage;
    const applyHostMute = stage.applyHostMute.bind(stage);
    stage.applyHostMute = async () => {
      stage.applyHostMute = applyHostMute;
      throw new Error('injected failure after the producer exists');
    };
    const failed = await produceVideo(host.socket, host.join.sendTransport!.id);
    assert.equal(errorCode(failed), 'INTERNAL');
    assert.equal((await workerCounts(context.server)).producers, 0, 'the producer was closed');
    assert.equal(openRoom(context.server, room).participants.get('host')!.tracks.size, 0);
    // The next publish works, and it is the only one the viewer ever hears of.
    const ok = await produceVideo(host.socket, host.join.sendTransport!.id, {
      ...vp8RtpParameters(2),
      mid: '1',
    });
    assert.ok(ok.ok, JSON.stringify(ok));
    await nextEvent(viewer.socket, 'newConsumer');
    const announced = viewer.events.of('trackPublished').map((e) => e.track.id);
    assert.deepEqual(announced, [(ok.data as { trackId: string }).trackId]);
  });

  it('a transport whose setting the worker refuses is closed, not leaked', async function () {
    const room = 'setting-refused';
    await joined(room, 'host', 'host');
    const viewer = await joined(room, 'viewer', 'audience');
    const server = openRoom(context.server, room);
    const participant = server.participants.get('viewer')!;
    // Below the 30 kbit/s mediasoup accepts (the REST API never lets this through): the worker
    // refuses it when the viewer's transport is remade on a move.
    participant.maxOutgoingBitrate = 1000;
    const kicked = nextEvent(viewer.socket, 'kicked', () => true, 20_000);
    const { worker } = context.server.pool.workers[0]!;
    process.kill(worker.pid, 'SIGKILL');
    assert.equal((await kicked).code, 'UNAVAILABLE');
    await eventually(
      async () => {
        assert.equal(server.participants.has('viewer'), false);
        const counts = await workerCounts(context.server);
        assert.equal(counts.transports, 2, "only the host's two transports");
      },
      20_000,
      'no leaked transport',
    );
  });
});
