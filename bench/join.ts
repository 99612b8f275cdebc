// Join benchmark: one host goes live, then N viewers join one after another (each stays while the
// next one joins) and each measures, in its own page, how long the SDK takes from
// LiveRoom.connect() to joined, to the video track subscribed and to the first decoded frame.
// Each viewer also reports where its time went: the SDK's steps (ConnectOptions.onTiming), its
// RTCPeerConnection's ICE/DTLS states, and the server's side through mediasoup's observer API
// (transport ICE/DTLS, consumer resume, the host's keyframe, the first keyframe sent out).
// It prints figures only and never asserts timing; the exit code is 1 only when a viewer failed.
//
//   node --import tsx bench/join.ts [--viewers N]      (or BENCH_VIEWERS=N; default 20)
//   BENCH_WORKERS=2                                     mediasoup workers (default 1)
//   BENCH_VIEWER_TIMEOUT_MS=30000                       ceiling for one viewer
//   BENCH_KEYFRAME_DELAY_MS=500                         the server's MEDIA_KEYFRAME_REQUEST_DELAY_MS
//                                                       (default: the server's own default)
//   BENCH_BASELINE_SRC=/tmp/sdk-before/src              a copy of the SDK's sources to compare
//                                                       with: viewers alternate A B B A between
//                                                       it and the current SDK
//   BENCH_SDK_SRC=/path/to/src                          the SDK the viewers use, built from these
//                                                       sources (default: the served bundle)
//   BENCH_PREPARE_MS=300                                the page calls LiveRoom.prepare() this long
//                                                       before it joins (as the example pages do)
//   BENCH_KEEP_VIEWERS=0                                each viewer leaves before the next joins
//   BENCH_VERBOSE=1                                     the host's keyframes around each join
import { parseArgs } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import {
  fmt,
  printStats,
  printTable,
  round,
  roundStats,
  stats,
  withTimeout,
  type Stats,
} from './lib/report.js';
import { startTestServer } from '../test/helpers/server.js';
import {
  printBreakdown,
  roundTimeline,
  summarize,
  timelineOf,
  type BreakdownSummary,
  type Timeline,
} from './lib/joinBreakdown.js';
import { buildSdkBundle, installBundle } from './lib/sdkBundle.js';
import { ServerTracer, type ServerJoinTrace } from './lib/serverTrace.js';
import { MEASURE_JOIN, RECORD_PEER_CONNECTIONS, type ViewerTiming } from './lib/viewerPage.js';

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

const HOST_TIMEOUT_MS = 30_000;

type Arm = 'current' | 'baseline';

interface ViewerResult {
  index: number;
  /** Which SDK the viewer used (see BENCH_BASELINE_SRC). */
  arm: Arm;
  timing?: ViewerTiming;
  timeline?: Timeline;
  /** Spatial layer of the first keyframe the server sent this viewer. */
  firstLayer?: number;
  error?: string;
}

interface Options {
  viewers: number;
  workers: string;
  timeoutMs: number;
  keyFrameRequestDelayMs: number | undefined;
  baselineSrc: string | undefined;
  sdkSrc: string | undefined;
  keepViewers: boolean;
  prepareMs: number | null;
}

function options(): Options {
  const { values } = parseArgs({
    options: { viewers: { type: 'string' } },
    strict: true,
  });
  const viewers = Number(values.viewers ?? process.env.BENCH_VIEWERS ?? 20);
  const delay = process.env.BENCH_KEYFRAME_DELAY_MS;
  const keyFrameRequestDelayMs = delay === undefined || delay === '' ? undefined : Number(delay);
  if (keyFrameRequestDelayMs !== undefined && !(keyFrameRequestDelayMs >= 0)) {
    throw new Error('BENCH_KEYFRAME_DELAY_MS must be a number ≥ 0');
  }
  const timeoutMs = Number(process.env.BENCH_VIEWER_TIMEOUT_MS ?? 30_000);
  const workers = process.env.BENCH_WORKERS ?? '1';
  if (!Number.isInteger(viewers) || viewers < 1)
    throw new Error('--viewers must be an integer ≥ 1');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error('BENCH_VIEWER_TIMEOUT_MS must be a positive number');
  }
  if (!/^[1-9][0-9]*$/.test(workers)) throw new Error('BENCH_WORKERS must be an integer ≥ 1');
  const baselineSrc = process.env.BENCH_BASELINE_SRC || undefined;
  const sdkSrc = process.env.BENCH_SDK_SRC || undefined;
  const keepViewers = process.env.BENCH_KEEP_VIEWERS !== '0';
  const prepare = process.env.BENCH_PREPARE_MS;
  const prepareMs = prepare === undefined || prepare === '' ? null : Number(prepare);
  if (prepareMs !== null && !(prepareMs >= 0)) throw new Error('BENCH_PREPARE_MS must be ≥ 0');
  return {
    viewers,
    workers,
    timeoutMs,
    keyFrameRequestDelayMs,
    baselineSrc,
    sdkSrc,
    keepViewers,
    prepareMs,
  };
}

