import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import type {
  Ack,
  ErrorBody,
  HandRequest,
  HandshakeAuth,
  JoinResponse,
  Welcome,
} from '@livestage/protocol';
import {
  barrier,
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
  openRoom,
  startTestServer,
  TEST_KEYS,
  useTestServer,
  workerCounts,
  type TestServer,
} from '../helpers/server.js';
import { defaultGrants, type Grants, type Role } from '../../server/src/auth/grants.js';
import { mintToken } from '../../server/src/auth/tokens.js';
import { loadConfig } from '../../server/src/config/config.js';

// Limits and refusals (README "Failure behaviour" → hostile clients, dropped connections), each
// checked against what the server really holds: room maps, the worker's own dumps, exact codes.

/** How one connection attempt ended: a welcome, a handshake refusal, or a kick then disconnect. */
interface Attempt {
  socket: TestSocket;
  events: ReturnType<typeof recordEvents>;
  welcome?: Welcome;
  connectError?: Error & { data?: ErrorBody };
  disconnectReason?: string;
}

/** Connects and records every event from the very first; settles on welcome, refusal or disconnect. */
async function attempt(
  url: string,
  auth: HandshakeAuth,
  options: Partial<ManagerOptions & SocketOptions> = {},
  settleMs = 5000,
): Promise<Attempt> {
  const socket: TestSocket = io(url, {
    auth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  const events = recordEvents(socket);
  const result: Attempt = { socket, events };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('connection attempt did not settle')),
      settleMs,
    );
    const done = () => (clearTimeout(timer), resolve());
    socket.once('welcome', (welcome) => ((result.welcome = welcome), done()));
    socket.once('connect_error', (error: Error & { data?: ErrorBody }) => {
      result.connectError = error;
      done();
    });
    socket.once('disconnect', (reason) => ((result.disconnectReason = reason), done()));
  });
  return result;
}

interface Client {
  socket: TestSocket;
  welcome: Welcome;
  events: ReturnType<typeof recordEvents>;
}

async function connected(url: string, auth: HandshakeAuth): Promise<Client> {
  const result = await attempt(url, auth);
  if (!result.welcome) {
    result.socket.disconnect();
    throw new Error(`not welcomed: ${result.connectError?.message ?? result.disconnectReason}`);
  }
  return { socket: result.socket, welcome: result.welcome, events: result.events };
}

async function join(client: Client): Promise<JoinResponse> {
  const ack = await request(client.socket, 'join', {
    rtpCapabilities: client.welcome.routerRtpCapabilities,
  });
  assert.ok(ack.ok, `join failed: ${JSON.stringify(ack)}`);
  return ack.data as JoinResponse;
}

/** Drops the connection the way a network does: no goodbye reaches the server. */
function dropNetwork(socket: TestSocket): void {
  (socket.io.engine as unknown as { close(): void }).close();
}

/** Starts a server for one test and always closes it (per-IP budgets are per server). */
async function withServer(
  env: Record<string, string>,
  body: (server: TestServer, sockets: TestSocket[]) => Promise<void>,
): Promise<void> {
  const server = await startTestServer(env);
  const sockets: TestSocket[] = [];
  try {
    await body(server, sockets);
  } finally {
    for (const socket of sockets) socket.disconnect();
    await server.close();
  }
}

function identities(server: TestServer, room: string): string[] {
  return [...openRoom(server, room).participants.keys()].sort();
}

