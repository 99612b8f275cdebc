import { RTCPeerConnection, RTCRtpCodecParameters, type MediaStreamTrack } from 'werift';

/**
 * A real RTCPeerConnection in Node (werift) for WHIP/WHEP tests: opus 111 and VP8 96, as
 * Chromium offers them, and its own ICE candidates in the offer (no trickle).
 */
export function makePeer(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    codecs: {
      audio: [
        new RTCRtpCodecParameters({
          mimeType: 'audio/opus',
          clockRate: 48000,
          channels: 2,
          payloadType: 111,
        }),
      ],
      video: [
        new RTCRtpCodecParameters({
          mimeType: 'video/VP8',
          clockRate: 90000,
          payloadType: 96,
          rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
        }),
      ],
    },
  });
}

/** The ICE transports a peer made for its offer, before BUNDLE kept only the first. */
const offeredTransports = new WeakMap<RTCPeerConnection, RTCPeerConnection['iceTransports']>();

/**
 * Closes a peer and all its ICE sockets: werift forgets (without closing) the transports that
 * BUNDLE made redundant, and their sockets would keep mocha from exiting.
 */
export async function closePeer(peer: RTCPeerConnection): Promise<void> {
  const transports = [...(offeredTransports.get(peer) ?? []), ...peer.iceTransports];
  const connections = transports.map((transport) => transport.connection);
  await peer.close();
  await Promise.allSettled(connections.map((connection) => connection.close()));
}

/** An offer with a sendonly (WHIP) or recvonly (WHEP) audio and video section. */
export async function offerFrom(
  peer: RTCPeerConnection,
  direction: 'sendonly' | 'recvonly',
  kinds: readonly ('audio' | 'video')[] = ['audio', 'video'],
): Promise<string> {
  for (const kind of kinds) peer.addTransceiver(kind, { direction });
  await peer.setLocalDescription(await peer.createOffer());
  await waitForGathering(peer);
  offeredTransports.set(peer, [...peer.iceTransports]);
  return peer.localDescription?.sdp ?? '';
}

async function waitForGathering(peer: RTCPeerConnection): Promise<void> {
  if (peer.iceGatheringState === 'complete') return;
  await new Promise<void>((resolve) => {
    const done = peer.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') {
        done.unSubscribe();
        resolve();
      }
    });
  });
}

export async function connected(peer: RTCPeerConnection, ceilingMs = 10_000): Promise<void> {
  if (peer.connectionState === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not connected within ${ceilingMs} ms: ${peer.connectionState}`)),
      ceilingMs,
    );
    const subscription = peer.connectionStateChange.subscribe((state) => {
      if (state === 'connected') {
        clearTimeout(timer);
        subscription.unSubscribe();
        resolve();
      }
    });
  });
}

/** Counts RTP packets per kind arriving on the peer's tracks. */
export function countReceived(peer: RTCPeerConnection): Record<'audio' | 'video', number> {
  const counts = { audio: 0, video: 0 };
  peer.onTrack.subscribe((track: MediaStreamTrack) => {
    track.onReceiveRtp.subscribe(() => {
      counts[track.kind as 'audio' | 'video'] += 1;
    });
  });
  return counts;
}

export interface HttpReply {
  status: number;
  headers: Headers;
  body: string;
}

/** One WHIP/WHEP request as a client sends it (fetch, raw headers). */
export async function http(
  url: string,
  method: string,
  options: {
    token?: string;
    contentType?: string;
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  if (options.contentType) headers['Content-Type'] = options.contentType;
  const response = await fetch(url, { method, headers, body: options.body });
  return { status: response.status, headers: response.headers, body: await response.text() };
}
