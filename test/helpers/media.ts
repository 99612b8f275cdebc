// Real media for tests whose server is another process (a cluster's nodes), where there is no
// in-process state to inspect: a publisher that sends ffmpeg's VP8 + Opus as SRTP, and a viewer
// that counts the RTP it receives, per kind and per track. Built from the load tester's parts
// (ICE + DTLS peer, ffmpeg encoder, socket.io client); only the steps differ: tokens are minted
// here (any role), a guest can come on stage by a raised hand, and a viewer keeps track ids.
import { RtpPacket, SrtpSession } from 'werift';
import type {
  ConsumerInfo,
  JoinResponse,
  MediaKind,
  Role,
  RoleChanged,
  TransportOptions,
} from '@livestage/protocol';
import { receiveOnlyCapabilities } from '../../loadtest/capabilities.js';
import { sharedCertificate } from '../../loadtest/certificate.js';
import { startEncoder, type Encoder } from '../../loadtest/ffmpeg.js';
import { WebRtcPeer } from '../../loadtest/peer.js';
import {
  AUDIO_PAYLOAD_TYPE,
  VIDEO_PAYLOAD_TYPE,
  audioLevelExtension,
  audioParameters,
  localSocket,
  randomSsrc,
  sessionConfig,
  videoParameters,
} from '../../loadtest/rtpSource.js';
import { connectSignaling, type Signaling } from '../../loadtest/signaling.js';
import { tokenFor } from './client.js';

export type { Signaling } from '../../loadtest/signaling.js';

export interface PacketCounts {
  audio: number;
  video: number;
}

export interface PublishTestMediaOptions {
  url: string;
  room: string;
  identity: string;
  role: 'host' | 'guest';
  /**
   * How a guest comes on stage: 'token' (default) by its guest token at join (STAGE_FULL when no
   * seat is free); 'raisedHand' joins as audience, raises its hand and publishes once a host
   * approves: the returned promise settles only then (the test approves meanwhile, e.g. when
   * its host sees `handRaised`).
   */
  stageBy?: 'token' | 'raisedHand';
  /** Publish Opus too (default true). */
  audio?: boolean;
  /**
   * Announce the RFC 6464 audio level header extension and stamp every audio packet with this
   * loudness (dBov, -127 silence .. 0 full scale); `setAudioLevel` changes it. Default: none.
   */
  audioLevelDbov?: number;
  /** ffmpeg's test pattern: default 320x240, 15 fps, 300 kbit/s, a keyframe every second. */
  width?: number;
  height?: number;
  fps?: number;
  videoKbps?: number;
  /** Ceiling for each step: welcome, each request, ICE + DTLS, ffmpeg's first packet (10 s). */
  stepTimeoutMs?: number;
  /** With stageBy 'raisedHand': how long to wait for the approval (30 s). */
  approvalTimeoutMs?: number;
}

export interface TestPublisher {
  readonly identity: string;
  /** Its socket.io connection: `signaling.request('approveHand', …)`, `signaling.socket`. */
  readonly signaling: Signaling;
  readonly join: JoinResponse;
  readonly videoTrackId: string;
  readonly audioTrackId: string | undefined;
  /** Video first, then audio if any. */
  readonly trackIds: string[];
  /** RTP packets sent to the server so far. */
  sent(): PacketCounts;
  /** With `audioLevelDbov`: the loudness the next audio packets carry (dBov). */
  setAudioLevel(dBov: number): void;
  /** Stops ffmpeg, leaves the room (when still connected) and closes everything. Idempotent. */
  close(): Promise<void>;
}

export interface WatchMediaOptions {
  url: string;
  room: string;
  identity: string;
  /** Default 'audience'. */
  role?: Role;
  stepTimeoutMs?: number;
}

export interface TestViewer {
  readonly identity: string;
  readonly signaling: Signaling;
  readonly join: JoinResponse;
  /** RTP received so far: every track, or only `trackId`'s. Survives consumers closing. */
  packets(trackId?: string): PacketCounts;
  /** Tracks this viewer has a consumer for now (each resumed as it came). */
  trackIds(): string[];
  /** Closes the viewer: leaves (when still connected) and closes its socket and peer. */
  close(): Promise<void>;
}

const DEFAULT_STEP_TIMEOUT_MS = 10_000;

/** ffmpeg processes still running, killed if the test process exits first. */
const encoders = new Set<Encoder>();
process.once('exit', () => {
  for (const encoder of encoders) encoder.child.kill('SIGKILL');
});