describe('limits with a real worker and real socket.io', function () {
  this.timeout(30_000);

  describe('ROOM_MAX_PARTICIPANTS', function () {
    const suite = useTestServer({ ROOM_MAX_PARTICIPANTS: '2' });

    async function joined(room: string, identity: string, role: Role): Promise<Client> {
      const client = await connected(suite.server.url, { token: tokenFor(room, identity, role) });
      suite.sockets.push(client.socket);
      await join(client);
      return client;
    }

    it('refuses the (N+1)th connection with kicked ROOM_FULL then a disconnect; changes nothing; a newcomer fits once one leaves', async function () {
      const R = 'full';
      const a = await joined(R, 'a', 'host');
      const b = await joined(R, 'b', 'audience');
      const room = openRoom(suite.server, R);
      const [pa, pb] = [room.participants.get('a'), room.participants.get('b')];
      const before = await workerCounts(suite.server);
      assert.equal(before.transports, 3);

      const c = await attempt(suite.server.url, { token: tokenFor(R, 'c', 'audience') });
      suite.sockets.push(c.socket);
      assert.equal(c.welcome, undefined);
      assert.equal(c.connectError, undefined, 'refused after the handshake, not at it');
      assert.equal(c.disconnectReason, 'io server disconnect');
      assert.deepEqual(c.events.events, [
        { event: 'kicked', payload: { code: 'ROOM_FULL', message: 'room is full' } },
      ]);
      assert.equal(openRoom(suite.server, R), room);
      assert.deepEqual(identities(suite.server, R), ['a', 'b']);
      assert.equal(room.participants.get('a'), pa);
      assert.equal(room.participants.get('b'), pb);
      assert.deepEqual(await workerCounts(suite.server), before);

      // The same identity connecting again replaces itself: it is not refused by the cap.
      const bKicked = nextEvent(b.socket, 'kicked');
      const b2 = await connected(suite.server.url, { token: tokenFor(R, 'b', 'audience') });
      suite.sockets.push(b2.socket);
      assert.equal((await bKicked).code, 'INVALID_STATE');
      assert.notEqual(room.participants.get('b'), pb);
      assert.equal(pb?.closed, true);

      // One leaves (deliberately): the next newcomer gets in.
      b2.socket.disconnect();
      await eventually(() => assert.deepEqual(identities(suite.server, R), ['a']), 5000, 'b left');
      const joinedSeen = nextEvent(a.socket, 'participantJoined', (p) => p.identity === 'd');
      const d = await joined(R, 'd', 'audience');
      await joinedSeen;
      assert.equal(d.welcome.resumed, false);
      assert.deepEqual(identities(suite.server, R), ['a', 'd']);
      assert.deepEqual(
        a.events.of('participantJoined').map((p) => p.identity),
        ['b', 'd'],
        'nobody was told about the refused c',
      );
      assert.equal((await workerCounts(suite.server)).transports, 3);
    });
  });

  describe('MAX_TRANSPORTS_PER_PARTICIPANT', function () {
    // Clients cannot ask for transports: join makes recv (canSubscribe) and send (may publish), a
    // stage promotion makes send, a worker move remakes them. At most 2 are ever held, so the
    // default cap (4) is unreachable; with a cap of 1 the second transport is what hits it.
    const suite = useTestServer({ MAX_TRANSPORTS_PER_PARTICIPANT: '1' });
    const url = () => suite.server.url;

    async function joinedWith(room: string, identity: string, role: Role, grants: Partial<Grants>) {
      const client = await connected(url(), { token: tokenFor(room, identity, role, grants) });
      suite.sockets.push(client.socket);
      return { ...client, join: await join(client) };
    }

    it('an approved hand that would need a 2nd transport is put back in the audience; nothing is created', async function () {
      const R = 'transport-cap-stage';
      const host = await joinedWith(R, 'host', 'host', { canSubscribe: false });
      assert.equal(host.join.recvTransport, null);
      assert.ok(host.join.sendTransport, 'send transport');
      const viewer = await joinedWith(R, 'viewer', 'audience', {});
      assert.ok(viewer.join.recvTransport, 'recv transport');
      assert.equal((await workerCounts(suite.server)).transports, 2);

      assert.ok((await request(viewer.socket, 'raiseHand', {})).ok, 'hand raised');
      const roleChanged = nextEvent(viewer.socket, 'roleChanged');
      assert.ok((await request(host.socket, 'approveHand', { identity: 'viewer' })).ok, 'approved');
      assert.deepEqual(await roleChanged, {
        role: 'audience',
        sources: [],
        sendTransport: null,
        reason: 'approved',
      });
      await barrier(viewer.socket);
      assert.deepEqual(
        viewer.events.of('roleChanged').map((e) => e.role),
        ['audience'],
        'never told it was a guest',
      );
      const participant = openRoom(suite.server, R).participants.get('viewer')!;
      assert.equal(participant.seat, undefined);
      assert.equal(participant.transports.size, 1);
      assert.deepEqual(
        openRoom(suite.server, R)
          .stage.info()
          .members.map((m) => m.identity),
        ['host'],
      );
      assert.equal((await workerCounts(suite.server)).transports, 2);
      // It may still publish nothing.
      const ack = await produceVideo(viewer.socket, viewer.join.recvTransport!.id);
      assert.equal(errorCode(ack), 'FORBIDDEN');
    });

    it('a join that needs 2 transports under a cap of 1 is refused with LIMIT_EXCEEDED and holds none', async function () {
      const R = 'transport-cap-join';
      const host = await connected(url(), { token: tokenFor(R, 'host', 'host') });
      suite.sockets.push(host.socket);
      const ack = await request(host.socket, 'join', {
        rtpCapabilities: host.welcome.routerRtpCapabilities,
      });
      const participant = openRoom(suite.server, R).participants.get('host')!;
      // The worker answers in order: a transport still being made would be in this dump, and
      // by the time it resolves Node has recorded that transport too.
      const counts = await workerCounts(suite.server);
      assert.deepEqual(
        {
          code: errorCode(ack),
          joined: participant.joined,
          held: participant.transports.size,
          inWorker: counts.transports,
        },
        { code: 'LIMIT_EXCEEDED', joined: false, held: 0, inWorker: 0 },
      );
    });
  });

  describe('MAX_PRODUCERS_PER_PARTICIPANT', function () {
    const suite = useTestServer({ MAX_PRODUCERS_PER_PARTICIPANT: '1' });

    it('the (N+1)th track is LIMIT_EXCEEDED, nobody hears of it; closing one frees the slot', async function () {
      const R = 'producer-cap';
      const host = await connected(suite.server.url, { token: tokenFor(R, 'host', 'host') });
      suite.sockets.push(host.socket);
      const { sendTransport } = await join(host);
      const viewer = await connected(suite.server.url, { token: tokenFor(R, 'v', 'audience') });
      suite.sockets.push(viewer.socket);
      await join(viewer);

      const camera = await produceVideo(host.socket, sendTransport!.id);
      assert.ok(camera.ok, JSON.stringify(camera));
      const mic = await produceAudio(host.socket, sendTransport!.id);
      assert.deepEqual(mic, {
        ok: false,
        error: { code: 'LIMIT_EXCEEDED', message: 'too many tracks' },
      });
      const participant = openRoom(suite.server, R).participants.get('host')!;
      assert.equal(participant.tracks.size, 1);
      let counts = await workerCounts(suite.server);
      assert.equal(counts.producers, 1);
      assert.equal(counts.consumers, 1);
      await barrier(viewer.socket);
      assert.deepEqual(
        viewer.events.of('trackPublished').map((e) => e.track.source),
        ['camera'],
      );
      assert.equal(viewer.events.of('newConsumer').length, 1);

      // The cap counts live tracks: once the camera is closed the microphone fits.
      const { trackId } = (camera as Extract<Ack<unknown>, { ok: true }>).data as {
        trackId: string;
      };
      assert.ok((await request(host.socket, 'closeTrack', { trackId })).ok, 'closed');
      const mic2 = await produceAudio(host.socket, sendTransport!.id);
      assert.ok(mic2.ok, JSON.stringify(mic2));
      counts = await workerCounts(suite.server);
      assert.equal(counts.producers, 1);
      await barrier(viewer.socket);
      assert.deepEqual(
        viewer.events.of('newConsumer').map((c) => c.source),
        ['camera', 'microphone'],
      );
    });
  });

  describe('MAX_CONSUMERS_PER_PARTICIPANT', function () {
    const K = 2;
    const suite = useTestServer({ MAX_CONSUMERS_PER_PARTICIPANT: String(K) });
    /** Connects and joins clients to room R of this suite's server. */
    const joinerIn =
      (R: string) =>
      async (identity: string, role: Role, grants: Partial<Grants> = {}) => {
        const client = await connected(suite.server.url, {
          token: tokenFor(R, identity, role, grants),
        });
        suite.sockets.push(client.socket);
        return { ...client, join: await join(client) };
      };

    it('a viewer gets exactly K consumers of a room with more tracks, joining before or after they are published', async function () {
      const R = 'consumer-cap';
      const connect = joinerIn(R);
      // Publishers that subscribe to nothing, so every consumer in the worker is a viewer's.
      const h1 = await connect('h1', 'host', { canSubscribe: false });
      const h2 = await connect('h2', 'host', { canSubscribe: false });
      const early = await connect('early', 'audience');
      const published: string[] = [];
      for (const host of [h1, h2]) {
        for (const produce of [produceVideo, produceAudio]) {
          const ack = await produce(host.socket, host.join.sendTransport!.id);
          assert.ok(ack.ok, JSON.stringify(ack));
          published.push((ack.data as { trackId: string }).trackId);
        }
      }
      const late = await connect('late', 'audience');
      for (const viewer of [early, late]) {
        await barrier(viewer.socket);
        assert.deepEqual(
          viewer.events.of('newConsumer').map((c) => c.trackId),
          published.slice(0, K),
          'the first K tracks, no more',
        );
        assert.equal(
          openRoom(suite.server, R).participants.get(viewer.welcome.identity)!.subscriptions.size,
          K,
        );
      }
      assert.equal(early.events.of('trackPublished').length, 4, 'it still hears of every track');
      assert.equal(late.join.participants.flatMap((p) => p.tracks).length, 4);
      const counts = await workerCounts(suite.server);
      assert.equal(counts.producers, 4);
      assert.equal(counts.consumers, 2 * K);
    });

    it('a capped viewer whose consumer ends is given a track it was skipped for, still no more than K', async function () {
      const R = 'consumer-cap-refill';
      const connect = joinerIn(R);
      const h1 = await connect('h1', 'host', { canSubscribe: false });
      const h2 = await connect('h2', 'host', { canSubscribe: false });
      const viewer = await connect('viewer', 'audience');
      const published: string[] = [];
      for (const [host, produce] of [
        [h1, produceVideo],
        [h1, produceAudio],
        [h2, produceVideo],
      ] as const) {
        const ack = await produce(host.socket, host.join.sendTransport!.id);
        assert.ok(ack.ok, JSON.stringify(ack));
        published.push((ack.data as { trackId: string }).trackId);
      }
      await barrier(viewer.socket);
      const consumed = () => viewer.events.of('newConsumer').map((c) => c.trackId);
      assert.deepEqual(consumed(), published.slice(0, K));

      const ended = nextEvent(viewer.socket, 'consumerClosed');
      assert.ok((await request(h1.socket, 'closeTrack', { trackId: published[0] })).ok, 'closed');
      await ended;
      // Desired (every live track, up to K) against actual: the free slot goes to h2's camera.
      await eventually(() => assert.deepEqual(consumed(), published), 5000, 'refilled');
      await barrier(viewer.socket);
      assert.deepEqual(consumed(), published);
      assert.equal(openRoom(suite.server, R).participants.get('viewer')!.subscriptions.size, K);
      assert.equal((await workerCounts(suite.server)).consumers, K);
    });
  });

  describe('Origin check on the handshake', function () {
    const FOREIGN = 'https://evil.example';
    const ALLOWED = 'https://app.example.com';

    /** Through the real client (websocket, header via extraHeaders): was it welcomed? */
    async function viaClient(
      server: TestServer,
      sockets: TestSocket[],
      origin: string,
      identity: string,
    ): Promise<boolean> {
      const result = await attempt(
        server.url,
        { token: tokenFor('origins', identity, 'audience') },
        { extraHeaders: { origin } },
      );
      sockets.push(result.socket);
      if (result.welcome) return true;
      assert.ok(result.connectError, `neither welcomed nor refused: ${result.disconnectReason}`);
      assert.equal(result.connectError.data, undefined, 'refused below socket.io, not by auth');
      return false;
    }

    /** A bare engine.io polling handshake: the HTTP status allowRequest leads to. */
    function viaPolling(
      server: TestServer,
      origin: string,
    ): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const req = http.get(
          `${server.url}/socket.io/?EIO=4&transport=polling`,
          { headers: { origin } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
      });
    }

    async function check(
      server: TestServer,
      sockets: TestSocket[],
      table: [origin: string, allowed: boolean][],
    ): Promise<void> {
      const seen: (string | undefined)[] = [];
      const spy = (req: IncomingMessage) => seen.push(req.headers.origin);
      server.io.httpServer.prependListener('upgrade', spy);
      try {
        for (const [i, [origin, allowed]] of table.entries()) {
          assert.equal(await viaClient(server, sockets, origin, `o${i}`), allowed, origin);
          assert.equal(seen.at(-1), origin, 'the Origin header reached the server');
          const polled = await viaPolling(server, origin);
          if (allowed) assert.equal(polled.status, 200, origin);
          else assert.deepEqual(polled, { status: 403, body: '{"code":4,"message":"Forbidden"}' });
        }
      } finally {
        server.io.httpServer.off('upgrade', spy);
      }
      const welcomed = table.filter(([, allowed]) => allowed).length;
      assert.equal(openRoom(server, 'origins').participants.size, welcomed);
    }

    it('outside production: foreign origins are refused; own origin, ALLOWED_ORIGINS and localhost pass', async function () {
      await withServer(
        { ALLOWED_ORIGINS: `${ALLOWED}, https://other.example` },
        (server, sockets) =>
          check(server, sockets, [
            [FOREIGN, false],
            ['null', false],
            [`${ALLOWED}.evil.example`, false],
            [`http://127.0.0.1.evil.example:${server.port}`, false],
            [`http://127.0.0.1:${server.port}`, true],
            [ALLOWED, true],
            ['https://other.example', true],
            ['http://localhost:5173', true],
            ['http://127.0.0.1:8080', true],
          ]),
      );
    });

    it('in production: only the own origin and ALLOWED_ORIGINS; localhost on another host is refused', async function () {
      await withServer(
        { NODE_ENV: 'production', DEV_ENDPOINTS: 'false', ALLOWED_ORIGINS: ALLOWED },
        (server, sockets) =>
          check(server, sockets, [
            [FOREIGN, false],
            [`http://localhost:${server.port}`, false],
            ['http://localhost:5173', false],
            ['http://127.0.0.1:8080', false],
            [`http://127.0.0.1:${server.port}`, true],
            [ALLOWED, true],
          ]),
      );
    });
  });

  describe('connection and request budgets (exact counts in real time: each budget is a fresh server’s)', function () {
    // rate-limiter-flexible keeps real time: a key's window opens at its first charge and lasts
    // the period. Every test socket comes from 127.0.0.1, one address like an audience behind a
    // NAT, and each test has a server of its own, so each count starts in a window its first
    // attempt opens. The next one-minute window is not waited for: a test cannot wait a minute.
    const windowOver = () => new Promise((resolve) => setTimeout(resolve, 1100));

    const refusedBy = {
      token: { code: 'RATE_LIMITED', message: 'too many connections with this token; retry later' },
      ceiling: {
        code: 'RATE_LIMITED',
        message: 'too many connections from this address; retry later',
      },
      failed: {
        code: 'RATE_LIMITED',
        message: 'too many refused tokens from this address; retry later',
      },
    } as const;

    /** How an attempt ended, comparable with deepEqual: 'welcome', or the handshake's refusal. */
    function outcome(result: Attempt): 'welcome' | ErrorBody | string {
      if (result.welcome) return 'welcome';
      return result.connectError?.data ?? `not refused: ${result.disconnectReason}`;
    }

    /** Connects from this test (the socket is closed after it) and says how it ended. */
    function tryWith(server: TestServer, sockets: TestSocket[]) {
      return async (auth: HandshakeAuth) => {
        const result = await attempt(server.url, auth);
        sockets.push(result.socket);
        return outcome(result);
      };
    }

    it('200 viewers behind one address with valid tokens, all at once, under the default limits: every one is welcomed and joins', async function () {
      this.timeout(120_000);
      const N = 200;
      // The helper raises the per-IP budgets for other tests; '' unsets them: the real defaults.
      const defaults = {
        RATE_LIMIT_REQUESTS_PER_SECOND: '',
        RATE_LIMIT_IP_REQUESTS_PER_SECOND: '',
        RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '',
        RATE_LIMIT_IP_FAILED_CONNECTIONS_PER_MINUTE: '',
        RATE_LIMIT_TOKEN_CONNECTIONS_PER_MINUTE: '',
      };
      await withServer(defaults, async (server, sockets) => {
        assert.deepEqual(server.config.rateLimits, loadConfig({}).rateLimits, 'default limits');
        const R = 'nat-audience';
        const results = await Promise.all(
          Array.from({ length: N }, (_, i) =>
            attempt(server.url, { token: tokenFor(R, `v${i}`, 'audience') }, {}, 60_000),
          ),
        );
        sockets.push(...results.map((result) => result.socket));
        const refused = results.map(outcome).filter((end) => end !== 'welcome');
        assert.deepEqual(refused, [], 'nobody refused');
        const joins = await Promise.all(
          results.map((result) =>
            request(result.socket, 'join', {
              rtpCapabilities: result.welcome!.routerRtpCapabilities,
            }),
          ),
        );
        assert.deepEqual(
          joins.filter((ack) => !ack.ok),
          [],
          'every join answered ok',
        );
        const room = openRoom(server, R);
        assert.equal(room.participants.size, N);
        assert.ok(
          [...room.participants.values()].every((p) => p.joined),
          'all joined',
        );
        assert.equal((await workerCounts(server)).transports, N, 'a receive transport each');
      });
    });

    it('refused tokens: UNAUTHORIZED with the reason while the address’s failed budget lasts, then RATE_LIMITED; valid tokens from there still connect', async function () {
      const FAILED = 5;
      const CEILING = 2;
      await withServer(
        {
          RATE_LIMIT_IP_FAILED_CONNECTIONS_PER_MINUTE: String(FAILED),
          RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: String(CEILING),
        },
        async (server, sockets) => {
          const tryAuth = tryWith(server, sockets);
          const R = 'bad-tokens';
          const claims = { identity: 'x', grants: defaultGrants(R, 'audience'), ttlSeconds: 60 };
          const expired = mintToken(TEST_KEYS, { ...claims, now: Date.now() - 120_000 });
          const forged = mintToken({ ...TEST_KEYS, apiSecret: 'x'.repeat(40) }, claims);
          const bad: [string, string][] = [
            ['', 'an access token is required'],
            ['x'.repeat(9000), 'access token too large'],
            ['not-a-token', 'invalid access token'],
            [forged, 'invalid access token'],
            [expired, 'access token expired'],
          ];
          assert.equal(bad.length, FAILED);
          for (const [token, message] of bad) {
            assert.deepEqual(await tryAuth({ token }), { code: 'UNAUTHORIZED', message }, message);
          }
          for (const [token, message] of bad) {
            assert.deepEqual(await tryAuth({ token }), refusedBy.failed, message);
          }
          assert.equal(server.rooms.rooms.size, 0, 'a refused token costs no room');
          // The bad ones charged neither a valid token's budget nor the address's ceiling.
          assert.equal(await tryAuth({ token: tokenFor(R, 'a', 'audience') }), 'welcome');
          assert.equal(await tryAuth({ token: tokenFor(R, 'b', 'audience') }), 'welcome');
          assert.deepEqual(
            await tryAuth({ token: tokenFor(R, 'c', 'audience') }),
            refusedBy.ceiling,
          );
          assert.deepEqual(
            await tryAuth({ token: 'not-a-token' }),
            refusedBy.failed,
            'still spent',
          );
          assert.deepEqual(identities(server, R), ['a', 'b']);
        },
      );
    });

    it('one token reconnecting in a loop is RATE_LIMITED past its budget, re-minted or not; its live connection stays; other tokens from the address connect', async function () {
      const PER_TOKEN = 3;
      const CEILING = 6;
      await withServer(
        {
          RATE_LIMIT_TOKEN_CONNECTIONS_PER_MINUTE: String(PER_TOKEN),
          RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: String(CEILING),
        },
        async (server, sockets) => {
          const tryAuth = tryWith(server, sockets);
          const R = 'token-loop';
          const token = tokenFor(R, 'looper', 'audience');
          const loop: unknown[] = [];
          for (let i = 0; i < 10; i++) loop.push(await tryAuth({ token }));
          assert.deepEqual(loop, [
            ...Array<string>(PER_TOKEN).fill('welcome'),
            ...Array<unknown>(10 - PER_TOKEN).fill(refusedBy.token),
          ]);
          // The budget is the identity's in its room, not the token string's.
          const reminted = tokenFor(R, 'looper', 'audience', { name: 'again' });
          assert.notEqual(reminted, token);
          assert.deepEqual(await tryAuth({ token: reminted }), refusedBy.token, 're-minted');
          assert.equal(
            await tryAuth({ token: tokenFor('elsewhere', 'looper', 'audience') }),
            'welcome',
            'the same identity in another room is another token',
          );
          // The refused attempts did not replace the live connection (the last one welcomed).
          const live = sockets[PER_TOKEN - 1]!;
          assert.equal(live.connected, true, 'the last welcomed looper is still connected');
          assert.equal(openRoom(server, R).participants.get('looper')?.connectionId, live.id);
          // The loop spent the ceiling only for its welcomed connections: 3 + 1 of 6.
          assert.equal(await tryAuth({ token: tokenFor(R, 'v1', 'audience') }), 'welcome');
          assert.equal(await tryAuth({ token: tokenFor(R, 'v2', 'audience') }), 'welcome');
          assert.deepEqual(
            await tryAuth({ token: tokenFor(R, 'v3', 'audience') }),
            refusedBy.ceiling,
          );
          assert.deepEqual(identities(server, R), ['looper', 'v1', 'v2']);
        },
      );
    });

    it('RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE=N: N connections with valid tokens are welcomed, the next is RATE_LIMITED at the handshake', async function () {
      const N = 3;
      await withServer(
        { RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: String(N) },
        async (server, sockets) => {
          const R = 'ip-connections';
          const tryAuth = tryWith(server, sockets);
          const tryConnect = (identity: string) =>
            tryAuth({ token: tokenFor(R, identity, 'audience') });
          for (let i = 0; i < N; i++) {
            assert.equal(await tryConnect(`c${i}`), 'welcome', `connection ${i} welcomed`);
          }
          assert.deepEqual(await tryConnect('extra'), refusedBy.ceiling);
          assert.deepEqual(identities(server, R), ['c0', 'c1', 'c2']);
          // A fixed one-minute window: leaving gives no budget back.
          sockets[0]!.disconnect();
          await eventually(
            () => assert.equal(openRoom(server, R).participants.size, N - 1, 'participants'),
            5000,
            'c0 left',
          );
          assert.deepEqual(await tryConnect('extra'), refusedBy.ceiling);
          assert.deepEqual(identities(server, R), ['c1', 'c2']);
        },
      );
    });

    it('RATE_LIMIT_IP_REQUESTS_PER_SECOND=M is shared by two sockets of one IP, each allowed more on its own', async function () {
      const M = 10;
      await withServer(
        { RATE_LIMIT_IP_REQUESTS_PER_SECOND: String(M), RATE_LIMIT_REQUESTS_PER_SECOND: '100' },
        async (server, sockets) => {
          const R = 'ip-requests';
          // Connected, not joined: no request has come from this IP yet.
          const [a, b] = await Promise.all(
            ['s1', 's2'].map(async (identity) => {
              const client = await connected(server.url, {
                token: tokenFor(R, identity, 'audience'),
              });
              sockets.push(client.socket);
              return client;
            }),
          );
          // A request that needs no join: served → INVALID_STATE (no hand), refused → RATE_LIMITED.
          // Each burst is sent in one tick; the bursts of one window follow each other at once.
          const burst = async (client: Client, count: number) =>
            (
              await Promise.all(
                Array.from({ length: count }, () => request(client.socket, 'lowerHand', {})),
              )
            ).map(errorCode);
          const served = (n: number) => Array<string>(n).fill('INVALID_STATE');
          const limited = (n: number) => Array<string>(n).fill('RATE_LIMITED');

          assert.deepEqual(await burst(a!, 6), served(6)); // opens the IP's window
          assert.deepEqual(await burst(b!, 6), [...served(M - 6), ...limited(12 - M)]);
          // a has used 6 of its own 100, yet the IP's budget is spent.
          assert.deepEqual(await burst(a!, 1), limited(1));
          // Next window: both sockets are served again (they stayed usable), M in all.
          await windowOver();
          assert.deepEqual(await burst(b!, 4), served(4)); // opens the IP's next window
          assert.deepEqual(await burst(a!, 7), [...served(M - 4), ...limited(11 - M)]);
          assert.deepEqual(identities(server, R), ['s1', 's2']);
          assert.equal(a!.socket.connected && b!.socket.connected, true);
        },
      );
    });
  });

  describe('events kept for a suspended participant (MAX_BUFFERED_EVENTS = 2000)', function () {
    const LIMIT = 2000;
    const suite = useTestServer({
      RECONNECT_GRACE_MS: '60000',
      RATE_LIMIT_REQUESTS_PER_SECOND: '100000',
    });

    /** A joined host and a joined viewer; the host then drops without a goodbye. */
    async function hostDropped(R: string) {
      const hostToken = tokenFor(R, 'host', 'host');
      const host = await connected(suite.server.url, { token: hostToken });
      suite.sockets.push(host.socket);
      await join(host);
      const viewer = await connected(suite.server.url, {
        token: tokenFor(R, 'viewer', 'audience'),
      });
      suite.sockets.push(viewer.socket);
      const seen = nextEvent(host.socket, 'participantJoined');
      await join(viewer);
      await seen;
      const participant = openRoom(suite.server, R).participants.get('host')!;
      dropNetwork(host.socket);
      await eventually(() => assert.equal(participant.suspended, true), 5000, 'suspended');
      return { host, hostToken, viewer, participant };
    }

    /** The viewer raises its hand `count` times (message = index): one handRaised each to hosts. */
    async function raiseHands(viewer: Client, count: number): Promise<void> {
      for (let start = 0; start < count; start += 250) {
        const acks = await Promise.all(
          Array.from({ length: Math.min(250, count - start) }, (_, i) =>
            request(viewer.socket, 'raiseHand', { message: String(start + i) }),
          ),
        );
        for (const ack of acks) assert.ok(ack.ok, JSON.stringify(ack));
      }
    }

    it(`up to ${LIMIT} missed events: resumed, and every one arrives in order right behind the welcome`, async function () {
      const R = 'buffer-ok';
      const { host, hostToken, viewer, participant } = await hostDropped(R);
      await raiseHands(viewer, LIMIT);
      const back = await connected(suite.server.url, {
        token: hostToken,
        resume: host.welcome.resumeCredential,
      });
      suite.sockets.push(back.socket);
      assert.equal(back.welcome.resumed, true);
      assert.equal(openRoom(suite.server, R).participants.get('host'), participant);
      await eventually(() => assert.equal(back.events.of('handRaised').length, LIMIT), 10_000);
      await barrier(back.socket);
      assert.deepEqual(
        back.events.events.map((e) => e.event),
        ['welcome', ...Array<string>(LIMIT).fill('handRaised')],
      );
      assert.deepEqual(
        back.events.of('handRaised').map((h: HandRequest) => h.message),
        Array.from({ length: LIMIT }, (_, i) => String(i)),
      );
      assert.equal((await workerCounts(suite.server)).transports, 3);
    });

    it(`past ${LIMIT} missed events: the resume is refused, a fresh participant joins and reads the state anew`, async function () {
      const R = 'buffer-overflow';
      const { host, hostToken, viewer, participant } = await hostDropped(R);
      await raiseHands(viewer, LIMIT + 1);
      const back = await connected(suite.server.url, {
        token: hostToken,
        resume: host.welcome.resumeCredential,
      });
      suite.sockets.push(back.socket);
      assert.equal(back.welcome.resumed, false);
      assert.equal(participant.closed, true, 'the suspended participant is gone');
      const fresh = openRoom(suite.server, R).participants.get('host')!;
      assert.notEqual(fresh, participant);
      assert.equal(fresh.joined, false);
      assert.equal((await workerCounts(suite.server)).transports, 1, 'only the viewer’s is left');
      await barrierUnjoined(back.socket);
      assert.deepEqual(
        back.events.events.map((e) => e.event),
        ['welcome'],
        'nothing replayed',
      );
      const rejoined = nextEvent(viewer.socket, 'participantJoined', (p) => p.identity === 'host');
      const state = await join(back);
      await rejoined;
      // What it would have been told is in the join state instead.
      assert.deepEqual(
        state.handQueue.map((h) => [h.identity, h.message]),
        [['viewer', String(LIMIT)]],
      );
      assert.deepEqual(
        viewer.events.of('participantLeft').map((p) => p.identity),
        ['host'],
        'the others saw a leave and a join, not a silent gap',
      );
      assert.equal((await workerCounts(suite.server)).transports, 3);
    });
  });
});

/** Like `barrier`, for a participant that has not joined: INVALID_STATE after its queued work. */
async function barrierUnjoined(socket: TestSocket): Promise<void> {
  const ack = await request(socket, 'pauseConsumer', { consumerId: 'barrier' });
  if (errorCode(ack) !== 'INVALID_STATE') throw new Error(`barrier: ${JSON.stringify(ack)}`);
}
