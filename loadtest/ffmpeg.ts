// A live test source: ffmpeg encodes a moving test pattern (VP8, libvpx) and a tone (Opus) and
// sends them as plain RTP to local UDP ports. ffmpeg does not answer keyframe requests, so it
// makes a keyframe every `keyframeIntervalFrames` frames on its own.
import { spawn, type ChildProcess } from 'node:child_process';

export interface EncoderOptions {
  width: number;
  height: number;
  fps: number;
  videoBitrateKbps: number;
  keyframeIntervalFrames: number;
  videoPayloadType: number;
  videoSsrc: number;
  videoPort: number;
  /** Opus at 48 kHz; none when undefined. */
  audio?: { payloadType: number; ssrc: number; port: number };
  ffmpegPath?: string;
}

/** RTP packets stay under the usual WebRTC MTU budget, room left for SRTP's tag and extensions. */
const PACKET_SIZE = 1200;
/** A moving test pattern busy enough that libvpx spends about the bitrate a camera would. */
const VIDEO_SOURCE = 'testsrc2';

export function encoderArguments(options: EncoderOptions): string[] {
  const { width, height, fps, videoBitrateKbps, keyframeIntervalFrames } = options;
  const rtpOut = (port: number) => `rtp://127.0.0.1:${port}?pkt_size=${PACKET_SIZE}`;
  const kbps = `${videoBitrateKbps}k`;
  const inputs = [
    ['-hide_banner'],
    ['-loglevel', 'error'],
    ['-nostdin'],
    ['-re', '-f', 'lavfi', '-i', `${VIDEO_SOURCE}=size=${width}x${height}:rate=${fps}`],
    options.audio ? ['-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'] : [],
  ];
  const video = [
    ['-map', '0:v'],
    ['-c:v', 'libvpx'],
    ['-deadline', 'realtime'],
    ['-cpu-used', '8'],
    ['-b:v', kbps],
    ['-maxrate', kbps],
    ['-bufsize', kbps],
    ['-g', String(keyframeIntervalFrames)],
    ['-keyint_min', String(keyframeIntervalFrames)],
    ['-auto-alt-ref', '0'],
    ['-lag-in-frames', '0'],
    ['-error-resilient', '1'],
    ['-pix_fmt', 'yuv420p'],
    ['-f', 'rtp'],
    ['-payload_type', String(options.videoPayloadType)],
    ['-ssrc', String(options.videoSsrc)],
    ['-rtpflags', 'skip_rtcp'],
    [rtpOut(options.videoPort)],
  ];
  const audio = options.audio
    ? [
        ['-map', '1:a'],
        ['-c:a', 'libopus'],
        ['-b:a', '48k'],
        ['-ac', '2'],
        ['-frame_duration', '20'],
        ['-f', 'rtp'],
        ['-payload_type', String(options.audio.payloadType)],
        ['-ssrc', String(options.audio.ssrc)],
        ['-rtpflags', 'skip_rtcp'],
        [rtpOut(options.audio.port)],
      ]
    : [];
  return [...inputs, ...video, ...audio].flat();
}

export interface Encoder {
  child: ChildProcess;
  /** The end of what ffmpeg printed (errors only). */
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts ffmpeg; rejects when it cannot be started (not installed) or exits at once. */
export async function startEncoder(options: EncoderOptions): Promise<Encoder> {
  const command = options.ffmpegPath ?? 'ffmpeg';
  const child = spawn(command, encoderArguments(options), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot run ${command} (apt-get install ffmpeg): ${error.message}`)),
    );
    child.once('spawn', () => resolve());
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    stderr: () => stderr.trim(),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}