/** Joins `room` on `url` and publishes VP8 (and Opus) until close(). */
export async function publishTestMedia(options: PublishTestMediaOptions): Promise<TestPublisher> {
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const byHand = options.role === 'guest' && options.stageBy === 'raisedHand';
  const token = tokenFor(options.room, options.identity, byHand ? 'audience' : options.role);
  let approval: Approval | undefined;
  const signaling = await connectSignaling(options.url, token, stepTimeoutMs, (socket) => {
    if (byHand) approval = onStage(socket, options.approvalTimeoutMs ?? 30_000);
  }).catch((error: unknown) => {
    approval?.cancel();
    throw error;
  });
  const cleanup: (() => unknown)[] = [() => approval?.cancel()];
  try {
    const join = await signaling.request('join', {
      rtpCapabilities: signaling.welcome.routerRtpCapabilities,
    });
    let sendTransport = join.sendTransport;
    if (approval) {
      await signaling.request('raiseHand', {});
      sendTransport = (await approval.roleChanged).sendTransport;
    }
    if (!sendTransport) throw new Error(`${options.identity} may not publish (no send transport)`);
    const media = await publish(signaling, sendTransport, options, stepTimeoutMs, cleanup);
    let closed: Promise<void> | undefined;
    return {
      identity: options.identity,
      signaling,
      join,
      ...media.tracks,
      sent: () => ({ ...media.sent }),
      setAudioLevel: (dBov) => {
        if (media.audioLevel.dBov === undefined)
          throw new Error('published without audioLevelDbov');
        media.audioLevel.dBov = dBov;
      },
      close: () => (closed ??= closeAll(signaling, cleanup)),
    };
  } catch (error) {
    await closeAll(signaling, cleanup);
    throw error;
  }
}

interface Approval {
  /** The roleChanged that brings this participant on stage with a send transport. */
  roleChanged: Promise<RoleChanged>;
  /** Stops waiting (the join failed, or the publisher closed first). */
  cancel(): void;
}

function onStage(socket: Signaling['socket'], timeoutMs: number): Approval {
  let cancel = () => {};
  const roleChanged = new Promise<RoleChanged>((resolve, reject) => {
    const listener = (event: RoleChanged) => {
      if (!event.sendTransport) return;
      cancel();
      resolve(event);
    };
    const timer = setTimeout(() => {
      cancel();
      reject(new Error(`no approval within ${timeoutMs} ms`));
    }, timeoutMs);
    cancel = () => {
      clearTimeout(timer);
      socket.off('roleChanged', listener);
    };
    socket.on('roleChanged', listener);
  });
  roleChanged.catch(() => {}); // awaited only after the join: a timeout before it is not unhandled
  return { roleChanged, cancel: () => cancel() };
}

interface Publishing {
  tracks: { videoTrackId: string; audioTrackId: string | undefined; trackIds: string[] };
  sent: PacketCounts;
  /** The loudness stamped on audio packets; undefined: no audio level extension. */
  audioLevel: { dBov: number | undefined };
}

