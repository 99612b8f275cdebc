import type { Config } from '../config/config.js';

/**
 * `Link: <stun:…>; rel="ice-server"` values (RFC 9725 §4.6): one per configured STUN/TURN URL,
 * TURN ones with their credentials.
 */
export function iceServerLinks({
  iceServers,
  iceUsername,
  iceCredential,
}: Config['whip']): string[] {
  return iceServers.map((url) => {
    const link = `<${url}>; rel="ice-server"`;
    if (!/^turns?:/.test(url) || iceUsername === undefined || iceCredential === undefined)
      return link;
    return `${link}; username=${quoted(iceUsername)}; credential=${quoted(iceCredential)}; credential-type="password"`;
  });
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}
