import { createHash } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { TokenKeys } from '../auth/tokens.js';

/**
 * Webhook signatures as LiveKit makes them, so that its verifiers (WebhookReceiver in every
 * server SDK) accept ours: the Authorization header is a bare JWT (no "Bearer"), HS256, issued
 * by the API key and signed with the API secret, whose `sha256` claim is the base64 SHA-256 of
 * the exact body bytes. It has no audience and no grants, so it is never a livestage access token.
 */
export const WEBHOOK_CONTENT_TYPE = 'application/webhook+json';
const ALGORITHM = 'HS256';
/** Long enough for a slow receiver's clock, short enough that a captured header soon expires. */
const SIGNATURE_TTL_SECONDS = 5 * 60;

export function bodySha256(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('base64');
}

/** The Authorization header value for `body`. */
export function signWebhook(keys: TokenKeys, body: string, nowMs = Date.now()): string {
  const now = Math.floor(nowMs / 1000);
  return jwt.sign({ sha256: bodySha256(body), iat: now }, keys.apiSecret, {
    algorithm: ALGORITHM,
    issuer: keys.apiKey,
    expiresIn: SIGNATURE_TTL_SECONDS,
  });
}

/**
 * What a receiver does (LiveKit's WebhookReceiver.receive): checks the JWT and that its sha256
 * matches the body it got; returns the parsed event, or throws.
 */
export function verifyWebhook(keys: TokenKeys, body: string, authorization: unknown): unknown {
  if (typeof authorization !== 'string' || authorization.length === 0) {
    throw new Error('authorization header is empty');
  }
  const claims = jwt.verify(authorization, keys.apiSecret, {
    algorithms: [ALGORITHM],
    issuer: keys.apiKey,
  }) as jwt.JwtPayload;
  if (claims.sha256 !== bodySha256(body)) throw new Error('sha256 checksum of body does not match');
  return JSON.parse(body) as unknown;
}
