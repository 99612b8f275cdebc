import jwt from 'jsonwebtoken';

const AUDIENCE = 'livestage-node';

/** A short-lived bearer token one node shows another (signed with the shared API secret). */
export function nodeToken(apiKey: string, apiSecret: string): string {
  return jwt.sign({}, apiSecret, {
    algorithm: 'HS256',
    issuer: apiKey,
    audience: AUDIENCE,
    expiresIn: 60,
  });
}

export function isNodeToken(
  header: string | undefined,
  apiKey: string,
  apiSecret: string,
): boolean {
  const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
  if (!token) return false;
  try {
    jwt.verify(token, apiSecret, { algorithms: ['HS256'], issuer: apiKey, audience: AUDIENCE });
    return true;
  } catch {
    return false;
  }
}
