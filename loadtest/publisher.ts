// A headless host that publishes real media: ffmpeg encodes VP8 (and Opus) to plain RTP on local
// ports; this peer encrypts each packet (SRTP, keys from its own DTLS handshake) and sends it to
// the server's send transport, after `produce` has announced the streams. The server's keyframe
// requests (PLI/FIR over SRTCP) are counted here, where a real publisher would feel them.
import type { Socket } from 'node:dgram';
import { RtpPacket, SrtcpSession, SrtpSession } from 'werift';
import type { DtlsCertificate } from './certificate.js';
import { startEncoder, type Encoder } from './ffmpeg.js';
import { WebRtcPeer } from './peer.js';
import { keyframeRequests } from './rtcp.js';
import {
  AUDIO_PAYLOAD_TYPE,
  VIDEO_PAYLOAD_TYPE,
  audioParameters,
  localSocket,
  randomSsrc,
  sessionConfig,
  videoParameters,
} from './rtpSource.js';
import { STALL_GAP_MS } from './rtpCounter.js';
import { connectSignaling, type Signaling } from './signaling.js';
import { fetchToken, type ApiCredentials } from './tokens.js';

export interface PublisherOptions {
  url: string;
  room: string;
  identity: string;
  credentials: ApiCredentials;
  certificate: DtlsCertificate;
  stepTimeoutMs: number;
  tokenTtlSeconds: number;
  width: number;
  height: number;
  fps: number;
  videoBitrateKbps: number;
  /** ffmpeg ignores keyframe requests: it makes one every this many seconds instead. */
  keyframeIntervalSeconds: number;
  audio: boolean;
  ffmpegPath?: string;
}

export interface PublisherStats {
  videoTrackId: string;
  audioTrackId: string | undefined;
  videoPacketsSent: number;
  videoBytesSent: number;
  audioPacketsSent: number;
  /** When each PLI or FIR for the video stream arrived: epoch ms (performance.timeOrigin + now). */
  keyframeRequestTimes: number[];
  pliReceived: number;
  firReceived: number;
  /**
   * Gaps longer than STALL_GAP_MS in the video ffmpeg sent us (epoch ms of the last packet before
   * each): a viewer's stall that matches one is the encoder's (a busy machine), not the server's.
   */
  inputStalls: { at: number; ms: number }[];
  encoderPid: number | undefined;
}

export class Publisher {
  readonly #signaling: Signaling;
  readonly #peer: WebRtcPeer;
  readonly #sockets: Socket[];
  readonly #encoder: Encoder;
  readonly #videoSsrc: number;
  readonly #stats: PublisherStats;

  private constructor(parts: {
    signaling: Signaling;
    peer: WebRtcPeer;
    sockets: Socket[];
    encoder: Encoder;
    videoSsrc: number;
    stats: PublisherStats;
  }) {
    this.#signaling = parts.signaling;
    this.#peer = parts.peer;
    this.#sockets = parts.sockets;
    this.#encoder = parts.encoder;
    this.#videoSsrc = parts.videoSsrc;
    this.#stats = parts.stats;
  }

