// A headless audience member like the load tester's Viewer (token, socket.io join, receive-only
// WebRTC transport, every consumer resumed), that also tells when each RTP packet arrived with its
// clear header fields (SSRC, sequence number, RTP timestamp): what a relay's added latency is
// measured from. The load tester's Viewer keeps its peer private, hence this small sibling.
import { EventEmitter } from 'node:events';
import type { ConsumerInfo, MediaKind, TransportOptions } from '@livestage/protocol';
import { receiveOnlyCapabilities } from '../../loadtest/capabilities.js';
import type { DtlsCertificate } from '../../loadtest/certificate.js';
import { WebRtcPeer } from '../../loadtest/peer.js';
import { connectSignaling, type Signaling } from '../../loadtest/signaling.js';
import { fetchToken, type ApiCredentials } from '../../loadtest/tokens.js';

export interface ProbeViewerOptions {
  url: string;
  room: string;
  identity: string;
  credentials: ApiCredentials;
  certificate: DtlsCertificate;
  stepTimeoutMs: number;
}

/** One RTP packet of an announced consumer, as it arrived (`at`: performance.now()). */
export interface RtpArrival {
  kind: MediaKind;
  ssrc: number;
  seq: number;
  timestamp: number;
  at: number;
}

/** Server events kept with their arrival time, to tell what a viewer saw around a failure. */
const LOGGED_EVENTS = [
  'participantJoined',
  'participantLeft',
  'trackPublished',
  'trackUnpublished',
  'trackStalled',
  'consumerClosed',
] as const;

export interface LoggedEvent {
  name: (typeof LOGGED_EVENTS)[number] | 'newConsumer';
  at: number;
  payload: unknown;
}

interface ProbeEvents {
  rtp: [arrival: RtpArrival];
  /** The first packet of a consumer's stream; `announcedAt` is when its newConsumer came. */
  firstPacket: [stream: { kind: MediaKind; ssrc: number; announcedAt: number; at: number }];
}

export class ProbeViewer extends EventEmitter<ProbeEvents> {
  readonly options: ProbeViewerOptions;
  /** performance.now() when the socket connect started (after the token), and milestones. */
  connectStartedAt = 0;
  joinedAt: number | undefined;
  firstVideoAt: number | undefined;
  firstAudioAt: number | undefined;
  /** Presence, track and consumer events from the server, in order. */
  readonly events: LoggedEvent[] = [];
  /** Resolves with the reason when the socket drops before stop(). */
  readonly dropped: Promise<{ reason: string; at: number }>;
  readonly #streams = new Map<number, { kind: MediaKind; announcedAt: number; seen: boolean }>();
  /** Streams whose first packet came, in order. */
  readonly #firstPackets: ProbeEvents['firstPacket'][0][] = [];
  #signaling: Signaling | undefined;
  #peer: WebRtcPeer | undefined;
  #stopping = false;
  #onDropped: (drop: { reason: string; at: number }) => void = () => {};

