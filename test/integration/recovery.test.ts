import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import type {
  ErrorBody,
  HandshakeAuth,
  JoinResponse,
  MediaReset,
  Welcome,
} from '@livestage/protocol';
import { mintToken } from '../../server/src/auth/tokens.js';
import { defaultGrants } from '../../server/src/auth/grants.js';
import {
  errorCode,
  nextEvent,
  produceAudio,
  produceVideo,
  recordEvents,
  request,
  tokenFor,
  type TestSocket,
} from '../helpers/client.js';
import {
  eventually,
  startTestServer,
  TEST_KEYS,
  workerCounts,
  type TestServer,
} from '../helpers/server.js';

interface Client {
  socket: TestSocket;
  welcome: Welcome;
  events: ReturnType<typeof recordEvents>;
}

/** Connects with any handshake auth and records every event from the very first one. */
async function connect(url: string, auth: HandshakeAuth): Promise<Client> {
  const socket: TestSocket = io(url, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const events = recordEvents(socket);
  const welcome = await new Promise<Welcome>((resolve, reject) => {
    socket.once('welcome', resolve);
    socket.once('kicked', (body: ErrorBody) =>
      reject(Object.assign(new Error(body.message), { data: body })),
    );
    socket.once('connect_error', (error: Error & { data?: ErrorBody }) =>
      reject(Object.assign(new Error(error.message), { data: error.data })),
    );
  });
  return { socket, welcome, events };
}

async function join(client: Client): Promise<JoinResponse> {
  const ack = await request(client.socket, 'join', {
    rtpCapabilities: client.welcome.routerRtpCapabilities,
  });
  assert.ok(ack.ok, JSON.stringify(ack));
  return ack.data as JoinResponse;
}

/** Drops the connection the way a network does: no goodbye reaches the server. */
function dropNetwork(socket: TestSocket): void {
  (socket.io.engine as unknown as { close(): void }).close();
}

describe('recovery with a real worker and real socket.io', function () {
  this.timeout(30_000);
  let server: TestServer;
  const sockets: TestSocket[] = [];
  const track = (client: Client) => (sockets.push(client.socket), client);

  afterEach(async function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await server?.close();
  });

  it('resume: a dropped viewer comes back as the same participant, with what it missed, unseen by others', async function () {
    server = await startTestServer({ RECONNECT_GRACE_MS: '10000' });
    const R = 'resume';
    const host = track(await connect(server.url, { token: tokenFor(R, 'host', 'host') }));
    const hostJoin = await join(host);
    const viewerToken = tokenFor(R, 'viewer', 'audience');
    const viewer = track(await connect(server.url, { token: viewerToken }));
    const viewerJoin = await join(viewer);
    const consumed = nextEvent(viewer.socket, 'newConsumer');
    assert.ok((await produceVideo(host.socket, hostJoin.sendTransport!.id)).ok);
    await consumed;
    const participant = server.rooms.rooms.get(R)!.participants.get('viewer')!;

    dropNetwork(viewer.socket);
    await eventually(() => assert.ok(participant.suspended), 5000, 'suspended');
    // While it is away, the host publishes more: the viewer must still hear about it.
    assert.ok((await produceAudio(host.socket, hostJoin.sendTransport!.id)).ok);

    const back = track(
      await connect(server.url, { token: viewerToken, resume: viewer.welcome.resumeCredential }),
    );
    assert.equal(back.welcome.resumed, true);
    assert.notEqual(back.welcome.resumeCredential, viewer.welcome.resumeCredential);
    assert.equal(server.rooms.rooms.get(R)!.participants.get('viewer'), participant);
    // Replayed right behind the welcome, so it is already in the recording.
    const missed = await eventually(() => {
      const audio = back.events.of('newConsumer').find((c) => c.kind === 'audio');
      assert.ok(audio);
      return audio;
    });
    assert.equal(missed.identity, 'host');

    const restart = await request(back.socket, 'restartIce', {
      transportId: viewerJoin.recvTransport!.id,
    });
    assert.ok(restart.ok, JSON.stringify(restart));
    const { iceParameters } = restart.data as { iceParameters: { usernameFragment: string } };
    assert.notEqual(
      iceParameters.usernameFragment,
      viewerJoin.recvTransport!.iceParameters.usernameFragment,
    );
    // Requests work on the new socket, against the same consumers.
    assert.ok((await request(back.socket, 'resumeConsumer', { consumerId: missed.consumerId })).ok);

    assert.deepEqual(host.events.of('participantLeft'), []);
    assert.deepEqual(
      host.events.of('participantJoined').map((p) => p.identity),
      ['viewer'],
    );
    assert.equal((await workerCounts(server)).transports, 3);
  });

  it('resume is refused with a wrong credential or changed grants: a fresh participant replaces the old', async function () {
    server = await startTestServer({ RECONNECT_GRACE_MS: '10000' });
    const R = 'no-resume';
    const token = tokenFor(R, 'viewer', 'audience');
    const first = track(await connect(server.url, { token }));
    await join(first);
    const old = server.rooms.rooms.get(R)!.participants.get('viewer')!;
    dropNetwork(first.socket);
    await eventually(() => assert.ok(old.suspended), 5000, 'suspended');

    const forged = track(await connect(server.url, { token, resume: 'A'.repeat(43) }));
    assert.equal(forged.welcome.resumed, false);
    assert.equal(old.closed, true, 'the old participant is gone');
    await join(forged);

    dropNetwork(forged.socket);
    const current = server.rooms.rooms.get(R)!.participants.get('viewer')!;
    await eventually(() => assert.ok(current.suspended), 5000, 'suspended');
    const otherGrants = tokenFor(R, 'viewer', 'audience', { name: 'someone else' });
    const changed = track(
      await connect(server.url, { token: otherGrants, resume: forged.welcome.resumeCredential }),
    );
    assert.equal(changed.welcome.resumed, false);
  });

  it('the token is checked again on reconnect: an expired one is UNAUTHORIZED, credential or not', async function () {
    // The server checks tokens against a clock the test moves: no sleeping, no race with a
    // second boundary or with how long connecting takes.
    let clock = Date.now();
    server = await startTestServer({ RECONNECT_GRACE_MS: '10000' }, { now: () => clock });
    const R = 'expired';
    const mint = () =>
      mintToken(TEST_KEYS, {
        identity: 'viewer',
        grants: defaultGrants(R, 'audience'),
        ttlSeconds: 60,
        now: clock,
      });
    const token = mint();
    const first = track(await connect(server.url, { token }));
    await join(first);
    const participant = server.rooms.rooms.get(R)!.participants.get('viewer')!;
    dropNetwork(first.socket);
    await eventually(() => assert.ok(participant.suspended), 5000, 'suspended');

    clock += 60_000; // exp reached: the token is dead, though the participant is still resumable
    for (const auth of [{ token, resume: first.welcome.resumeCredential }, { token }]) {
      await assert.rejects(
        connect(server.url, auth),
        (error: Error & { data?: ErrorBody }) => error.data?.code === 'UNAUTHORIZED',
      );
    }
    // Control: the same grants in a token that is live at that moment resume the participant.
    const renewed = track(
      await connect(server.url, { token: mint(), resume: first.welcome.resumeCredential }),
    );
    assert.equal(renewed.welcome.resumed, true);
    assert.equal(server.rooms.rooms.get(R)!.participants.get('viewer'), participant);
  });

  it('a participant that does not come back within the grace period is removed and others are told', async function () {
    server = await startTestServer({ RECONNECT_GRACE_MS: '300' });
    const R = 'grace';
    const host = track(await connect(server.url, { token: tokenFor(R, 'host', 'host') }));
    await join(host);
    const viewer = track(await connect(server.url, { token: tokenFor(R, 'viewer', 'audience') }));
    await join(viewer);
    dropNetwork(viewer.socket);
    const left = await nextEvent(host.socket, 'participantLeft');
    assert.equal(left.identity, 'viewer');
    assert.equal(server.rooms.rooms.get(R)!.participants.has('viewer'), false);
    await eventually(async () => assert.equal((await workerCounts(server)).transports, 2));
  });

  it('worker SIGKILL: the room moves to the replacement worker and everyone is told to re-establish media', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const R = 'worker-death';
    const host = track(await connect(server.url, { token: tokenFor(R, 'host', 'host') }));
    const hostJoin = await join(host);
    const viewer = track(await connect(server.url, { token: tokenFor(R, 'viewer', 'audience') }));
    await join(viewer);
    const consumed = nextEvent(viewer.socket, 'newConsumer');
    assert.ok((await produceVideo(host.socket, hostJoin.sendTransport!.id)).ok);
    await consumed;
    const room = server.rooms.rooms.get(R)!;
    const oldRouter = room.router;
    const pid = server.pool.workers[0]!.worker.pid;

    const hostReset = nextEvent(host.socket, 'mediaReset', () => true, 15_000);
    const viewerReset = nextEvent(viewer.socket, 'mediaReset', () => true, 15_000);
    process.kill(pid, 'SIGKILL');
    const [hostMedia, viewerMedia]: [MediaReset, MediaReset] = await Promise.all([
      hostReset,
      viewerReset,
    ]);
    assert.ok(hostMedia.sendTransport && hostMedia.recvTransport);
    assert.ok(viewerMedia.recvTransport);
    assert.equal(viewerMedia.sendTransport, null);
    assert.notEqual(room.router, oldRouter);
    assert.notEqual(server.pool.workers[0]!.worker.pid, pid);
    assert.equal(server.rooms.rooms.get(R), room, 'same room, same participants');
    assert.deepEqual([...room.participants.keys()].sort(), ['host', 'viewer']);

    // Publishing again on the new transport reaches the viewer as before.
    const consumer = nextEvent(viewer.socket, 'newConsumer');
    assert.ok((await produceVideo(host.socket, hostMedia.sendTransport.id)).ok);
    assert.equal((await consumer).identity, 'host');
    assert.deepEqual(viewer.events.of('participantLeft'), []);
    assert.deepEqual(await workerCounts(server), {
      routers: 1,
      transports: 3,
      producers: 1,
      consumers: 1,
    });
  });

  it('liveness: a producer that sends no RTP is reported stalled, then closed', async function () {
    server = await startTestServer({
      MEDIA_INACTIVE_AFTER_MS: '400',
      MEDIA_CLOSE_AFTER_MS: '1500',
    });
    const R = 'liveness';
    const host = track(await connect(server.url, { token: tokenFor(R, 'host', 'host') }));
    const hostJoin = await join(host);
    const viewer = track(await connect(server.url, { token: tokenFor(R, 'viewer', 'audience') }));
    await join(viewer);
    const produced = await produceVideo(host.socket, hostJoin.sendTransport!.id);
    assert.ok(produced.ok);
    const trackId = (produced.data as { trackId: string }).trackId;
    const stalled = await nextEvent(viewer.socket, 'trackStalled');
    assert.deepEqual(stalled, { identity: 'host', trackId, stalled: true });
    const gone = await nextEvent(viewer.socket, 'trackUnpublished', () => true, 5000);
    assert.equal(gone.trackId, trackId);
    assert.equal((await workerCounts(server)).producers, 0);
  });

  it('drain: health says draining, new joins are refused with UNAVAILABLE, clients are told, it ends when the room empties', async function () {
    server = await startTestServer();
    const R = 'drain';
    const viewer = track(await connect(server.url, { token: tokenFor(R, 'viewer', 'audience') }));
    await join(viewer);
    const told = nextEvent(viewer.socket, 'serverDraining');
    const drained = server.drain(10_000);
    assert.ok((await told).deadlineMs > 0);
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 503);
    assert.equal(((await health.json()) as { status: string }).status, 'draining');
    await assert.rejects(
      connect(server.url, { token: tokenFor(R, 'late', 'audience') }),
      (error: Error & { data?: ErrorBody }) => error.data?.code === 'UNAVAILABLE',
    );
    const started = Date.now();
    viewer.socket.disconnect();
    await drained;
    assert.ok(Date.now() - started < 5000, 'drain ends once the room is empty');
  });

  it('rate limit: exactly RATE_LIMIT_REQUESTS_PER_SECOND requests pass in a window, the rest get RATE_LIMITED, the socket stays usable', async function () {
    // rate-limiter-flexible keeps real time: a socket's one-second window opens at its first
    // request after the last window ran out. A burst sent in one tick from a socket that has sent
    // nothing for over a second opens a window and lies wholly in it, so the count is exact.
    const LIMIT = 50;
    server = await startTestServer({ RATE_LIMIT_REQUESTS_PER_SECOND: String(LIMIT) });
    const R = 'flood';
    const viewer = track(await connect(server.url, { token: tokenFor(R, 'viewer', 'audience') }));
    await join(viewer); // a request: it opens a window of this socket…
    const windowOver = () => new Promise((resolve) => setTimeout(resolve, 1100));
    await windowOver(); // …that is over now; the burst's first request opens the next
    const probe = () => request(viewer.socket, 'pauseConsumer', { consumerId: 'nope' });
    const codes = (await Promise.all(Array.from({ length: 200 }, probe))).map(errorCode);
    // Requests are counted in the order they arrive, which is the order they were sent.
    assert.deepEqual(codes, [
      ...Array<string>(LIMIT).fill('NOT_FOUND'),
      ...Array<string>(200 - LIMIT).fill('RATE_LIMITED'),
    ]);
    await windowOver(); // a new window: the socket is served again, the full budget
    const next = (await Promise.all(Array.from({ length: LIMIT + 1 }, probe))).map(errorCode);
    assert.deepEqual(next, [...Array<string>(LIMIT).fill('NOT_FOUND'), 'RATE_LIMITED']);
  });
});
