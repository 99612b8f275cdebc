import type { Config } from '../config/config.js';

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Browsers send Origin on the socket.io handshake. Allowed: no Origin (native clients, tests),
 * the server's own origin, anything in ALLOWED_ORIGINS, and localhost pages in development.
 */
export function isOriginAllowed(
  origin: string | undefined,
  host: string | undefined,
  config: Config,
): boolean {
  if (!origin) return true;
  if (config.allowedOrigins.includes(origin) || config.allowedOrigins.includes('*')) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (host && parsed.host === host) return true;
  return config.env !== 'production' && LOCAL_HOSTS.has(parsed.hostname);
}
