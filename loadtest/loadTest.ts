// A whole load test: an optional publisher (in its own process), a crowd of viewers, CPU by
// process, and a summary.
import { randomBytes } from 'node:crypto';
import { CpuSampler } from './cpuSampler.js';
import { PublisherProcess } from './publisherProcess.js';
import { summarize, type Summary } from './report.js';
import { runViewers, type ViewerRunOptions } from './runViewers.js';

export interface PublishOptions {
  width: number;
  height: number;
  fps: number;
  videoBitrateKbps: number;
  keyframeIntervalSeconds: number;
  audio: boolean;
  ffmpegPath?: string;
}

export interface LoadTestOptions extends Omit<ViewerRunOptions, 'beforeLeave'> {
  /** Publish as a host first (ffmpeg test pattern); the room's own publishers otherwise. */
  publish?: PublishOptions;
  /** How often CPU is sampled, in ms. */
  cpuSampleIntervalMs?: number;
  /** Progress lines (to stderr in the CLI). */
  log?: (line: string) => void;
}

/**
 * How long the room runs with no viewer before they come: the server gets its first keyframes
 * from the publisher, and CPU is measured without viewers (the baseline).
 */
const BASELINE_MS = 3000;

export async function runLoadTest(options: LoadTestOptions): Promise<Summary> {
  const log = options.log ?? (() => {});
  const prefix = options.identityPrefix ?? `loadtest-${randomBytes(3).toString('hex')}`;
  const cpu = new CpuSampler(options.url);
  let publisher: PublisherProcess | undefined;
  try {
    if (options.publish) {
      const p = options.publish;
      log(`publisher: ${p.width}x${p.height}@${p.fps} VP8 ${p.videoBitrateKbps} kbit/s`);
      publisher = await PublisherProcess.start({
        url: options.url,
        room: options.room,
        identity: `${prefix}-host`,
        credentials: options.credentials,
        stepTimeoutMs: options.stepTimeoutMs ?? 20_000,
        tokenTtlSeconds: Math.ceil(options.durationSeconds + 3600),
        ...p,
      });
      cpu.follow('publisher', 'publisher process (SRTP)', publisher.pid);
      cpu.follow('encoder', "publisher's ffmpeg", publisher.stats.encoderPid);
    }
    const baselineFrom = performance.now();
    await cpu.start(options.cpuSampleIntervalMs ?? 500);
    await new Promise((resolve) => setTimeout(resolve, BASELINE_MS));
    const videoBytesAtStart = (await publisher?.refresh())?.videoBytesSent ?? 0;
    log(`viewers: ${options.count} ${options.rate > 0 ? `at ${options.rate}/s` : 'at once'}`);
    const run = await runViewers({
      ...options,
      identityPrefix: prefix,
      beforeLeave: () => cpu.sample(),
    });
    await cpu.stop();
    const stats = await publisher?.refresh();
    return summarize({
      options,
      run,
      cpu,
      baselineFrom,
      publisher: stats && { stats, videoBytesDuringRun: stats.videoBytesSent - videoBytesAtStart },
    });
  } finally {
    await cpu.stop();
    await publisher?.stop();
  }
}