  /** Joins as a host, publishes, and resolves once the server has the first video packets. */
  static async start(options: PublisherOptions): Promise<Publisher> {
    const { url, room, identity, credentials, stepTimeoutMs } = options;
    const token = await fetchToken(
      url,
      credentials,
      { room, identity, role: 'host', ttlSeconds: options.tokenTtlSeconds },
      stepTimeoutMs,
    );
    const signaling = await connectSignaling(url, token, stepTimeoutMs);
    const cleanup: (() => unknown)[] = [() => signaling.close()];
    try {
      const joined = await signaling.request('join', {
        rtpCapabilities: signaling.welcome.routerRtpCapabilities,
      });
      const sendTransport = joined.sendTransport;
      if (!sendTransport) throw new Error(`${identity} may not publish (no send transport)`);
      const peer = await WebRtcPeer.open(sendTransport);
      cleanup.push(() => peer.close());
      await peer.connect(
        options.certificate,
        async (dtlsParameters) => {
          await signaling.request('connectTransport', {
            transportId: sendTransport.id,
            dtlsParameters,
          });
        },
        stepTimeoutMs,
      );
      const keys = peer.srtpKeys();
      const videoSsrc = randomSsrc();
      const audioSsrc = randomSsrc();
      const video = await signaling.request('produce', {
        transportId: sendTransport.id,
        kind: 'video',
        rtpParameters: videoParameters(videoSsrc),
        source: 'camera',
      });
      const audio = options.audio
        ? await signaling.request('produce', {
            transportId: sendTransport.id,
            kind: 'audio',
            rtpParameters: audioParameters(audioSsrc),
            source: 'microphone',
          })
        : undefined;

      const stats: PublisherStats = {
        videoTrackId: video.trackId,
        audioTrackId: audio?.trackId,
        videoPacketsSent: 0,
        videoBytesSent: 0,
        audioPacketsSent: 0,
        keyframeRequestTimes: [],
        pliReceived: 0,
        firReceived: 0,
        inputStalls: [],
        encoderPid: undefined,
      };
      const srtp = new SrtpSession(sessionConfig(keys));
      const srtcp = new SrtcpSession(sessionConfig(keys));
      peer.onMedia = (packet) => {
        const type = packet[1] ?? 0;
        if (type < 192 || type > 223) return; // only RTCP comes this way
        let clear: Buffer;
        try {
          clear = srtcp.decrypt(packet);
        } catch {
          return;
        }
        const found = keyframeRequests(clear, videoSsrc);
        const now = performance.timeOrigin + performance.now();
        for (let i = 0; i < found.pli + found.fir; i++) stats.keyframeRequestTimes.push(now);
        stats.pliReceived += found.pli;
        stats.firReceived += found.fir;
      };

      let lastVideoAt = 0;
      const forward = (kind: 'video' | 'audio') => (packet: Buffer) => {
        let rtp: RtpPacket;
        try {
          rtp = RtpPacket.deSerialize(packet);
        } catch {
          return;
        }
        peer.send(srtp.encrypt(rtp.payload, rtp.header));
        if (kind === 'video') {
          const now = performance.timeOrigin + performance.now();
          if (stats.videoPacketsSent > 0) {
            const gap = now - lastVideoAt;
            if (gap > STALL_GAP_MS) stats.inputStalls.push({ at: lastVideoAt, ms: gap });
          }
          lastVideoAt = now;
          stats.videoPacketsSent++;
          stats.videoBytesSent += packet.length;
        } else {
          stats.audioPacketsSent++;
        }
      };
      const videoSocket = await localSocket(forward('video'));
      cleanup.push(() => videoSocket.close());
      const audioSocket = options.audio ? await localSocket(forward('audio')) : undefined;
      if (audioSocket) cleanup.push(() => audioSocket.close());

      const encoder = await startEncoder({
        width: options.width,
        height: options.height,
        fps: options.fps,
        videoBitrateKbps: options.videoBitrateKbps,
        keyframeIntervalFrames: Math.max(
          1,
          Math.round(options.fps * options.keyframeIntervalSeconds),
        ),
        videoPayloadType: VIDEO_PAYLOAD_TYPE,
        videoSsrc,
        videoPort: videoSocket.address().port,
        audio: audioSocket
          ? { payloadType: AUDIO_PAYLOAD_TYPE, ssrc: audioSsrc, port: audioSocket.address().port }
          : undefined,
        ffmpegPath: options.ffmpegPath,
      });
      cleanup.push(() => encoder.stop());
      stats.encoderPid = encoder.child.pid;
      await waitFor(
        () => stats.videoPacketsSent > 0,
        stepTimeoutMs,
        () => `no video from ffmpeg: ${encoder.stderr() || 'no output'}`,
      );
      return new Publisher({
        signaling,
        peer,
        sockets: audioSocket ? [videoSocket, audioSocket] : [videoSocket],
        encoder,
        videoSsrc,
        stats,
      });
    } catch (error) {
      for (const step of cleanup.reverse()) await step();
      throw error;
    }
  }

  /** A snapshot of the figures so far. */
  get stats(): PublisherStats {
    return {
      ...this.#stats,
      keyframeRequestTimes: [...this.#stats.keyframeRequestTimes],
      inputStalls: [...this.#stats.inputStalls],
    };
  }

  get videoSsrc(): number {
    return this.#videoSsrc;
  }

  get identity(): string {
    return this.#signaling.welcome.identity;
  }

  async stop(): Promise<void> {
    await this.#encoder.stop();
    if (this.#signaling.socket.connected) {
      await this.#signaling.request('leave', {}).catch(() => {});
    }
    this.#signaling.close();
    this.#peer.close();
    for (const socket of this.#sockets) socket.close();
  }
}

async function waitFor(check: () => boolean, timeoutMs: number, why: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
