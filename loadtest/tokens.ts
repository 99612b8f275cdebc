// Access tokens from the server's REST API, as an application backend gets them:
// POST /api/tokens with HTTP Basic auth (API key : secret).
import type { Role } from '@livestage/protocol';

export interface ApiCredentials {
  apiKey: string;
  apiSecret: string;
}

export interface TokenRequest {
  room: string;
  identity: string;
  role: Role;
  ttlSeconds?: number;
}

export async function fetchToken(
  url: string,
  credentials: ApiCredentials,
  request: TokenRequest,
  timeoutMs = 10_000,
): Promise<string> {
  const basic = Buffer.from(`${credentials.apiKey}:${credentials.apiSecret}`).toString('base64');
  let response: Response;
  try {
    response = await fetch(new URL('/api/tokens', url), {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a timeout) is its cause.
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (error as Error).message;
    throw new Error(`POST /api/tokens: cannot reach ${url}: ${reason}`, { cause: error });
  }
  const body = (await response.json().catch(() => ({}))) as {
    token?: unknown;
    error?: { code?: string; message?: string };
  };
  if (!response.ok || typeof body.token !== 'string') {
    const reason = body.error?.message ?? response.statusText;
    throw new Error(`POST /api/tokens answered ${response.status}: ${reason}`);
  }
  return body.token;
}