async function workerCpuSeconds(server: TestServer): Promise<number> {
  const workers = await server.pool.health();
  return workers.reduce((sum, w) => sum + w.cpuUserSeconds + w.cpuSystemSeconds, 0);
}

async function workerPeakRssMiB(server: TestServer): Promise<number> {
  const workers = await server.pool.health();
  return workers.reduce((sum, w) => sum + w.maxRssKiB, 0) / 1024;
}

const mib = (bytes: number): number => bytes / (1024 * 1024);

async function goLive(browser: Browser, server: TestServer, room: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${server.url}/host.html?room=${encodeURIComponent(room)}`);
  await page.click('#go-live');
  try {
    // A locator, not waitForFunction: the example pages' CSP (script-src 'self') forbids the
    // eval that a string predicate needs.
    await page.locator('#status', { hasText: /^\s*live/ }).waitFor({ timeout: HOST_TIMEOUT_MS });
  } catch (error) {
    const status = await page.textContent('#status').catch(() => null);
    throw new Error(`host did not go live (status: ${status ?? '?'}): ${String(error)}`, {
      cause: error,
    });
  }
  return page;
}

async function joinViewer(
  context: BrowserContext,
  server: TestServer,
  room: string,
  timeoutMs: number,
  sdkSource: string | undefined,
  prepareMs: number | null,
): Promise<ViewerTiming> {
  const page = await context.newPage();
  await page.addInitScript(RECORD_PEER_CONNECTIONS);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${server.url}/index.html`);
  if (sdkSource === undefined) await page.addScriptTag({ url: '/sdk/livestage.js' });
  else await page.evaluate(installBundle(sdkSource));
  try {
    return await withTimeout(
      page.evaluate<ViewerTiming>(
        `(${MEASURE_JOIN})(${JSON.stringify({ room, timeoutMs, prepareMs })})`,
      ),
      timeoutMs + 5_000,
      'viewer page',
    );
  } catch (error) {
    const detail = pageErrors.length > 0 ? ` (page: ${pageErrors.join(' | ')})` : '';
    throw new Error(`${error instanceof Error ? error.message : String(error)}${detail}`, {
      cause: error,
    });
  }
}

/** With a baseline, viewers take turns A B B A A B B A…: each SDK meets the same room sizes. */
function armOf(index: number, compare: boolean): Arm {
  if (!compare) return 'current';
  return [0, 3].includes((index - 1) % 4) ? 'baseline' : 'current';
}

interface Resources {
  cpuSeconds: number;
  wallSeconds: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  workerPeakRssMiB: number;
}

