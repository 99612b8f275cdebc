import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { z } from 'zod';
import { AppError } from '../errors.js';
import { grantsSchema, type Grants } from './grants.js';

export const TOKEN_AUDIENCE = 'livestage';
const ALGORITHM = 'HS256';
/** Tokens are small; anything larger is refused before the signature is even checked. */
const MAX_TOKEN_LENGTH = 8192;

export interface TokenKeys {
  apiKey: string;
  apiSecret: string;
}

export interface MintOptions {
  identity: string;
  grants: Grants;
  ttlSeconds: number;
  /** Issue time (ms since the epoch); default now. exp = iat + ttlSeconds. */
  now?: number;
}

export interface VerifyOptions {
  /** The time to check exp against (ms since the epoch); default now. */
  now?: number;
}

export const identitySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w.@:-]+$/);

export interface VerifiedToken {
  identity: string;
  grants: Grants;
  expiresAt: number;
  /** The token's id (`jti`), by which it can be revoked; absent in tokens minted without one. */
  jti?: string;
}

export function mintToken(keys: TokenKeys, options: MintOptions): string {
  const identity = identitySchema.parse(options.identity);
  const grants = grantsSchema.parse(options.grants);
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  // jsonwebtoken counts expiresIn from the payload's iat.
  return jwt.sign({ grants, iat }, keys.apiSecret, {
    algorithm: ALGORITHM,
    issuer: keys.apiKey,
    subject: identity,
    audience: TOKEN_AUDIENCE,
    expiresIn: options.ttlSeconds,
    jwtid: randomUUID(),
  });
}

const claimsSchema = z.object({
  sub: identitySchema,
  exp: z.number(),
  grants: grantsSchema,
  jti: z.string().max(128).optional(),
});

/** Verifies signature (HS256 only), issuer, audience and expiry; throws UNAUTHORIZED. */
export function verifyToken(
  keys: TokenKeys,
  token: unknown,
  options: VerifyOptions = {},
): VerifiedToken {
  if (typeof token !== 'string' || token.length === 0) {
    throw new AppError('UNAUTHORIZED', 'an access token is required');
  }
  if (token.length > MAX_TOKEN_LENGTH) throw new AppError('UNAUTHORIZED', 'access token too large');
  let payload: unknown;
  try {
    payload = jwt.verify(token, keys.apiSecret, {
      algorithms: [ALGORITHM],
      issuer: keys.apiKey,
      audience: TOKEN_AUDIENCE,
      clockTimestamp: Math.floor((options.now ?? Date.now()) / 1000),
    });
  } catch (error) {
    const reason =
      error instanceof jwt.TokenExpiredError ? 'access token expired' : 'invalid access token';
    throw new AppError('UNAUTHORIZED', reason);
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new AppError('UNAUTHORIZED', 'access token lacks required claims');
  const { sub, grants, exp, jti } = claims.data;
  return { identity: sub, grants, expiresAt: exp, ...(jti !== undefined ? { jti } : {}) };
}
