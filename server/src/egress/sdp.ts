/** One RTP stream ffmpeg receives: the ports it listens on and the codec mediasoup sends. */
export interface SdpStream {
  kind: 'audio' | 'video';
  /** ffmpeg binds it for RTP; `rtcpPort` for RTCP. */
  port: number;
  rtcpPort: number;
  payloadType: number;
  /** mediasoup's form, e.g. `video/VP8`. */
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** The codec's fmtp parameters (`packetization-mode`, `profile-level-id`, `useinbandfec`...). */
  parameters?: Record<string, unknown>;
}

/**
 * The SDP ffmpeg reads to receive `streams` on 127.0.0.1: one m-line each, in order, so that
 * ffmpeg's `[0:v:i]` / `[0:a:i]` are the i-th video / audio stream given here. One file with
 * every m-line (rather than one per participant) makes ffmpeg bind all ports and probe them at once.
 */
export function writeSdp(streams: readonly SdpStream[], sessionName = 'livestage'): string {
  const lines = [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    `s=${sessionName}`,
    'c=IN IP4 127.0.0.1',
    't=0 0',
  ];
  for (const stream of streams) {
    const codec = stream.mimeType.split('/')[1] ?? stream.mimeType;
    const channels = stream.kind === 'audio' && stream.channels ? `/${stream.channels}` : '';
    lines.push(`m=${stream.kind} ${stream.port} RTP/AVP ${stream.payloadType}`);
    lines.push(`a=rtpmap:${stream.payloadType} ${codec}/${stream.clockRate}${channels}`);
    const fmtp = Object.entries(stream.parameters ?? {})
      .map(([key, value]) => `${key}=${String(value)}`)
      .join(';');
    if (fmtp) lines.push(`a=fmtp:${stream.payloadType} ${fmtp}`);
    lines.push(`a=rtcp:${stream.rtcpPort}`);
    lines.push('a=recvonly');
  }
  return `${lines.join('\r\n')}\r\n`;
}
