import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { TokenKeys } from '../auth/tokens.js';
import { AppError } from '../errors.js';

const CHALLENGE = 'Basic realm="livestage"';

/** Lets a request through only with HTTP Basic auth: user = API key, password = API secret. */
export function requireApiKey(keys: TokenKeys): RequestHandler {
  return (req, res, next) => {
    const credentials = parseBasic(req.headers.authorization);
    // Both compared every time, so the timing tells nothing about which one was wrong.
    const keyMatches = credentials ? safeEqual(credentials.user, keys.apiKey) : false;
    const secretMatches = credentials ? safeEqual(credentials.password, keys.apiSecret) : false;
    if (!keyMatches || !secretMatches) {
      res.set('WWW-Authenticate', CHALLENGE);
      throw new AppError('UNAUTHORIZED', 'valid API key and secret required (HTTP Basic auth)');
    }
    next();
  };
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Constant time for equal lengths; a different length is refused at once. */
function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
