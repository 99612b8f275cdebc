/**
 * Hostile access tokens, crafted byte by byte (base64url header.payload.signature with node:crypto)
 * rather than through jsonwebtoken, as an attacker would. The basics (round trip, expired via
 * jsonwebtoken, another secret, `alg: none` with an empty signature, wrong issuer, no exp, missing
 * or malformed grants, undefined/42/10 000-char tokens) live in test/unit/tokens.test.ts; this file
 * only adds what that one does not cover. Every refusal must be an AppError UNAUTHORIZED, never
 * another error type (which the signaling handshake would turn into INTERNAL).
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import type { ErrorBody } from '@livestage/protocol';
import { defaultGrants, grantsSchema } from '../../server/src/auth/grants.js';
import {
  identitySchema,
  mintToken,
  TOKEN_AUDIENCE,
  verifyToken,
} from '../../server/src/auth/tokens.js';
import { AppError } from '../../server/src/errors.js';
import { connectRaw } from '../helpers/client.js';
import { startTestServer, TEST_KEYS } from '../helpers/server.js';

const keys = TEST_KEYS;
const MAX_TOKEN_LENGTH = 8192;

const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const unb64 = (part: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Claims that verifyToken accepts when correctly signed; tests override or drop one at a time. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    grants: defaultGrants('room-1', 'audience'),
    sub: 'mallory',
    iss: keys.apiKey,
    aud: TOKEN_AUDIENCE,
    iat: nowSeconds(),
    exp: nowSeconds() + 600,
    ...overrides,
  };
}

function without(object: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...object };
  delete copy[key];
  return copy;
}

type Signer = (input: string) => string;

const hmac =
  (hash: 'sha256' | 'sha384' | 'sha512', key: crypto.BinaryLike): Signer =>
  (input) =>
    crypto.createHmac(hash, key).update(input).digest('base64url');
const hs256 = hmac('sha256', keys.apiSecret);

/** header.payload.signature; header and payload are JSON-encoded unless already strings. */
function craft(header: unknown, payload: unknown, sign: Signer = hs256): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign(input)}`;
}

const HS256 = { alg: 'HS256', typ: 'JWT' };

/** Asserts `token` is refused with an AppError UNAUTHORIZED (reason optional) and nothing else. */
function refused(token: unknown, reason?: RegExp, verifyKeys = keys): AppError {
  let thrown: unknown;
  let accepted: unknown;
  try {
    accepted = verifyToken(verifyKeys, token);
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown !== undefined, `token was accepted: ${JSON.stringify(accepted)}`);
  assert.ok(
    thrown instanceof AppError,
    `threw ${(thrown as Error)?.constructor?.name} instead of AppError: ${String(thrown)}`,
  );
  assert.equal(thrown.code, 'UNAUTHORIZED');
  if (reason) assert.match(thrown.message, reason);
  return thrown;
}

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPublicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const rsaPublicPkcs1Pem = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const rs256: Signer = (input) =>
  crypto.sign('sha256', Buffer.from(input), rsa.privateKey).toString('base64url');

/** A few of the crafted tokens, replayed at the real socket.io handshake at the end. */
const handshakeSamples: { name: string; token: unknown }[] = [];
function sample(name: string, token: unknown): unknown {
  handshakeSamples.push({ name, token });
  return token;
}

describe('access tokens under attack (hand-crafted JWTs)', function () {
  it('control: a hand-crafted HS256 token with the right claims is accepted', function () {
    // Proves the crafting below is right, so every refusal is for the reason under test.
    const verified = verifyToken(keys, craft(HS256, claims()));
    assert.equal(verified.identity, 'mallory');
    assert.equal(verified.grants.role, 'audience');
  });

  describe('algorithm confusion', function () {
    it('refuses alg none in any spelling, with or without a signature', function () {
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const header = { alg, typ: 'JWT' };
        refused(
          craft(header, claims(), () => ''),
          /invalid/,
        );
        // A signature that is even the correct HS256 MAC of the input must not help.
        refused(sample(`alg ${alg} + HS256 signature`, craft(header, claims())), /invalid/);
        refused(
          craft(header, claims(), () => 'c2lnbmF0dXJl'),
          /invalid/,
        );
      }
      // Two parts only (no trailing dot), and alg missing or null altogether.
      refused(`${b64({ alg: 'none' })}.${b64(claims())}`, /invalid/);
      refused(craft({ typ: 'JWT' }, claims()), /invalid/);
      refused(craft({ alg: null, typ: 'JWT' }, claims()), /invalid/);
    });

    it('refuses HS256 keyed with the RSA public key (HS/RS confusion)', function () {
      for (const pem of [rsaPublicPem, rsaPublicPkcs1Pem, rsaPublicPem.trim()]) {
        refused(
          sample('HS256 keyed with RSA public PEM', craft(HS256, claims(), hmac('sha256', pem))),
          /invalid/,
        );
      }
      // Even if an operator pasted the public key PEM as the API secret, jsonwebtoken refuses to
      // use an asymmetric key for HMAC, so the classic confusion stays closed.
      refused(craft(HS256, claims(), hmac('sha256', rsaPublicPem)), /invalid/, {
        ...keys,
        apiSecret: rsaPublicPem,
      });
    });

    it('refuses RS256, PS256 and ES256, even validly signed with a private key', function () {
      refused(sample('RS256', craft({ alg: 'RS256', typ: 'JWT' }, claims(), rs256)), /invalid/);
      // ... also when the verifier's "secret" is that very public key.
      refused(craft({ alg: 'RS256', typ: 'JWT' }, claims(), rs256), /invalid/, {
        ...keys,
        apiSecret: rsaPublicPem,
      });
      const ps256: Signer = (input) =>
        crypto
          .sign('sha256', Buffer.from(input), {
            key: rsa.privateKey,
            padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
            saltLength: 32,
          })
          .toString('base64url');
      refused(craft({ alg: 'PS256', typ: 'JWT' }, claims(), ps256), /invalid/);
      const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const es256: Signer = (input) =>
        crypto
          .sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' })
          .toString('base64url');
      refused(craft({ alg: 'ES256', typ: 'JWT' }, claims(), es256), /invalid/);
    });

    it('refuses HS384 and HS512 signed with the right secret (HS256 is pinned)', function () {
      refused(
        sample(
          'HS384 right secret',
          craft({ alg: 'HS384', typ: 'JWT' }, claims(), hmac('sha384', keys.apiSecret)),
        ),
        /invalid/,
      );
      refused(
        sample(
          'HS512 right secret',
          craft({ alg: 'HS512', typ: 'JWT' }, claims(), hmac('sha512', keys.apiSecret)),
        ),
        /invalid/,
      );
      // Near-miss spellings of HS256 with a correct HS256 MAC.
      for (const alg of ['hs256', 'HS256 ', 'HS-256', 'HMAC-SHA256']) {
        refused(craft({ alg, typ: 'JWT' }, claims()), /invalid/);
      }
    });
  });

  describe('registered claims', function () {
    it('refuses missing, malformed or non-finite exp', function () {
      refused(sample('no exp', craft(HS256, without(claims(), 'exp'))), /claims/);
      refused(craft(HS256, claims({ exp: String(nowSeconds() + 600) })), /invalid/);
      refused(craft(HS256, claims({ exp: null })), /invalid/);
      refused(craft(HS256, claims({ exp: [nowSeconds() + 600] })), /invalid/);
      // 1e400 parses to Infinity: never expires for jsonwebtoken, but not a finite number for zod.
      refused(
        craft(
          HS256,
          `{"grants":${JSON.stringify(claims().grants)},"sub":"mallory","iss":"${keys.apiKey}","aud":"${TOKEN_AUDIENCE}","exp":1e400}`,
        ),
        /claims/,
      );
    });

    it('refuses exp now, in the past, zero or negative', function () {
      refused(sample('expired', craft(HS256, claims({ exp: nowSeconds() - 1 }))), /expired/);
      refused(craft(HS256, claims({ exp: nowSeconds() })), /expired/);
      refused(craft(HS256, claims({ exp: 0 })), /expired/);
      refused(craft(HS256, claims({ exp: -1 })), /expired/);
    });

    it('refuses nbf in the future or malformed', function () {
      refused(sample('nbf future', craft(HS256, claims({ nbf: nowSeconds() + 60 }))), /invalid/);
      refused(craft(HS256, claims({ nbf: nowSeconds() + 3600 * 24 * 365 })), /invalid/);
      refused(craft(HS256, claims({ nbf: 'now' })), /invalid/);
      // Control: nbf in the past is fine.
      assert.equal(
        verifyToken(keys, craft(HS256, claims({ nbf: nowSeconds() - 5 }))).identity,
        'mallory',
      );
    });

    it('refuses a missing, differently spelled or array issuer', function () {
      refused(sample('wrong iss', craft(HS256, claims({ iss: 'attacker-key' }))), /invalid/);
      refused(craft(HS256, without(claims(), 'iss')), /invalid/);
      for (const iss of [keys.apiKey.toUpperCase(), `${keys.apiKey} `, '', [keys.apiKey], null]) {
        refused(craft(HS256, claims({ iss })), /invalid/);
      }
    });

    it('refuses a missing or wrong audience', function () {
      refused(sample('wrong aud', craft(HS256, claims({ aud: 'other-service' }))), /invalid/);
      refused(craft(HS256, without(claims(), 'aud')), /invalid/);
      for (const aud of [
        TOKEN_AUDIENCE.toUpperCase(),
        `${TOKEN_AUDIENCE}-admin`,
        '',
        ['other'],
        [],
      ]) {
        refused(craft(HS256, claims({ aud })), /invalid/);
      }
    });

    it('refuses a missing, empty, non-string or out-of-pattern subject', function () {
      refused(sample('no sub', craft(HS256, without(claims(), 'sub'))), /claims/);
      for (const sub of [
        '',
        42,
        null,
        ['mallory'],
        { id: 'mallory' },
        '../host',
        'a b',
        'x'.repeat(129),
      ]) {
        refused(craft(HS256, claims({ sub })), /claims|invalid/);
      }
    });

    it('refuses a non-object payload, even correctly signed', function () {
      for (const payload of [
        '"mallory"',
        '42',
        'null',
        '[]',
        JSON.stringify([claims()]),
        'not json',
      ]) {
        refused(craft(HS256, payload), /invalid|claims/);
      }
    });
  });

  describe('size limit', function () {
    /** A correctly signed, otherwise valid token padded (extra top-level claim) to `length` chars. */
    function paddedTo(length: number): string | undefined {
      const unpadded = craft(HS256, claims({ jti: 'j', pad: '' })).length;
      // Each 3 payload bytes take 4 base64url chars; start a little below the estimate.
      for (
        let pad = Math.max(0, Math.floor(((length - unpadded) * 3) / 4) - 8);
        pad < length;
        pad += 1
      ) {
        for (const jtiLength of [1, 2, 3]) {
          const token = craft(HS256, claims({ jti: 'j'.repeat(jtiLength), pad: 'p'.repeat(pad) }));
          if (token.length === length) return token;
          if (token.length > length + 4) return undefined;
        }
      }
      return undefined;
    }

    it('accepts a valid token of exactly 8192 chars and refuses one of 8193 before the signature', function () {
      const atLimit = paddedTo(MAX_TOKEN_LENGTH);
      assert.ok(atLimit, 'could craft an 8192-char token');
      assert.equal(verifyToken(keys, atLimit).identity, 'mallory');
      const overLimit = paddedTo(MAX_TOKEN_LENGTH + 1) ?? paddedTo(MAX_TOKEN_LENGTH + 2);
      assert.ok(overLimit, 'could craft an 8193/8194-char token');
      refused(sample('validly signed, 8193+ chars', overLimit), /too large/);
      // Far larger, and with multi-byte characters (length is in UTF-16 code units).
      refused(craft(HS256, claims({ pad: 'p'.repeat(1_000_000) })), /too large/);
      refused(`${'é'.repeat(MAX_TOKEN_LENGTH)}.a.b`, /too large/);
    });
  });

  describe('tampering', function () {
    const audienceToken = (): string =>
      mintToken(keys, {
        identity: 'viewer',
        grants: defaultGrants('room-1', 'audience'),
        ttlSeconds: 600,
      });

    function tamper(token: string, edit: (payload: Record<string, unknown>) => void): string {
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const decoded = unb64(payload);
      edit(decoded);
      return `${header}.${b64(decoded)}.${signature}`;
    }

    it('refuses grants edited after signing (role audience→host, canPublish false→true, room)', function () {
      const token = audienceToken();
      assert.equal(verifyToken(keys, token).grants.role, 'audience');
      const asHost = tamper(token, (p) => {
        p.grants = { ...(p.grants as object), role: 'host', canPublish: true };
      });
      refused(sample('tampered role→host', asHost), /invalid/);
      refused(
        tamper(token, (p) => {
          (p.grants as { canPublish: boolean }).canPublish = true;
        }),
        /invalid/,
      );
      refused(
        tamper(token, (p) => {
          (p.grants as { room: string }).room = 'someone-elses-room';
        }),
        /invalid/,
      );
      refused(
        tamper(token, (p) => {
          p.exp = (p.exp as number) + 3600 * 24 * 365;
        }),
        /invalid/,
      );
      refused(
        tamper(token, (p) => {
          p.sub = 'host-identity';
        }),
        /invalid/,
      );
    });

    it('refuses a signature spliced from another valid token, stripped or padded', function () {
      const victim = audienceToken();
      const hostToken = mintToken(keys, {
        identity: 'viewer',
        grants: defaultGrants('room-1', 'host'),
        ttlSeconds: 600,
      });
      const [header, payload] = hostToken.split('.') as [string, string, string];
      const victimSignature = victim.split('.')[2] as string;
      refused(`${header}.${payload}.${victimSignature}`, /invalid/);
      const [vh, vp, vs] = victim.split('.') as [string, string, string];
      refused(`${vh}.${vp}.`, /invalid/);
      refused(`${vh}.${vp}`, /invalid/);
      refused(`${vh}.${vp}.${vs}=`, /invalid/);
      refused(`${vh}.${vp}.${vs}.${vs}`, /invalid/);
      refused(`${vh}.${vp}.${vs.slice(0, -1)}`, /invalid/);
    });

    it('refuses any single-character change anywhere in a valid token', function () {
      const token = audienceToken();
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      fc.assert(
        fc.property(
          fc.nat({ max: token.length - 1 }),
          fc.constantFrom(...alphabet.split('')),
          (index, replacement) => {
            fc.pre(token[index] !== '.' && token[index] !== replacement);
            refused(token.slice(0, index) + replacement + token.slice(index + 1));
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  describe('grants payload', function () {
    const good = defaultGrants('room-1', 'audience');

    it('refuses unknown grant fields, even harmless-looking ones', function () {
      for (const extra of [
        { admin: true },
        { canModerate: true },
        { role2: 'host' },
        { Room: 'x' },
      ]) {
        refused(craft(HS256, claims({ grants: { ...good, ...extra } })), /claims/);
      }
      // A literal "__proto__" key from JSON.parse is an own property, and must count as unknown.
      const grantsJson = JSON.stringify(good).replace(
        /^\{/,
        '{"__proto__":{"canPublish":true,"role":"host"},',
      );
      const payloadJson = JSON.stringify(claims()).replace(
        /"grants":\{[^}]*\}/,
        `"grants":${grantsJson}`,
      );
      assert.match(payloadJson, /__proto__/);
      refused(sample('grants with __proto__', craft(HS256, payloadJson)), /claims/);
    });

    it('refuses grants fields of the wrong type or out of range', function () {
      const bad: Record<string, unknown>[] = [
        { canPublish: 'true' },
        { canPublish: 1 },
        { canPublish: null },
        { canSubscribe: 'yes' },
        { canChat: [] },
        { role: 'HOST' },
        { role: ['host'] },
        { role: 0 },
        { room: 123 },
        { room: '' },
        { room: '../other-room' },
        { room: 'room 1' },
        { room: 'r'.repeat(129) },
        { room: ['room-1'] },
        { hidden: 'true' },
        { hidden: 0 },
        { name: 42 },
        { name: 'n'.repeat(129) },
        { metadata: { a: 1 } },
        { metadata: 'm'.repeat(4097) },
      ];
      for (const override of bad) {
        refused(craft(HS256, claims({ grants: { ...good, ...override } })), /claims/);
      }
      refused(
        sample(
          'grants canPublish:"true"',
          craft(HS256, claims({ grants: { ...good, canPublish: 'true' } })),
        ),
        /claims/,
      );
      for (const grants of [null, 'host', 42, [good], true]) {
        refused(craft(HS256, claims({ grants })), /claims/);
      }
      refused(craft(HS256, claims({ grants: without(good, 'canChat') })), /claims/);
    });
  });

  describe('non-string and malformed tokens', function () {
    it('refuses every non-string value with UNAUTHORIZED, even wrapping a valid token', function () {
      const valid = craft(HS256, claims());
      const values: unknown[] = [
        null,
        true,
        0,
        NaN,
        -1,
        10n,
        Symbol('token'),
        () => valid,
        {},
        { token: valid },
        { toString: () => valid },
        [],
        [valid],
        Buffer.from(valid),
        new String(valid),
        new Date(),
      ];
      for (const value of values) refused(value, /required/);
      sample('object wrapping a valid token', { token: valid });
      sample('array with a valid token', [valid]);
      sample('number', 12345);
    });

    it('refuses structurally broken tokens', function () {
      const valid = craft(HS256, claims());
      for (const token of [
        '.',
        '..',
        '...',
        'a.b',
        'a.b.c',
        'a.b.c.d',
        'a.b.c.d.e', // JWE compact shape
        `${b64('not json')}.${b64(claims())}.x`,
        `${b64([HS256])}.${b64(claims())}.x`,
        ` ${valid}`,
        `${valid} `,
        `${valid}\n`,
        `Bearer ${valid}`,
        valid.replaceAll('.', ' . '),
        '\u0000'.repeat(100),
      ]) {
        refused(token);
      }
      sample('Bearer prefix', `Bearer ${valid}`);
    });
  });

  describe('header key-selection tricks', function () {
    let sink: http.Server;
    let sinkUrl: string;
    const hits: string[] = [];

    before(async function () {
      sink = http.createServer((req, res) => {
        hits.push(`${req.method} ${req.url}`);
        res.end(JSON.stringify({ keys: [{ kty: 'oct', k: b64('attacker-secret') }] }));
      });
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
      sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    });

    after(async function () {
      await new Promise((resolve) => sink.close(resolve));
    });

    it('refuses kid/jku/x5u/jwk/x5c tricks and fetches nothing', async function () {
      const fetchCalls: string[] = [];
      const realFetch = globalThis.fetch;
      globalThis.fetch = ((input: unknown) => {
        fetchCalls.push(String(input));
        return Promise.reject(new Error('no fetching during token verification'));
      }) as typeof fetch;
      try {
        const attacker = hmac('sha256', 'attacker-secret');
        const jwk = rsa.publicKey.export({ format: 'jwk' });
        const cases: [string, object, Signer][] = [
          // kid pointing at a file whose contents (empty) would become the key.
          [
            'kid path traversal',
            { ...HS256, kid: '../../../../../../dev/null' },
            hmac('sha256', ''),
          ],
          [
            'kid SQL injection',
            { ...HS256, kid: "x' UNION SELECT 'attacker-secret' --" },
            attacker,
          ],
          ['kid command injection', { ...HS256, kid: '|curl ' + sinkUrl + '/kid' }, attacker],
          ['jku to attacker JWKS', { ...HS256, jku: `${sinkUrl}/jwks.json`, kid: 'a' }, attacker],
          ['x5u to attacker cert', { alg: 'RS256', typ: 'JWT', x5u: `${sinkUrl}/cert.pem` }, rs256],
          ['embedded RSA jwk', { alg: 'RS256', typ: 'JWT', jwk }, rs256],
          [
            'embedded oct jwk',
            { ...HS256, jwk: { kty: 'oct', k: b64('attacker-secret') } },
            attacker,
          ],
          ['embedded x5c', { alg: 'RS256', typ: 'JWT', x5c: [b64('not a cert')] }, rs256],
          [
            'jku with own alg HS256 + secret',
            { ...HS256, jku: `${sinkUrl}/k`, x5u: `${sinkUrl}/c` },
            attacker,
          ],
        ];
        for (const [name, header, sign] of cases) {
          const token = craft(header, claims(), sign);
          refused(token, /invalid/);
          if (name.startsWith('jku') || name.startsWith('x5u')) sample(name, token);
        }
        // Anything asynchronous would have had time to reach the sink by now.
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(hits, [], 'the verifier fetched a URL from a token header');
        assert.deepEqual(fetchCalls, [], 'the verifier called fetch');
      } finally {
        globalThis.fetch = realFetch;
      }
    });
  });

  describe('properties (fast-check)', function () {
    it('any string or value: refused with UNAUTHORIZED and nothing else', function () {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ maxLength: 300 }),
            fc.string({ unit: 'binary', maxLength: 300 }),
            fc.tuple(fc.string(), fc.string(), fc.string()).map((parts) => parts.join('.')),
            fc.anything(),
          ),
          (token) => {
            refused(token);
          },
        ),
        { numRuns: 1000 },
      );
    });

    it('any JSON correctly signed: either refused with UNAUTHORIZED, or well-formed claims', function () {
      fc.assert(
        fc.property(
          fc.record({
            header: fc.oneof(
              fc.constant<unknown>(HS256),
              fc.dictionary(fc.string(), fc.jsonValue()).map((extra) => ({ ...extra, ...HS256 })),
              fc.jsonValue(),
            ),
            payload: fc.oneof(
              fc.jsonValue(),
              fc
                .dictionary(fc.string(), fc.jsonValue())
                .map((extra) => ({ ...claims(), ...extra })),
              fc
                .dictionary(fc.string(), fc.jsonValue())
                .map((extra) =>
                  claims({ grants: { ...defaultGrants('room-1', 'guest'), ...extra } }),
                ),
            ),
          }),
          ({ header, payload }) => {
            const token = craft(header, payload);
            let result;
            try {
              result = verifyToken(keys, token);
            } catch (error) {
              assert.ok(error instanceof AppError, `non-AppError: ${String(error)}`);
              assert.equal(error.code, 'UNAUTHORIZED');
              return;
            }
            assert.ok(grantsSchema.safeParse(result.grants).success);
            assert.ok(identitySchema.safeParse(result.identity).success);
            assert.ok(Number.isFinite(result.expiresAt) && result.expiresAt > nowSeconds());
          },
        ),
        { numRuns: 1000 },
      );
    });
  });

  describe('at the socket.io handshake (real server)', function () {
    it('refuses a sample of the crafted tokens with UNAUTHORIZED, never INTERNAL', async function () {
      this.timeout(10_000);
      // The samples are collected by the tests above; with --grep on this test alone there are none.
      if (handshakeSamples.length === 0) this.skip();
      const server = await startTestServer();
      try {
        const outcomes: string[] = [];
        for (const { name, token } of handshakeSamples) {
          const code = await connectRaw(server.url, token as string).then(
            ({ socket }) => {
              socket.disconnect();
              return 'ACCEPTED';
            },
            (error: { data?: ErrorBody }) => error.data?.code ?? `no code: ${String(error)}`,
          );
          if (code !== 'UNAUTHORIZED') outcomes.push(`${name}: ${code}`);
        }
        assert.deepEqual(outcomes, [], 'handshake outcomes other than UNAUTHORIZED');
      } finally {
        await server.close();
      }
    });
  });
});
