import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { verifyToken } from '../../server/src/auth/tokens.js';
import { AppError } from '../../server/src/errors.js';
import { bodySha256, signWebhook, verifyWebhook } from '../../server/src/webhooks/signing.js';
import { livekitStyleVerify } from '../helpers/webhookReceiver.js';
import { TEST_KEYS } from '../helpers/server.js';

const body = JSON.stringify({
  event: 'participant_joined',
  id: 'EV_1',
  createdAt: 1_700_000_000,
  room: { name: 'stage-1' },
  // Not ASCII: the hash is over the UTF-8 bytes, as LiveKit's receivers compute it.
  participant: { identity: 'zoé', name: 'Zoé ✨' },
});

describe('webhook signing (LiveKit compatible)', function () {
  it('a LiveKit-style receiver accepts the header: HS256, issuer = API key, sha256 of the body', function () {
    const authorization = signWebhook(TEST_KEYS, body);
    livekitStyleVerify(body, authorization);
    const claims = jwt.verify(authorization, TEST_KEYS.apiSecret, {
      algorithms: ['HS256'],
    }) as jwt.JwtPayload;
    assert.equal(claims.iss, TEST_KEYS.apiKey, 'issuer is the API key');
    assert.equal(
      claims.sha256,
      createHash('sha256').update(Buffer.from(body, 'utf8')).digest('base64'),
      'sha256 claim is base64(SHA-256(body bytes))',
    );
    assert.equal(jwt.decode(authorization, { complete: true })?.header.alg, 'HS256', 'HS256');
    assert.ok(typeof claims.exp === 'number' && claims.exp > Date.now() / 1000, 'not expired');
  });

  it('a tampered body fails the check', function () {
    const authorization = signWebhook(TEST_KEYS, body);
    const tampered = body.replace('participant_joined', 'participant_left');
    assert.throws(() => livekitStyleVerify(tampered, authorization), /sha256/);
    assert.throws(() => verifyWebhook(TEST_KEYS, tampered, authorization), /sha256/);
    assert.throws(() => verifyWebhook(TEST_KEYS, `${body} `, authorization), /sha256/);
  });

  it('another secret, another issuer, an old header or no header fail the check', function () {
    const authorization = signWebhook(TEST_KEYS, body);
    const otherSecret = { ...TEST_KEYS, apiSecret: 'another-secret-0123456789abcdef01234' };
    assert.throws(() => verifyWebhook(otherSecret, body, authorization), /invalid signature/);
    const otherKey = { ...TEST_KEYS, apiKey: 'other-key' };
    assert.throws(() => verifyWebhook(otherKey, body, authorization), /issuer/);
    const old = signWebhook(TEST_KEYS, body, Date.now() - 3600_000);
    assert.throws(() => verifyWebhook(TEST_KEYS, body, old), /expired/);
    assert.throws(() => verifyWebhook(TEST_KEYS, body, undefined), /empty/);
  });

  it('the verifier returns the event the body holds', function () {
    const event = verifyWebhook(TEST_KEYS, body, signWebhook(TEST_KEYS, body));
    assert.deepEqual(event, JSON.parse(body));
    assert.equal(
      bodySha256(''),
      '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
      'sha256 of nothing',
    );
  });

  it('a webhook header is not a livestage access token (same secret, no audience or grants)', function () {
    assert.throws(
      () => verifyToken(TEST_KEYS, signWebhook(TEST_KEYS, body)),
      (error: unknown) => error instanceof AppError && error.code === 'UNAUTHORIZED',
    );
  });
});