/** ICE + DTLS on the send transport, `produce`, then ffmpeg's RTP encrypted and sent on. */
async function publish(
  signaling: Signaling,
  transport: TransportOptions,
  options: PublishTestMediaOptions,
  stepTimeoutMs: number,
  cleanup: (() => unknown)[],
): Promise<Publishing> {
  const peer = await WebRtcPeer.open(transport);
  cleanup.push(() => peer.close());
  await peer.connect(
    await sharedCertificate(),
    async (dtlsParameters) => {
      await signaling.request('connectTransport', { transportId: transport.id, dtlsParameters });
    },
    stepTimeoutMs,
  );
  const srtp = new SrtpSession(sessionConfig(peer.srtpKeys()));
  const withAudio = options.audio ?? true;
  const audioLevel = { dBov: options.audioLevelDbov };
  const videoSsrc = randomSsrc();
  const audioSsrc = randomSsrc();
  const video = await signaling.request('produce', {
    transportId: transport.id,
    kind: 'video',
    rtpParameters: videoParameters(videoSsrc),
    source: 'camera',
  });
  const audio = withAudio
    ? await signaling.request('produce', {
        transportId: transport.id,
        kind: 'audio',
        rtpParameters: audioParameters(audioSsrc, audioLevel.dBov !== undefined),
        source: 'microphone',
      })
    : undefined;

  const sent: PacketCounts = { audio: 0, video: 0 };
  const forward = (kind: MediaKind) => (packet: Buffer) => {
    let rtp: RtpPacket;
    try {
      rtp = RtpPacket.deSerialize(packet);
    } catch {
      return;
    }
    if (kind === 'audio' && audioLevel.dBov !== undefined) {
      rtp.header.extensions = [audioLevelExtension(audioLevel.dBov)];
      rtp.header.extension = true;
    }
    peer.send(srtp.encrypt(rtp.payload, rtp.header));
    sent[kind]++;
  };
  const videoSocket = await localSocket(forward('video'));
  cleanup.push(() => videoSocket.close());
  const audioSocket = withAudio ? await localSocket(forward('audio')) : undefined;
  if (audioSocket) cleanup.push(() => audioSocket.close());

  const fps = options.fps ?? 15;
  const encoder: Encoder = await startEncoder({
    width: options.width ?? 320,
    height: options.height ?? 240,
    fps,
    videoBitrateKbps: options.videoKbps ?? 300,
    keyframeIntervalFrames: fps,
    videoPayloadType: VIDEO_PAYLOAD_TYPE,
    videoSsrc,
    videoPort: videoSocket.address().port,
    audio: audioSocket
      ? { payloadType: AUDIO_PAYLOAD_TYPE, ssrc: audioSsrc, port: audioSocket.address().port }
      : undefined,
  });
  encoders.add(encoder);
  cleanup.push(async () => {
    await encoder.stop();
    encoders.delete(encoder);
  });
  const deadline = Date.now() + stepTimeoutMs;
  while (sent.video === 0) {
    if (Date.now() > deadline) throw new Error(`no video from ffmpeg: ${encoder.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const trackIds = audio ? [video.trackId, audio.trackId] : [video.trackId];
  return {
    tracks: { videoTrackId: video.trackId, audioTrackId: audio?.trackId, trackIds },
    sent,
    audioLevel,
  };
}

/** Joins `room` on `url` as a viewer and counts what arrives, every consumer resumed at once. */
export async function watchMedia(options: WatchMediaOptions): Promise<TestViewer> {
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const token = tokenFor(options.room, options.identity, options.role ?? 'audience');
  const counts = new Map<string, PacketCounts>();
  const consumers = new Map<string, ConsumerInfo>();
  const bySsrc = new Map<number, ConsumerInfo>();
  let peer: WebRtcPeer | undefined;
  let closing = false;

  const onPacket = (packet: Buffer) => {
    const type = packet[1] ?? 0;
    if (packet.length < 12 || (type >= 192 && type <= 223)) return; // RTCP
    const consumer = bySsrc.get(packet.readUInt32BE(8));
    if (!consumer) return;
    let count = counts.get(consumer.trackId);
    if (!count) counts.set(consumer.trackId, (count = { audio: 0, video: 0 }));
    count[consumer.kind]++;
  };
  // Runs only once `signaling` below is set (after the join, or on a later mediaReset).
  const connect = async (transport: TransportOptions) => {
    if (closing) return;
    peer?.close();
    const next = await WebRtcPeer.open(transport);
    peer = next;
    next.onMedia = onPacket;
    await next.connect(
      await sharedCertificate(),
      async (dtlsParameters) => {
        await signaling.request('connectTransport', { transportId: transport.id, dtlsParameters });
      },
      stepTimeoutMs,
    );
  };

  const signaling: Signaling = await connectSignaling(
    options.url,
    token,
    stepTimeoutMs,
    (socket) => {
      socket.on('newConsumer', (info) => {
        consumers.set(info.consumerId, info);
        const ssrc = info.rtpParameters.encodings?.[0]?.ssrc;
        if (ssrc !== undefined) bySsrc.set(ssrc, info);
        // A consumer that closed meanwhile is no failure: its track ended.
        signaling.request('resumeConsumer', { consumerId: info.consumerId }).catch(() => {});
      });
      socket.on('consumerClosed', ({ consumerId }) => consumers.delete(consumerId));
      socket.on('mediaReset', ({ recvTransport }) => {
        // The room moved to another worker: a new transport, and new consumers will follow.
        consumers.clear();
        if (recvTransport) connect(recvTransport).catch(() => {});
      });
    },
  );
  try {
    const join = await signaling.request('join', {
      rtpCapabilities: receiveOnlyCapabilities(signaling.welcome.routerRtpCapabilities),
    });
    if (!join.recvTransport) throw new Error(`${options.identity} gets no receive transport`);
    await connect(join.recvTransport);
    let closed: Promise<void> | undefined;
    return {
      identity: options.identity,
      signaling,
      join,
      packets: (trackId) => {
        const total = { audio: 0, video: 0 };
        for (const [id, count] of counts) {
          if (trackId !== undefined && id !== trackId) continue;
          total.audio += count.audio;
          total.video += count.video;
        }
        return total;
      },
      trackIds: () => [...new Set([...consumers.values()].map((c) => c.trackId))],
      close: () => {
        closing = true;
        closed ??= closeAll(signaling, [() => peer?.close()]);
        return closed;
      },
    };
  } catch (error) {
    closing = true;
    signaling.close();
    peer?.close();
    throw error;
  }
}

/**
 * Undoes `cleanup` last step first (ffmpeg, then its sockets, then the peer), leaves when still
 * connected (so the server frees the participant at once) and closes the socket.
 */
async function closeAll(signaling: Signaling, cleanup: (() => unknown)[]): Promise<void> {
  for (const step of [...cleanup].reverse()) await step();
  if (signaling.socket.connected) await signaling.request('leave', {}).catch(() => {});
  signaling.close();
}
