// What a run measured, as one object (the --json output) and as a table for people.
import type { CpuSampler, CpuSource, ProcessCpu } from './cpuSampler.js';
import type { LoadTestOptions } from './loadTest.js';
import type { PublisherStats } from './publisher.js';
import type { ViewerRun } from './runViewers.js';
import { percentiles, round, roundPercentiles, type Percentiles } from './stats.js';
import type { RtpTotals } from './rtpCounter.js';
import type { ViewerResult } from './viewer.js';

export interface CpuWindow {
  /** Seconds since the first viewer started (negative: before). */
  from: number;
  to: number;
  /** Average CPU of each process over the window, % of one core. */
  processes: ProcessCpu[];
  /** The longest the load tester's event loop was blocked (ms): its figures lag by up to this. */
  testerLoopDelayMaxMs: number;
}

export interface Summary {
  url: string;
  room: string;
  viewers: number;
  rate: number;
  durationSeconds: number;
  /** Ended before its duration (Ctrl-C). */
  stoppedEarly: boolean;
  viewersWithVideo: number;
  shareWithVideoPercent: number;
  /** Why viewers got no video, most frequent first. */
  failures: { reason: string; count: number }[];
  /** Viewers the server disconnected or kicked during the run. */
  disconnected: number;
  /** Viewers by the server media address they received from (one UDP port per worker). */
  viewersByMediaAddress: Record<string, number>;
  /** Per viewer; times in ms from the start of its socket connection (token: its own request). */
  tokenMs: Percentiles;
  joinMs: Percentiles;
  iceMs: Percentiles;
  dtlsMs: Percentiles;
  firstVideoMs: Percentiles;
  /** Video + audio, SRTP packets as received, from the viewer's first video packet on. */
  bitrateKbps: Percentiles;
  lossPercent: Percentiles;
  stalls: Percentiles;
  longestVideoGapMs: Percentiles;
  cpu: {
    /** Where the server workers' figures come from: GET /healthz, /proc, or nowhere. */
    source: CpuSource;
    /** The room before any viewer came (publisher only). */
    baseline: CpuWindow;
    /** From the first viewer's start to the last first video packet of any viewer. */
    joinPhase: CpuWindow;
    /** From then until the viewers left. */
    steady: CpuWindow;
    /** The load tester's CPU in the steady state divided by the viewers (its fixed costs too). */
    testerPercentPerViewer: number | null;
  };
  publisher?: {
    videoTrackId: string;
    sentVideoKbps: number;
    /** PLI + FIR the server sent the publisher for its video while viewers were there. */
    keyframeRequests: { total: number; joinPhase: number; steady: number };
    /** Gaps over 500 ms in the encoder's own output during the run (a starved ffmpeg). */
    encoderStalls: number;
    longestEncoderGapMs: number;
  };
  /** Every viewer's own figures (times relative to its own start, as above). */
  perViewer: PerViewer[];
}

export type PerViewer = Omit<ViewerResult, 'rtp'> & { rtp: Omit<RtpTotals, 'firstVideoAt'> };

