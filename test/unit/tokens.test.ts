import assert from 'node:assert/strict';
import jwt from 'jsonwebtoken';
import { defaultGrants } from '../../server/src/auth/grants.js';
import { mintToken, TOKEN_AUDIENCE, verifyToken } from '../../server/src/auth/tokens.js';
import { AppError } from '../../server/src/errors.js';

const keys = { apiKey: 'key-1', apiSecret: 'secret-0123456789abcdef0123456789abcdef' };
const grants = defaultGrants('room-1', 'host');

/** Signs claims by hand, as an attacker or a foreign minter could. */
function signRaw(payload: object, options: jwt.SignOptions = { expiresIn: 60 }): string {
  return jwt.sign(payload, keys.apiSecret, {
    algorithm: 'HS256',
    issuer: keys.apiKey,
    subject: 'alice',
    audience: TOKEN_AUDIENCE,
    ...options,
  });
}

function rejected(token: unknown, reason: RegExp): void {
  assert.throws(
    () => verifyToken(keys, token),
    (error: unknown) =>
      error instanceof AppError && error.code === 'UNAUTHORIZED' && reason.test(error.message),
  );
}

describe('access tokens', function () {
  it('round-trips identity and grants', function () {
    const token = mintToken(keys, { identity: 'alice', grants, ttlSeconds: 60 });
    const verified = verifyToken(keys, token);
    assert.equal(verified.identity, 'alice');
    assert.deepEqual(verified.grants, grants);
    assert.ok(verified.expiresAt > Date.now() / 1000);
  });

  it('rejects an expired token', function () {
    rejected(signRaw({ grants }, { expiresIn: -10 }), /expired/);
  });

  it('rejects a token signed with another secret', function () {
    rejected(
      mintToken(
        { ...keys, apiSecret: 'another-secret-0123456789abcdef0123' },
        { identity: 'a', grants, ttlSeconds: 60 },
      ),
      /invalid/,
    );
  });

  it('rejects alg: none', function () {
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const claims = {
      grants,
      sub: 'alice',
      iss: keys.apiKey,
      aud: TOKEN_AUDIENCE,
      exp: Math.floor(Date.now() / 1000) + 60,
    };
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    rejected(`${header}.${body}.`, /invalid/);
  });

  it('rejects a wrong issuer', function () {
    rejected(
      mintToken({ ...keys, apiKey: 'other-key' }, { identity: 'a', grants, ttlSeconds: 60 }),
      /invalid/,
    );
  });

  it('rejects a token without exp', function () {
    rejected(signRaw({ grants }, {}), /claims/);
  });

  it('rejects missing or malformed grants', function () {
    rejected(signRaw({}), /claims/);
    rejected(signRaw({ grants: { ...grants, role: 'admin' } }), /claims/);
    rejected(signRaw({ grants: { room: 'r' } }), /claims/);
  });

  it('rejects a missing, non-string or oversized token', function () {
    rejected(undefined, /required/);
    rejected(42, /required/);
    rejected('x'.repeat(10_000), /too large/);
  });

  describe('on a clock the caller gives (no wall-clock races)', function () {
    // An arbitrary instant, a little past a second boundary, far from today.
    const T = Date.UTC(2030, 0, 1, 12, 0, 0) + 250;
    const token = mintToken(keys, { identity: 'alice', grants, ttlSeconds: 30, now: T });

    it('mints iat from `now` and exp = iat + ttlSeconds', function () {
      const { iat, exp } = jwt.decode(token) as jwt.JwtPayload;
      assert.equal(iat, Math.floor(T / 1000));
      assert.equal(exp, Math.floor(T / 1000) + 30);
      assert.equal(verifyToken(keys, token, { now: T }).expiresAt, exp);
    });

    it('is valid until the second before exp, expired from exp on', function () {
      const exp = Math.floor(T / 1000) + 30;
      assert.equal(verifyToken(keys, token, { now: exp * 1000 - 1 }).identity, 'alice');
      assert.throws(() => verifyToken(keys, token, { now: exp * 1000 }), /expired/);
    });
  });
});