async function main(): Promise<number> {
  const opts = options();
  const { viewers, workers, timeoutMs, keyFrameRequestDelayMs, baselineSrc, sdkSrc } = opts;
  const baselineSdk = baselineSrc === undefined ? undefined : await buildSdkBundle(baselineSrc);
  const currentSdk = sdkSrc === undefined ? undefined : await buildSdkBundle(sdkSrc);
  // Before the server starts: it listens for the workers mediasoup creates.
  const tracer = new ServerTracer();
  const roomName = `bench-${Date.now().toString(36)}`;
  const results: ViewerResult[] = [];
  const contexts: BrowserContext[] = [];
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  let hostPage: Page | undefined;
  const hostWindow = { from: 0, to: 0 };
  let resources: Resources | undefined;

  try {
    server = await startTestServer({
      MEDIA_WORKERS: workers,
      ...(keyFrameRequestDelayMs === undefined
        ? {}
        : { MEDIA_KEYFRAME_REQUEST_DELAY_MS: String(keyFrameRequestDelayMs) }),
    });
    browser = await launchChromium();
    console.log(
      `join bench: ${viewers} viewer(s), ${workers} mediasoup worker(s), room ${roomName}, ` +
        `chromium ${browser.version()}, server ${server.url}, keyframe request delay ` +
        `${server.config.media.keyFrameRequestDelayMs} ms` +
        (opts.prepareMs === null ? '' : `, LiveRoom.prepare() ${opts.prepareMs} ms before`) +
        (sdkSrc === undefined ? '' : `, SDK from ${sdkSrc}`) +
        (baselineSrc === undefined ? '' : `, baseline SDK from ${baselineSrc} (A B B A…)`),
    );
    hostPage = await goLive(browser, server, roomName);
    console.log('host is live; viewers join one after another…');

    const cpuBefore = await workerCpuSeconds(server);
    const rssBefore = process.memoryUsage().rss;
    const wallStart = performance.now();
    hostWindow.from = performance.timeOrigin + performance.now();

    for (let index = 1; index <= viewers; index += 1) {
      const arm = armOf(index, baselineSdk !== undefined);
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      contexts.push(context);
      const label = `  viewer ${String(index).padStart(3)}${baselineSdk ? ` (${arm})` : ''}`;
      try {
        const sdk = arm === 'baseline' ? baselineSdk : currentSdk;
        const timing = await joinViewer(context, server, roomName, timeoutMs, sdk, opts.prepareMs);
        const serverSide = tracer.joinOf(timing.identity);
        const timeline = timelineOf(timing, serverSide, tracer);
        results.push({ index, arm, timing, timeline, firstLayer: serverSide.firstSpatialLayer });
        console.log(
          `${label}: joined ${fmt(timing.tJoined - timing.t0)} ms, ` +
            `first frame ${fmt(timing.tFirstFrame - timing.t0)} ms ` +
            `(${timing.frameWidth}x${timing.frameHeight}, layer ${serverSide.firstSpatialLayer ?? '?'})`,
        );
        if (process.env.BENCH_VERBOSE) printJoinDetail(timing, serverSide, tracer);
      } catch (error) {
        // The first line says what happened; the rest is the in-page stack.
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
        results.push({ index, arm, error: message });
        console.log(`${label}: FAILED: ${message}`);
      }
      // To look at one step without the load of a growing audience.
      if (!opts.keepViewers) await context.close().catch(() => undefined);
    }

    hostWindow.to = performance.timeOrigin + performance.now();
    resources = {
      cpuSeconds: (await workerCpuSeconds(server)) - cpuBefore,
      wallSeconds: (performance.now() - wallStart) / 1000,
      rssBeforeMiB: mib(rssBefore),
      rssAfterMiB: mib(process.memoryUsage().rss),
      workerPeakRssMiB: await workerPeakRssMiB(server),
    };
  } finally {
    for (const context of contexts) await context.close().catch(() => undefined);
    await hostPage?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
  }

  const host = tracer.hostCounts(hostWindow.from, hostWindow.to);
  const arms: Arm[] = baselineSdk === undefined ? ['current'] : ['baseline', 'current'];
  const reports = Object.fromEntries(
    arms.map((arm) => [
      arm,
      reportArm(
        arms.length > 1 ? `${arm} SDK` : 'join bench',
        results.filter((r) => r.arm === arm),
      ),
    ]),
  );
  if (arms.length > 1) {
    const p50 = (arm: Arm) => reports[arm]?.metricsMs.connectToFirstFrame?.p50 ?? Number.NaN;
    console.log('');
    console.log(
      `connect → first frame p50: current ${fmt(p50('current'))} ms, baseline ` +
        `${fmt(p50('baseline'))} ms: ${(p50('current') / p50('baseline')).toFixed(2)}× the baseline`,
    );
  }
  console.log('');
  printTable(
    [
      [
        'host video during the joins',
        `${host.requests} keyframe request(s) sent to it, ${host.keyframes} keyframe packet(s) from it`,
      ],
    ],
    false,
  );
  if (resources) printResources(resources, viewers);
  const failed = results.filter((r) => r.error !== undefined);
  for (const f of failed) console.log(`viewer ${f.index} failed: ${f.error}`);

  const json = {
    viewers,
    ok: results.length - failed.length,
    failed: failed.length,
    workers: Number(workers),
    keyFrameRequestDelayMs: server?.config.media.keyFrameRequestDelayMs ?? null,
    hostDuringJoins: host,
    ...(arms.length > 1 ? { arms: reports } : reports.current),
    perViewer: results.map((r) =>
      r.timing
        ? {
            index: r.index,
            ...(arms.length > 1 ? { arm: r.arm } : {}),
            connectToFirstFrameMs: round(r.timing.tFirstFrame - r.timing.t0),
            firstFrame: `${r.timing.frameWidth}x${r.timing.frameHeight}`,
            firstLayer: r.firstLayer,
            timeline: r.timeline ? roundTimeline(r.timeline) : undefined,
          }
        : { index: r.index, arm: r.arm, error: r.error },
    ),
    resources: resources ? resourcesJson(resources, viewers) : null,
  };
  console.log(`BENCH_JOIN_JSON ${JSON.stringify(json)}`);
  return failed.length === 0 && results.length === viewers ? 0 : 1;
}