export function summarize(input: {
  options: LoadTestOptions;
  run: ViewerRun;
  cpu: CpuSampler;
  /** performance.now() when the baseline (no viewers yet) began. */
  baselineFrom: number;
  publisher?: { stats: PublisherStats; videoBytesDuringRun: number };
}): Summary {
  const { options, run, cpu } = input;
  const results = run.results;
  const withVideo = results.filter((r) => r.firstVideoMs !== undefined).length;
  const failures = new Map<string, number>();
  for (const r of results) {
    if (r.firstVideoMs !== undefined) continue;
    const reason = failureReason(r);
    failures.set(reason, (failures.get(reason) ?? 0) + 1);
  }
  const p = (pick: (r: ViewerResult) => number | undefined, digits = 1) =>
    roundPercentiles(percentiles(results.map(pick)), digits);
  const withVideoOnly = (pick: (r: ViewerResult) => number) => (r: ViewerResult) =>
    r.firstVideoMs === undefined ? undefined : pick(r);
  const since = (at: number) => round((at - run.startedAt) / 1000, 2);
  const window = (from: number, to: number): CpuWindow => ({
    from: since(from),
    to: since(to),
    processes:
      to - from < 500
        ? []
        : cpu.window(from, to).map((row) => ({ ...row, percent: round(row.percent) })),
    testerLoopDelayMaxMs: round(cpu.loopDelayMax(from, to)),
  });
  const baseline = window(input.baselineFrom, run.startedAt);
  const joinPhase = window(run.startedAt, run.joinPhaseEndedAt);
  const steady = window(run.joinPhaseEndedAt, run.endedAt);
  const testerIn = (w: CpuWindow) => w.processes.find((row) => row.key === 'tester')?.percent;
  const testerSteady = testerIn(steady);
  const summary: Summary = {
    url: options.url,
    room: options.room,
    viewers: results.length,
    rate: options.rate,
    durationSeconds: options.durationSeconds,
    stoppedEarly: options.signal?.aborted === true,
    viewersWithVideo: withVideo,
    shareWithVideoPercent: results.length ? round((100 * withVideo) / results.length) : 0,
    failures: [...failures]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count),
    disconnected: results.filter((r) => r.disconnected !== undefined).length,
    viewersByMediaAddress: countBy(results.map((r) => r.mediaAddress ?? 'none')),
    tokenMs: p((r) => r.tokenMs),
    joinMs: p((r) => r.joinMs),
    iceMs: p((r) => r.iceMs),
    dtlsMs: p((r) => r.dtlsMs),
    firstVideoMs: p((r) => r.firstVideoMs),
    bitrateKbps: p((r) => r.bitrateKbps),
    lossPercent: p((r) => r.lossPercent, 2),
    stalls: p(
      withVideoOnly((r) => r.rtp.stalls),
      0,
    ),
    longestVideoGapMs: p(withVideoOnly((r) => r.rtp.longestVideoGapMs)),
    cpu: {
      source: cpu.source,
      baseline,
      joinPhase,
      steady,
      testerPercentPerViewer:
        testerSteady !== undefined && results.length
          ? round(testerSteady / results.length, 2)
          : null,
    },
    // firstVideoAt is this process's clock; firstVideoMs says the same relative to the viewer.
    perViewer: results.map(({ rtp: { firstVideoAt: _, ...rtp }, ...rest }) => ({ ...rest, rtp })),
  };
  if (input.publisher) {
    const { stats, videoBytesDuringRun } = input.publisher;
    // Keyframe request times are epoch-based (they may come from another process).
    const epoch = (at: number) => performance.timeOrigin + at;
    const times = stats.keyframeRequestTimes.filter(
      (t) => t >= epoch(run.startedAt) && t <= epoch(run.endedAt),
    );
    const seconds = (run.endedAt - run.startedAt) / 1000;
    summary.publisher = {
      videoTrackId: stats.videoTrackId,
      sentVideoKbps: round((videoBytesDuringRun * 8) / 1000 / Math.max(seconds, 0.001)),
      keyframeRequests: {
        total: times.length,
        joinPhase: times.filter((t) => t <= epoch(run.joinPhaseEndedAt)).length,
        steady: times.filter((t) => t > epoch(run.joinPhaseEndedAt)).length,
      },
      ...encoderStalls(stats, epoch(run.startedAt), epoch(run.endedAt)),
    };
  }
  return summary;
}

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of [...values].sort()) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

function encoderStalls(stats: PublisherStats, from: number, to: number) {
  const during = stats.inputStalls.filter((s) => s.at + s.ms >= from && s.at <= to);
  return {
    encoderStalls: during.length,
    longestEncoderGapMs: round(Math.max(0, ...during.map((s) => s.ms))),
  };
}

function failureReason(r: ViewerResult): string {
  if (r.error) return r.error;
  if (r.disconnected) return r.disconnected;
  if (r.joinMs === undefined) return 'never joined';
  if (!r.transportConnected) return 'joined, receive transport not connected';
  if (r.videoConsumersResumed === 0) {
    return r.consumers === 0
      ? 'connected, but the server announced no consumer'
      : 'connected, but no video consumer was resumed';
  }
  return 'connected, video consumer resumed, but no video RTP arrived';
}

