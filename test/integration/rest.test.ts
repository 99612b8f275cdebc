import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { verifyToken } from '../../server/src/auth/tokens.js';
import { REPO_ROOT } from '../../server/src/http/app.js';
import { connectRaw, request, tokenFor } from '../helpers/client.js';
import { TEST_KEYS, useTestServer } from '../helpers/server.js';

const run = promisify(execFile);

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

interface ApiBody {
  error?: { code: string; message: string };
  token?: string;
  expiresAt?: number;
  [field: string]: unknown;
}

const GOOD_AUTH = basic(TEST_KEYS.apiKey, TEST_KEYS.apiSecret);

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * A token's lifetime from its own claims: exp - iat is exact, and iat lies between two readings
 * of the clock taken around the minting; nothing depends on how long minting took.
 */
function assertLifetime(token: string, ttlSeconds: number, before: number, after: number): void {
  const { iat, exp } = jwt.decode(token) as jwt.JwtPayload;
  assert.ok(iat !== undefined && exp !== undefined, 'iat and exp claims');
  assert.equal(exp - iat, ttlSeconds);
  assert.ok(iat >= before && iat <= after, `iat ${iat} within [${before}, ${after}]`);
}

describe('REST API: tokens and rooms', function () {
  const suite = useTestServer();
  const { sockets } = suite;

  async function call(
    method: string,
    path: string,
    body: unknown,
    authorization?: string,
  ): Promise<{ status: number; headers: Headers; body: ApiBody }> {
    const response = await fetch(`${suite.server.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(authorization ? { authorization } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as ApiBody,
    };
  }

  function assertError(
    result: { status: number; body: { error?: { code: string; message: string } } },
    status: number,
    code: string,
  ) {
    assert.equal(result.status, status, JSON.stringify(result.body));
    assert.equal(result.body.error?.code, code);
    assert.equal(typeof result.body.error?.message, 'string');
  }

  async function connected(room: string, identity: string, join: boolean) {
    const { socket, welcome } = await connectRaw(
      suite.server.url,
      tokenFor(room, identity, 'audience'),
    );
    sockets.push(socket);
    if (join) {
      const ack = await request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
      assert.ok(ack.ok, `join failed: ${JSON.stringify(ack)}`);
    }
    const participant = suite.server.rooms.rooms.get(room)?.participants.get(identity);
    assert.ok(participant, 'participant is in the room');
    return participant;
  }

  const validToken = { room: 'rest', identity: 'alice', role: 'guest' };

  describe('POST /api/tokens', function () {
    it('without credentials: 401 UNAUTHORIZED with a Basic challenge', async function () {
      for (const authorization of [undefined, 'Bearer abc', 'Basic !!!', basic('', '')]) {
        const result = await call('POST', '/api/tokens', validToken, authorization);
        assertError(result, 401, 'UNAUTHORIZED');
        assert.equal(result.headers.get('www-authenticate'), 'Basic realm="livestage"');
      }
    });

    it('with a wrong secret or key: 401 UNAUTHORIZED', async function () {
      const wrong = [
        basic(TEST_KEYS.apiKey, `${TEST_KEYS.apiSecret.slice(0, -1)}x`),
        basic(TEST_KEYS.apiKey, `${TEST_KEYS.apiSecret}x`),
        basic(TEST_KEYS.apiKey, ''),
        basic('other-key', TEST_KEYS.apiSecret),
      ];
      for (const authorization of wrong) {
        assertError(
          await call('POST', '/api/tokens', validToken, authorization),
          401,
          'UNAUTHORIZED',
        );
      }
    });

    it('with the key pair: a token the suite.server accepts, with the role grants', async function () {
      const before = nowSeconds();
      const result = await call(
        'POST',
        '/api/tokens',
        { ...validToken, name: 'Alice', metadata: '{"seat":3}', ttlSeconds: 120 },
        GOOD_AUTH,
      );
      const after = nowSeconds();
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.identity, 'alice');
      const verified = verifyToken(TEST_KEYS, result.body.token);
      assert.equal(verified.identity, 'alice');
      assert.deepEqual(verified.grants, {
        room: 'rest',
        role: 'guest',
        canPublish: true,
        canSubscribe: true,
        canChat: true,
        name: 'Alice',
        metadata: '{"seat":3}',
      });
      assert.equal(result.body.expiresAt, verified.expiresAt);
      assertLifetime(result.body.token!, 120, before, after);

      // Defaults: the configured TTL; an audience token cannot publish.
      const audience = await call(
        'POST',
        '/api/tokens',
        { ...validToken, role: 'audience' },
        GOOD_AUTH,
      );
      assert.equal(audience.status, 200);
      const { token, expiresAt } = audience.body;
      assert.ok(token && expiresAt);
      assert.equal(verifyToken(TEST_KEYS, token).grants.canPublish, false);
      assertLifetime(token, suite.server.config.auth.defaultTtlSeconds, before, nowSeconds());
      // And the signaling suite.server takes it.
      const { socket } = await connectRaw(suite.server.url, token);
      sockets.push(socket);
    });

    it('a bad body: 400 INVALID_PAYLOAD', async function () {
      const bad: unknown[] = [
        { ...validToken, role: 'admin' },
        { ...validToken, canPublish: true },
        { ...validToken, ttlSeconds: 0 },
        { ...validToken, ttlSeconds: 86_401 },
        { ...validToken, ttlSeconds: 1.5 },
        { ...validToken, room: 'no spaces' },
        { ...validToken, identity: '' },
        { room: 'rest', identity: 'alice' },
        [],
        null,
      ];
      for (const body of bad) {
        assertError(await call('POST', '/api/tokens', body, GOOD_AUTH), 400, 'INVALID_PAYLOAD');
      }
      const response = await fetch(`${suite.server.url}/api/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: GOOD_AUTH },
        body: '{"room":',
      });
      assert.equal(response.status, 400);
    });
  });

  describe('rooms', function () {
    const path = (room: string, identity: string) => `/api/rooms/${room}/participants/${identity}`;
    const patchCap = (
      room: string,
      identity: string,
      maxOutgoingBitrate: number | null,
      authorization: string | undefined,
    ) => call('PATCH', path(room, identity), { maxOutgoingBitrate }, authorization);

    it('GET /api/rooms lists rooms with their participant counts', async function () {
      await connected('listed', 'viewer-l1', true);
      await connected('listed', 'viewer-l2', false);
      assert.equal((await call('GET', '/api/rooms', undefined)).status, 401, 'needs the API key');
      const result = await call(
        'GET',
        '/api/rooms',
        undefined,
        basic(TEST_KEYS.apiKey, TEST_KEYS.apiSecret),
      );
      assert.equal(result.status, 200);
      // Rooms of earlier tests may still be closing, so only this one is checked.
      const rooms = result.body.rooms as { name: string; participants: number }[];
      assert.deepEqual(
        rooms.find((room) => room.name === 'listed'),
        { name: 'listed', participants: 2 },
      );
    });

    it('PATCH without or with wrong credentials: 401, nothing changed', async function () {
      const participant = await connected('cap-auth', 'viewer-a', true);
      for (const authorization of [undefined, basic(TEST_KEYS.apiKey, 'wrong')]) {
        const result = await patchCap('cap-auth', 'viewer-a', 200_000, authorization);
        assertError(result, 401, 'UNAUTHORIZED');
      }
      assert.equal(participant.maxOutgoingBitrate, null);
    });

    it('PATCH an unknown room or participant: 404 NOT_FOUND', async function () {
      await connected('cap-404', 'viewer-b', true);
      for (const target of [path('cap-404', 'nobody'), path('no-room', 'viewer-b')]) {
        const result = await call('PATCH', target, { maxOutgoingBitrate: 200_000 }, GOOD_AUTH);
        assertError(result, 404, 'NOT_FOUND');
      }
    });

    it('PATCH a participant that has not joined yet: 409 INVALID_STATE', async function () {
      await connected('cap-early', 'viewer-e', false);
      const result = await patchCap('cap-early', 'viewer-e', 200_000, GOOD_AUTH);
      assertError(result, 409, 'INVALID_STATE');
    });

    it('PATCH a bad body: 400 INVALID_PAYLOAD', async function () {
      await connected('cap-bad', 'viewer-x', true);
      const bad: unknown[] = [
        {},
        { maxOutgoingBitrate: 29_999 },
        { maxOutgoingBitrate: 100_000_001 },
        { maxOutgoingBitrate: 250_000.5 },
        { maxOutgoingBitrate: '250000' },
        { maxOutgoingBitrate: 250_000, extra: 1 },
      ];
      for (const body of bad) {
        assertError(
          await call('PATCH', path('cap-bad', 'viewer-x'), body, GOOD_AUTH),
          400,
          'INVALID_PAYLOAD',
        );
      }
    });

    it('PATCH caps the receive transport in the worker; null removes the cap', async function () {
      const participant = await connected('cap', 'viewer-c', true);
      const transport = participant.recvTransport!;
      // The worker refuses a min outgoing bitrate above its current max: a probe of its real state.
      const probe = (bitrate: number) => transport.setMinOutgoingBitrate(bitrate);

      const capped = await patchCap('cap', 'viewer-c', 250_000, GOOD_AUTH);
      assert.equal(capped.status, 200, JSON.stringify(capped.body));
      // The answer is the participant as the admin API lists it (GET .../participants).
      assert.equal(capped.body.identity, 'viewer-c');
      assert.equal(capped.body.maxOutgoingBitrate, 250_000);
      assert.equal(participant.maxOutgoingBitrate, 250_000);
      await assert.rejects(probe(250_001), /current max outgoing bitrate \(250000\)/);

      const lowest = await patchCap('cap', 'viewer-c', 30_000, GOOD_AUTH);
      assert.equal(lowest.status, 200, JSON.stringify(lowest.body));
      await assert.rejects(probe(30_001), /current max outgoing bitrate \(30000\)/);

      const removed = await patchCap('cap', 'viewer-c', null, GOOD_AUTH);
      assert.equal(removed.status, 200, JSON.stringify(removed.body));
      assert.equal(removed.body.identity, 'viewer-c');
      assert.equal(removed.body.maxOutgoingBitrate, null);
      assert.equal(participant.maxOutgoingBitrate, null);
      await probe(90_000_000); // accepted: no max any more
      await probe(0);
    });
  });

  describe('scripts/token.ts', function () {
    this.timeout(60_000); // each run starts node with tsx
    const args = ['--room', 'cli-room', '--identity', 'cli-user', '--role', 'host'];

    function runCli(cliArgs: string[], env: Record<string, string>) {
      const inherited = Object.fromEntries(
        Object.entries(process.env).filter(([name]) => !name.startsWith('LIVESTAGE_API_')),
      );
      return run(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...cliArgs], {
        cwd: REPO_ROOT,
        env: { ...inherited, NODE_ENV: 'development', ...env },
      });
    }

    const keysEnv = {
      LIVESTAGE_API_KEY: TEST_KEYS.apiKey,
      LIVESTAGE_API_SECRET: TEST_KEYS.apiSecret,
    };

    it('prints only a token the suite.server accepts', async function () {
      const before = nowSeconds();
      const { stdout } = await runCli([...args, '--name', 'Cli', '--ttl', '90'], keysEnv);
      const after = nowSeconds();
      const token = stdout.trim();
      assert.equal(stdout, `${token}\n`);
      assert.doesNotMatch(token, /\s/);
      const verified = verifyToken(TEST_KEYS, token);
      assert.equal(verified.identity, 'cli-user');
      assert.deepEqual(verified.grants, {
        room: 'cli-room',
        role: 'host',
        canPublish: true,
        canSubscribe: true,
        canChat: true,
        name: 'Cli',
      });
      // However long the child process took to start, the token lives exactly --ttl seconds.
      assertLifetime(token, 90, before, after);
    });

    it('refuses to mint with a throwaway key (exit 2) and rejects bad arguments (exit 2)', async function () {
      await assert.rejects(
        runCli(args, {}),
        (error: { code: number; stdout: string; stderr: string }) => {
          assert.equal(error.code, 2);
          assert.equal(error.stdout, '');
          assert.match(error.stderr, /throwaway key/);
          return true;
        },
      );
      const bad = [
        ['--room', 'r', '--identity', 'i', '--role', 'admin'],
        ['--room', 'r', '--role', 'host'],
        [...args, '--ttl', '0'],
        [...args, '--bogus'],
      ];
      await Promise.all(
        bad.map((cliArgs) =>
          assert.rejects(
            runCli(cliArgs, keysEnv),
            (error: { code: number; stdout: string; stderr: string }) => {
              assert.equal(error.code, 2, cliArgs.join(' '));
              assert.equal(error.stdout, '');
              assert.match(error.stderr, /usage: /);
              return true;
            },
          ),
        ),
      );
    });
  });
});

describe('GET /api/dev/token (mints any role for anyone)', function () {
  const devToken = (url: string) => fetch(`${url}/api/dev/token?room=dev&role=host`);

  describe('with API keys set and DEV_ENDPOINTS unset', function () {
    // '' unsets the helper's DEV_ENDPOINTS=true: what a real deployment with keys gets.
    const suite = useTestServer({ DEV_ENDPOINTS: '' });

    it('is not there: 404 NOT_FOUND', async function () {
      assert.equal(suite.server.config.devEndpoints, false);
      const response = await devToken(suite.server.url);
      assert.equal(response.status, 404);
      const body = (await response.json()) as ApiBody;
      assert.equal(body.error?.code, 'NOT_FOUND');
      assert.equal(body.token, undefined);
    });
  });

  describe('with API keys set and DEV_ENDPOINTS=true', function () {
    const suite = useTestServer({ DEV_ENDPOINTS: 'true' });

    it('mints the asked-for role with the configured keys', async function () {
      const response = await devToken(suite.server.url);
      assert.equal(response.status, 200);
      const body = (await response.json()) as ApiBody;
      assert.equal(verifyToken(TEST_KEYS, body.token).grants.role, 'host');
    });
  });
});