interface ArmReport {
  ok: number;
  metricsMs: Record<string, Stats>;
  breakdownMs: Record<string, Record<string, Stats>>;
  facts: Record<string, unknown>;
}

/** Prints one SDK's figures: the four classic spans, the breakdown and the facts. */
function reportArm(title: string, results: ViewerResult[]): ArmReport {
  const ok = results.flatMap((r) => (r.timing ? [r.timing] : []));
  const metrics: Record<string, Stats> = {
    connectToJoined: stats(ok.map((t) => t.tJoined - t.t0)),
    joinedToSubscribed: stats(ok.map((t) => t.tSubscribed - t.tJoined)),
    subscribeToFirstFrame: stats(ok.map((t) => t.tFirstFrame - t.tSubscribed)),
    connectToFirstFrame: stats(ok.map((t) => t.tFirstFrame - t.t0)),
  };
  const received = ok.flatMap((t) =>
    t.tFirstFrameReceived === null ? [] : [t.tFirstFrame - t.tFirstFrameReceived],
  );
  if (received.length === ok.length) metrics.receivedToFrame = stats(received);

  console.log('');
  console.log(`${title}: ${ok.length}/${results.length} viewers ok (times in ms, nearest rank)`);
  const rows: [string, Stats | undefined][] = [
    ['(a) connect → joined', metrics.connectToJoined],
    ['    joined → video subscribed', metrics.joinedToSubscribed],
    ['(b) subscribe → first decoded frame', metrics.subscribeToFirstFrame],
    ['    first frame received → shown', metrics.receivedToFrame],
    ['(c) connect → first frame', metrics.connectToFirstFrame],
  ];
  printStats(rows.flatMap(([label, s]) => (s ? [[label, s] as [string, Stats]] : [])));
  const breakdown = summarize(results.flatMap((r) => (r.timeline ? [r.timeline] : [])));
  printBreakdown(breakdown, ok.length);
  const facts = joinFacts(results);
  console.log('');
  printTable(facts.rows, false);
  return {
    ok: ok.length,
    metricsMs: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, roundStats(v)])),
    breakdownMs: roundBreakdown(breakdown),
    facts: facts.json,
  };
}

function printResources(resources: Resources, viewers: number): void {
  const per = (value: number): string => (viewers > 0 ? (value / viewers).toFixed(3) : '—');
  const rssDelta = resources.rssAfterMiB - resources.rssBeforeMiB;
  console.log('');
  printTable(
    [
      ['viewers (N)', String(viewers)],
      [
        'worker CPU over the run (s)',
        `${resources.cpuSeconds.toFixed(3)} (${per(resources.cpuSeconds)} per viewer, ` +
          `${((100 * resources.cpuSeconds) / resources.wallSeconds).toFixed(1)} % of one core ` +
          `over ${resources.wallSeconds.toFixed(1)} s)`,
      ],
      [
        'server process RSS (MiB)',
        `${resources.rssBeforeMiB.toFixed(1)} → ${resources.rssAfterMiB.toFixed(1)}: ` +
          `${rssDelta >= 0 ? '+' : ''}${rssDelta.toFixed(1)} (${per(rssDelta)} per viewer)`,
      ],
      ['worker peak RSS (MiB)', resources.workerPeakRssMiB.toFixed(1)],
    ],
    false,
  );
}