  constructor(options: ProbeViewerOptions) {
    super();
    this.options = options;
    this.dropped = new Promise((resolve) => (this.#onDropped = resolve));
  }

  /** Joins and connects the receive transport; throws when a step fails. */
  async start(): Promise<void> {
    const { url, room, identity, credentials, stepTimeoutMs } = this.options;
    const token = await fetchToken(
      url,
      credentials,
      { room, identity, role: 'audience', ttlSeconds: 3600 },
      stepTimeoutMs,
    );
    this.connectStartedAt = performance.now();
    const signaling = await connectSignaling(url, token, stepTimeoutMs, (socket) => {
      socket.on('newConsumer', (info) => this.#onNewConsumer(info));
      for (const name of LOGGED_EVENTS) {
        (socket as unknown as { on(e: string, l: (payload: unknown) => void): void }).on(
          name,
          (payload) => this.events.push({ name, at: performance.now(), payload }),
        );
      }
      socket.on('mediaReset', ({ recvTransport }) => {
        if (recvTransport) void this.#connect(recvTransport).catch(() => undefined);
      });
      socket.on('disconnect', (reason) => {
        if (!this.#stopping) this.#onDropped({ reason, at: performance.now() });
      });
    });
    this.#signaling = signaling;
    const joined = await signaling.request('join', {
      rtpCapabilities: receiveOnlyCapabilities(signaling.welcome.routerRtpCapabilities),
    });
    this.joinedAt = performance.now();
    if (!joined.recvTransport) throw new Error('join gave no receive transport');
    await this.#connect(joined.recvTransport);
  }

  /**
   * The first video packet of a consumer announced at or after `since`: when it arrived, and when
   * its consumer was announced (newConsumer).
   */
  videoSince(since: number, timeoutMs: number): Promise<{ at: number; announcedAt: number }> {
    const matches = (stream: ProbeEvents['firstPacket'][0]) =>
      stream.kind === 'video' && stream.announcedAt >= since;
    const seen = this.#firstPackets.find(matches);
    if (seen) return Promise.resolve({ at: seen.at, announcedAt: seen.announcedAt });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('firstPacket', listener);
        reject(new Error(`${this.options.identity}: no video within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener: (stream: ProbeEvents['firstPacket'][0]) => void = (stream) => {
        if (!matches(stream)) return;
        clearTimeout(timer);
        this.off('firstPacket', listener);
        resolve({ at: stream.at, announcedAt: stream.announcedAt });
      };
      this.on('firstPacket', listener);
    });
  }

  /** Leaves (so the node frees it at once) and closes everything. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const signaling = this.#signaling;
    if (signaling?.socket.connected) await signaling.request('leave', {}).catch(() => undefined);
    signaling?.close();
    this.#peer?.close();
  }

  async #connect(options: TransportOptions): Promise<void> {
    const signaling = this.#signaling;
    if (!signaling || this.#stopping) return;
    this.#peer?.close();
    const peer = await WebRtcPeer.open(options);
    this.#peer = peer;
    peer.onMedia = (packet) => this.#onPacket(packet, performance.now());
    await peer.connect(
      this.options.certificate,
      async (dtlsParameters) => {
        await signaling.request('connectTransport', { transportId: options.id, dtlsParameters });
      },
      this.options.stepTimeoutMs,
    );
  }

  #onNewConsumer(info: ConsumerInfo): void {
    this.events.push({
      name: 'newConsumer',
      at: performance.now(),
      payload: { consumerId: info.consumerId, trackId: info.trackId, kind: info.kind },
    });
    const ssrc = info.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc !== undefined) {
      this.#streams.set(ssrc, { kind: info.kind, announcedAt: performance.now(), seen: false });
    }
    void this.#signaling
      ?.request('resumeConsumer', { consumerId: info.consumerId })
      .catch(() => undefined);
  }

  #onPacket(packet: Buffer, at: number): void {
    const payloadType = packet[1] ?? 0;
    if (packet.length < 12 || (payloadType >= 192 && payloadType <= 223)) return; // RTCP
    const ssrc = packet.readUInt32BE(8);
    const stream = this.#streams.get(ssrc);
    if (!stream) return; // RTX, probation, or a consumer not announced yet
    const { kind } = stream;
    if (!stream.seen) {
      stream.seen = true;
      if (kind === 'video') this.firstVideoAt ??= at;
      else this.firstAudioAt ??= at;
      const first = { kind, ssrc, announcedAt: stream.announcedAt, at };
      this.#firstPackets.push(first);
      this.emit('firstPacket', first);
    }
    if (this.listenerCount('rtp') === 0) return;
    this.emit('rtp', {
      kind,
      ssrc,
      seq: packet.readUInt16BE(2),
      timestamp: packet.readUInt32BE(4),
      at,
    });
  }
}
