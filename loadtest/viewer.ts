// One headless audience member: a token from the REST API, the socket.io join, a receive-only
// WebRTC transport (ICE + DTLS, no decryption), and every consumer the server announces resumed
// at once, as a page that shows every track does.
import type { ConsumerInfo, QualityPreference, TransportOptions } from '@livestage/protocol';
import { receiveOnlyCapabilities } from './capabilities.js';
import type { DtlsCertificate } from './certificate.js';
import { WebRtcPeer } from './peer.js';
import { RtpCounter, type RtpTotals } from './rtpCounter.js';
import { connectSignaling, type Signaling, type SignalingSocket } from './signaling.js';
import { fetchToken, type ApiCredentials } from './tokens.js';

export interface ViewerOptions {
  url: string;
  room: string;
  identity: string;
  credentials: ApiCredentials;
  certificate: DtlsCertificate;
  /** Ceiling for each step (token, welcome, each request, ICE + DTLS). */
  stepTimeoutMs: number;
  /** Token lifetime; must outlast the run. */
  tokenTtlSeconds: number;
  /** Sent as setConsumerPreferences for every video consumer; the server's default otherwise. */
  quality?: QualityPreference;
}

export interface ViewerResult {
  identity: string;
  /** Token request → token (ms). */
  tokenMs: number | undefined;
  /** Socket connect started → join acknowledged (ms). */
  joinMs: number | undefined;
  /** Receive transport: ICE nomination and DTLS handshake (ms). */
  iceMs: number | undefined;
  dtlsMs: number | undefined;
  /** Socket connect started → first video RTP packet (ms). */
  firstVideoMs: number | undefined;
  /** Received media bitrate from the first video packet to the end (kbit/s). */
  bitrateKbps: number | undefined;
  /** Lost packets over expected, from sequence numbers, in percent. */
  lossPercent: number | undefined;
  rtp: RtpTotals;
  /** Consumers the server announced, and video ones this viewer resumed. */
  consumers: number;
  videoConsumersResumed: number;
  /** consumerPaused / consumerResumed events: the server paused or resumed a publisher's track. */
  producerPauses: number;
  producerResumes: number;
  /** ICE and DTLS done on the receive transport. */
  transportConnected: boolean;
  /** The server's media address this viewer receives from ("ip:port": one port per worker). */
  mediaAddress: string | undefined;
  mediaResets: number;
  /** Why this viewer failed to join or connect, if it did. */
  error: string | undefined;
  /** Set when the server ended the connection before the run did. */
  disconnected: string | undefined;
}

export class Viewer {
  readonly #options: ViewerOptions;
  readonly #counter = new RtpCounter();
  #signaling: Signaling | undefined;
  #peer: WebRtcPeer | undefined;
  #tokenMs: number | undefined;
  #joinMs: number | undefined;
  #iceMs: number | undefined;
  #dtlsMs: number | undefined;
  #connectStartedAt = 0;
  #consumers = 0;
  #videoConsumersResumed = 0;
  #transportConnected = false;
  #producerPauses = 0;
  #producerResumes = 0;
  #mediaResets = 0;
  #error: string | undefined;
  #disconnected: string | undefined;
  #stopping = false;

  constructor(options: ViewerOptions) {
    this.#options = options;
  }

  get identity(): string {
    return this.#options.identity;
  }

  /** True once video RTP has arrived. */
  get hasVideo(): boolean {
    return this.#counter.hasVideo;
  }

  get failed(): boolean {
    return this.#error !== undefined;
  }

  /** Joins and connects; never throws: a failure is kept for the result. */
  async start(): Promise<void> {
    try {
      await this.#start();
    } catch (error) {
      this.#fail(error);
    }
  }