function resourcesJson(resources: Resources, viewers: number): Record<string, number> {
  const rssDelta = resources.rssAfterMiB - resources.rssBeforeMiB;
  return {
    workerCpuSeconds: round(resources.cpuSeconds, 3),
    workerCpuSecondsPerViewer: round(resources.cpuSeconds / viewers, 4),
    wallSeconds: round(resources.wallSeconds, 2),
    rssBeforeMiB: round(resources.rssBeforeMiB),
    rssAfterMiB: round(resources.rssAfterMiB),
    rssDeltaMiB: round(rssDelta),
    rssDeltaMiBPerViewer: round(rssDelta / viewers, 2),
    workerPeakRssMiB: round(resources.workerPeakRssMiB),
  };
}

/** BENCH_VERBOSE: the host's keyframe traffic and the consumer's layers around one join. */
function printJoinDetail(
  timing: ViewerTiming,
  server: ServerJoinTrace,
  tracer: ServerTracer,
): void {
  const origin = timing.timeOrigin + timing.t0;
  const rel = (at: number) => fmt(at - origin);
  const to = server.videoKeyframeOut ?? origin + timing.tFirstFrame;
  for (const e of tracer.hostEventsBetween(origin, to)) {
    console.log(`      ${rel(e.at)} host ${e.what} layer ${e.spatialLayer ?? '?'}`);
  }
  for (const change of server.layerChanges) {
    console.log(`      ${rel(change.at)} consumer layers → ${change.spatialLayer ?? 'none'}`);
  }
}

/** What the breakdown does not show: layers, whether DTLS was late, keyframes, decode time. */
function joinFacts(results: ViewerResult[]): {
  rows: string[][];
  json: Record<string, unknown>;
} {
  const ok = results.filter((r) => r.timing && r.timeline);
  const layers = new Map<string, number>();
  for (const r of ok) {
    const key = String(r.firstLayer ?? '?');
    layers.set(key, (layers.get(key) ?? 0) + 1);
  }
  const layerText = [...layers.entries()]
    .sort()
    .map(([layer, n]) => `layer ${layer}: ${n}`)
    .join(', ');
  const dtlsLate = ok.filter((r) => {
    const t = r.timeline ?? {};
    const dtls = t['DTLS connected (server)'];
    const resumed = t['video resumed (server)'];
    return dtls !== undefined && resumed !== undefined && dtls > resumed;
  }).length;
  const decode = ok.flatMap((r) =>
    r.timing?.firstFrameDecodeMs === null || r.timing?.firstFrameDecodeMs === undefined
      ? []
      : [r.timing.firstFrameDecodeMs],
  );
  const decodeStats = decode.length > 0 ? stats(decode) : undefined;
  const requested = ok.reduce(
    (sum, r) => sum + (r.timing?.inbound?.pliCount ?? 0) + (r.timing?.inbound?.firCount ?? 0),
    0,
  );
  const rows = [
    ['first keyframe sent to each viewer', layerText || '—'],
    ['DTLS connected only after the video was resumed', `${dtlsLate}/${ok.length} viewers`],
    [
      'first frame decode (processingDuration)',
      decodeStats ? `p50 ${fmt(decodeStats.p50)} ms, p95 ${fmt(decodeStats.p95)} ms` : '—',
    ],
    ['PLI/FIR sent by viewers by their first frame', String(requested)],
  ];
  return {
    rows,
    json: {
      firstLayers: Object.fromEntries(layers),
      dtlsAfterResume: dtlsLate,
      firstFrameDecodeMs: decodeStats ? roundStats(decodeStats) : null,
      viewerKeyframeRequests: requested,
    },
  };
}

function roundBreakdown(summary: BreakdownSummary): Record<string, Record<string, Stats>> {
  const roundAll = (entries: [string, Stats | undefined][]) =>
    Object.fromEntries(entries.flatMap(([name, s]) => (s ? [[name, roundStats(s)]] : [])));
  return {
    milestones: roundAll(Object.entries(summary.milestones)),
    segments: roundAll(Object.entries(summary.segments)),
  };
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(
      'join bench failed:',
      error instanceof Error ? (error.stack ?? error.message) : error,
    );
    process.exitCode = 1;
  },
);
