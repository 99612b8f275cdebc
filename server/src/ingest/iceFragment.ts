import type { types } from 'mediasoup';
import { IngestError } from './IngestError.js';

/** What a PATCH (application/trickle-ice-sdpfrag, RFC 8840) carries that matters here. */
export interface IceFragment {
  ufrag: string | undefined;
  pwd: string | undefined;
  /** a=candidate lines; mediasoup is ICE-lite and needs none (the client checks towards us). */
  candidates: number;
}

export const MAX_FRAGMENT_BYTES = 16 * 1024;

export function parseIceFragment(body: string): IceFragment {
  const fragment: IceFragment = { ufrag: undefined, pwd: undefined, candidates: 0 };
  for (const raw of body.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (!/^[a-z]=/.test(line)) throw new IngestError(400, 'INVALID_PAYLOAD', 'not an SDP fragment');
    if (line.startsWith('a=ice-ufrag:')) fragment.ufrag = line.slice('a=ice-ufrag:'.length);
    else if (line.startsWith('a=ice-pwd:')) fragment.pwd = line.slice('a=ice-pwd:'.length);
    else if (line.startsWith('a=candidate:')) fragment.candidates += 1;
  }
  return fragment;
}

/** The answer to an ICE restart: our new credentials and our candidates, per media section. */
export function restartFragment(
  iceParameters: types.IceParameters,
  candidates: readonly types.IceCandidate[],
  mids: readonly { mid: string; kind: string }[],
): string {
  const lines = [
    'a=ice-lite',
    `a=ice-ufrag:${iceParameters.usernameFragment}`,
    `a=ice-pwd:${iceParameters.password}`,
  ];
  for (const { mid, kind } of mids) {
    lines.push(`m=${kind} 9 UDP/TLS/RTP/SAVPF 0`, `a=mid:${mid}`);
    for (const candidate of candidates) {
      const tcpType = candidate.tcpType ? ` tcptype ${candidate.tcpType}` : '';
      lines.push(
        `a=candidate:${candidate.foundation} 1 ${candidate.protocol} ${candidate.priority} ` +
          `${candidate.ip} ${candidate.port} typ ${candidate.type}${tcpType}`,
      );
    }
    lines.push('a=end-of-candidates');
  }
  return `${lines.join('\r\n')}\r\n`;
}