  /** Leaves the room (so the server frees it at once) and closes everything. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const signaling = this.#signaling;
    if (signaling?.socket.connected) {
      await signaling.request('leave', {}).catch(() => {});
    }
    signaling?.close();
    this.#peer?.close();
  }

  result(now: number): ViewerResult {
    const rtp = this.#counter.totals(now);
    const firstVideoAt = rtp.firstVideoAt;
    const seconds = firstVideoAt === undefined ? 0 : (now - firstVideoAt) / 1000;
    return {
      identity: this.#options.identity,
      tokenMs: this.#tokenMs,
      joinMs: this.#joinMs,
      iceMs: this.#iceMs,
      dtlsMs: this.#dtlsMs,
      firstVideoMs: firstVideoAt === undefined ? undefined : firstVideoAt - this.#connectStartedAt,
      bitrateKbps:
        seconds > 0 ? ((rtp.videoBytes + rtp.audioBytes) * 8) / 1000 / seconds : undefined,
      lossPercent:
        rtp.expectedPackets > 0 ? (100 * rtp.lostPackets) / rtp.expectedPackets : undefined,
      rtp,
      consumers: this.#consumers,
      videoConsumersResumed: this.#videoConsumersResumed,
      producerPauses: this.#producerPauses,
      producerResumes: this.#producerResumes,
      transportConnected: this.#transportConnected,
      mediaAddress: this.#peer?.remoteAddress,
      mediaResets: this.#mediaResets,
      error: this.#error,
      disconnected: this.#disconnected,
    };
  }

  async #start(): Promise<void> {
    const { url, room, identity, credentials, stepTimeoutMs, tokenTtlSeconds } = this.#options;
    const tokenStartedAt = performance.now();
    const token = await fetchToken(
      url,
      credentials,
      { room, identity, role: 'audience', ttlSeconds: tokenTtlSeconds },
      stepTimeoutMs,
    );
    this.#tokenMs = performance.now() - tokenStartedAt;
    this.#connectStartedAt = performance.now();
    const signaling = await connectSignaling(url, token, stepTimeoutMs, (socket) =>
      this.#listen(socket),
    );
    this.#signaling = signaling;
    if (this.#stopping) {
      signaling.close();
      return;
    }
    const joined = await signaling.request('join', {
      rtpCapabilities: receiveOnlyCapabilities(signaling.welcome.routerRtpCapabilities),
    });
    this.#joinMs = performance.now() - this.#connectStartedAt;
    if (!joined.recvTransport) throw new Error('join gave no receive transport');
    await this.#connectTransport(joined.recvTransport);
  }

  async #connectTransport(options: TransportOptions): Promise<void> {
    const signaling = this.#signaling;
    if (!signaling || this.#stopping) return;
    this.#peer?.close();
    this.#transportConnected = false;
    const peer = await WebRtcPeer.open(options);
    if (this.#stopping) {
      peer.close();
      return;
    }
    this.#peer = peer;
    const counter = this.#counter;
    peer.onMedia = (packet) => counter.onPacket(packet, performance.now());
    const timings = await peer.connect(
      this.#options.certificate,
      async (dtlsParameters) => {
        await signaling.request('connectTransport', { transportId: options.id, dtlsParameters });
      },
      this.#options.stepTimeoutMs,
    );
    this.#transportConnected = true;
    this.#iceMs ??= timings.iceMs;
    this.#dtlsMs ??= timings.dtlsMs;
  }

  #listen(socket: SignalingSocket): void {
    socket.on('newConsumer', (info) => this.#onNewConsumer(info));
    socket.on('consumerPaused', () => this.#producerPauses++);
    socket.on('consumerResumed', () => this.#producerResumes++);
    socket.on('mediaReset', ({ recvTransport }) => {
      // The room moved to another worker: a new transport, and new consumers will follow.
      this.#mediaResets++;
      if (!recvTransport) return;
      this.#connectTransport(recvTransport).catch((error: unknown) => this.#fail(error));
    });
    socket.on('kicked', ({ code, message }) => {
      this.#disconnected = `kicked: ${code} ${message}`;
    });
    socket.on('disconnect', (reason) => {
      if (!this.#stopping) this.#disconnected ??= `disconnected: ${reason}`;
    });
  }

  #onNewConsumer(info: ConsumerInfo): void {
    this.#consumers++;
    const ssrc = info.rtpParameters.encodings?.[0]?.ssrc;
    if (ssrc !== undefined) this.#counter.expect(ssrc, info.kind);
    // Consumers come after the join, so after connectSignaling has returned.
    const signaling = this.#signaling;
    if (!signaling) return;
    const resume = async () => {
      const quality = this.#options.quality;
      if (quality && info.kind === 'video') {
        await signaling.request('setConsumerPreferences', { consumerId: info.consumerId, quality });
      }
      await signaling.request('resumeConsumer', { consumerId: info.consumerId });
      if (info.kind === 'video') this.#videoConsumersResumed++;
    };
    resume().catch((error: unknown) => {
      // A consumer closed meanwhile (its track ended) is no failure of this viewer.
      if ((error as { code?: string }).code === 'NOT_FOUND' || this.#stopping) return;
      this.#fail(error);
    });
  }

  #fail(error: unknown): void {
    if (this.#stopping) return;
    this.#error ??= error instanceof Error ? error.message : String(error);
  }
}