export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  const pace = s.rate > 0 ? `${s.rate}/s` : 'all at once';
  lines.push(
    `livestage load test: ${s.viewers} viewers (${pace}) in room "${s.room}" at ${s.url}, ` +
      `${s.durationSeconds} s after the last join${s.stoppedEarly ? ' (stopped early)' : ''}`,
  );
  lines.push(
    `viewers with video: ${s.viewersWithVideo}/${s.viewers} (${s.shareWithVideoPercent} %)` +
      (s.disconnected ? `; disconnected by the server: ${s.disconnected}` : ''),
  );
  for (const f of s.failures) lines.push(`  ${f.count} × ${f.reason}`);
  const spread = Object.entries(s.viewersByMediaAddress).map(([at, n]) => `${n} via ${at}`);
  lines.push(`server media address (one port per worker): ${spread.join(', ')}`);
  lines.push('');
  const cell = (v: number | null) => (v === null ? '—' : String(v));
  const rows: [string, Percentiles][] = [
    ['token from REST (ms)', s.tokenMs],
    ['connect → join ack (ms)', s.joinMs],
    ['ICE (ms)', s.iceMs],
    ['DTLS (ms)', s.dtlsMs],
    ['connect → first video RTP (ms)', s.firstVideoMs],
    ['received bitrate (kbit/s)', s.bitrateKbps],
    ['packet loss (%)', s.lossPercent],
    ['stalls (> 500 ms without video)', s.stalls],
    ['longest video gap (ms)', s.longestVideoGapMs],
  ];
  lines.push(
    ...table([
      ['per viewer', 'p50', 'p95', 'max', 'n'],
      ...rows.map(([label, v]) => [label, cell(v.p50), cell(v.p95), cell(v.max), String(v.n)]),
    ]),
  );
  lines.push('');
  const windows = [s.cpu.baseline, s.cpu.joinPhase, s.cpu.steady];
  const all = windows.flatMap((w) => w.processes);
  const keys = [...new Set(all.map((row) => row.key))];
  const percentIn = (w: CpuWindow, key: string) =>
    w.processes.find((row) => row.key === key)?.percent.toFixed(1) ?? '—';
  lines.push(
    ...table([
      [
        'CPU, % of one core',
        `no viewers ${s.cpu.baseline.from}–0 s`,
        `join phase 0–${s.cpu.joinPhase.to} s`,
        `steady ${s.cpu.steady.from}–${s.cpu.steady.to} s`,
      ],
      ...keys.map((key) => [
        all.find((row) => row.key === key)?.label ?? key,
        ...windows.map((w) => percentIn(w, key)),
      ]),
      [
        'load tester event loop, longest block (ms)',
        ...windows.map((w) => String(w.testerLoopDelayMaxMs)),
      ],
    ]),
  );
  if (s.cpu.source === 'none') {
    lines.push(
      '  server workers: not measured (GET /healthz reports no worker CPU, and the server is not on this machine)',
    );
  }
  if (s.cpu.testerPercentPerViewer !== null) {
    lines.push(`  load tester per viewer (steady): ${s.cpu.testerPercentPerViewer} % of one core`);
  }
  if (s.publisher) {
    const k = s.publisher.keyframeRequests;
    lines.push('');
    lines.push(
      `publisher: sent ${s.publisher.sentVideoKbps} kbit/s of video; keyframe requests (PLI + FIR) ` +
        `it received while viewers were there: ${k.total} (${k.joinPhase} in the join phase, ${k.steady} steady)`,
    );
    if (s.publisher.encoderStalls > 0) {
      lines.push(
        `  ffmpeg itself paused ${s.publisher.encoderStalls} time(s) (longest ${s.publisher.longestEncoderGapMs} ms): ` +
          'viewers stalled then through no fault of the server (this machine is short of CPU)',
      );
    }
  }
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const widths =
    rows[0]?.map((_, col) => Math.max(...rows.map((row) => row[col]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    `  ${row
      .map((cell, col) =>
        col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0),
      )
      .join('  ')}`.trimEnd(),
  );
}
