// Join benchmark: one host goes live, then N viewers join one after another (each stays while the
// next one joins) and each measures, in its own page, how long the SDK takes from
// LiveRoom.connect() to joined, to the video track subscribed and to the first decoded frame.
// It prints figures only and never asserts timing; the exit code is 1 only when a viewer failed.
//
//   node --import tsx bench/join.ts [--viewers N]      (or BENCH_VIEWERS=N; default 10)
//   BENCH_WORKERS=2                                     mediasoup workers (default 1)
//   BENCH_VIEWER_TIMEOUT_MS=30000                       ceiling for one viewer
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

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

const HOST_TIMEOUT_MS = 30_000;

/** What one viewer page reports; all times are ms on the page's own performance.now() clock. */
interface ViewerTiming {
  t0: number;
  tJoined: number;
  tSubscribed: number;
  tFirstFrame: number;
  /** When the last packet of the first frame arrived (WebRTC frame metadata), if reported. */
  tFirstFrameReceived: number | null;
  /** The video track was already subscribed when connect() returned. */
  subscribedBeforeJoined: boolean;
  frameWidth: number;
  frameHeight: number;
}

interface ViewerResult {
  index: number;
  timing?: ViewerTiming;
  error?: string;
}

// In-page code is kept as plain JavaScript text: tsx's transform would otherwise inject helpers
// (such as __name) that do not exist inside the page. The token is fetched before the clock
// starts; the room is kept on window so that the viewer stays in the room until its page closes.
const MEASURE_JOIN = `async ({ room, timeoutMs }) => {
  const { LiveRoom } = window.Livestage;
  const response = await fetch('/api/dev/token?room=' + encodeURIComponent(room) + '&role=audience');
  const body = await response.json();
  if (!response.ok) throw new Error('token: ' + (body.error ? body.error.message : response.status));
  const token = body.token;

  let phase = 'connect';
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out after ' + timeoutMs + ' ms in phase: ' + phase)), timeoutMs);
  });
  const measure = async () => {
    const t0 = performance.now();
    const liveRoom = await LiveRoom.connect(location.origin, token);
    const tJoined = performance.now();
    window.__benchRoom = liveRoom;
    phase = 'subscribe';

    let subscribedBeforeJoined = false;
    const subscribed = new Promise((resolve) => {
      liveRoom.on('trackSubscribed', (track) => {
        if (track.kind === 'video') resolve({ track, at: performance.now() });
      });
      // Cannot happen with the current SDK (subscribing takes at least one more round trip),
      // but a track that is already there must not make the page wait forever.
      for (const participant of liveRoom.participants.values()) {
        for (const track of participant.tracks.values()) {
          if (track.kind === 'video') {
            subscribedBeforeJoined = true;
            resolve({ track, at: tJoined });
          }
        }
      }
    });
    const { track, at: tSubscribed } = await subscribed;
    phase = 'first frame';

    const video = document.createElement('video');
    video.muted = true;
    video.style.width = '640px';
    video.style.height = '360px';
    video.style.display = 'block';
    const first = new Promise((resolve) => {
      video.requestVideoFrameCallback((_now, metadata) => {
        resolve({
          tFirstFrame: performance.now(),
          tFirstFrameReceived: typeof metadata.receiveTime === 'number' ? metadata.receiveTime : null,
          frameWidth: metadata.width,
          frameHeight: metadata.height,
        });
      });
    });
    document.body.append(video);
    track.attach(video);
    const frame = await first;
    return { t0, tJoined, tSubscribed, subscribedBeforeJoined, ...frame };
  };
  try {
    return await Promise.race([measure(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}`;

function options(): { viewers: number; workers: string; timeoutMs: number } {
  const { values } = parseArgs({
    options: { viewers: { type: 'string' } },
    strict: true,
  });
  const viewers = Number(values.viewers ?? process.env.BENCH_VIEWERS ?? 10);
  const timeoutMs = Number(process.env.BENCH_VIEWER_TIMEOUT_MS ?? 30_000);
  const workers = process.env.BENCH_WORKERS ?? '1';
  if (!Number.isInteger(viewers) || viewers < 1)
    throw new Error('--viewers must be an integer ≥ 1');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error('BENCH_VIEWER_TIMEOUT_MS must be a positive number');
  }
  if (!/^[1-9][0-9]*$/.test(workers)) throw new Error('BENCH_WORKERS must be an integer ≥ 1');
  return { viewers, workers, timeoutMs };
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
): Promise<ViewerTiming> {
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${server.url}/index.html`);
  await page.addScriptTag({ url: '/sdk/livestage.js' });
  try {
    return await withTimeout(
      page.evaluate<ViewerTiming>(`(${MEASURE_JOIN})(${JSON.stringify({ room, timeoutMs })})`),
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

async function main(): Promise<number> {
  const { viewers, workers, timeoutMs } = options();
  const roomName = `bench-${Date.now().toString(36)}`;
  const results: ViewerResult[] = [];
  const contexts: BrowserContext[] = [];
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  let hostPage: Page | undefined;
  let resources:
    | {
        cpuSeconds: number;
        wallSeconds: number;
        rssBeforeMiB: number;
        rssAfterMiB: number;
        workerPeakRssMiB: number;
      }
    | undefined;

  try {
    server = await startTestServer({ MEDIA_WORKERS: workers });
    browser = await launchChromium();
    console.log(
      `join bench: ${viewers} viewer(s), ${workers} mediasoup worker(s), room ${roomName}, ` +
        `chromium ${browser.version()}, server ${server.url}`,
    );
    hostPage = await goLive(browser, server, roomName);
    console.log('host is live; viewers join one after another…');

    const cpuBefore = await workerCpuSeconds(server);
    const rssBefore = process.memoryUsage().rss;
    const wallStart = performance.now();

    for (let index = 1; index <= viewers; index += 1) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      contexts.push(context);
      try {
        const timing = await joinViewer(context, server, roomName, timeoutMs);
        results.push({ index, timing });
        console.log(
          `  viewer ${String(index).padStart(3)}: joined ${fmt(timing.tJoined - timing.t0)} ms, ` +
            `first frame ${fmt(timing.tFirstFrame - timing.t0)} ms ` +
            `(${timing.frameWidth}x${timing.frameHeight})`,
        );
      } catch (error) {
        // The first line says what happened; the rest is the in-page stack.
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
        results.push({ index, error: message });
        console.log(`  viewer ${String(index).padStart(3)}: FAILED: ${message}`);
      }
    }

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

  const ok = results.flatMap((r) => (r.timing ? [r.timing] : []));
  const failed = results.filter((r) => r.error !== undefined);
  const metrics = {
    connectToJoined: stats(ok.map((t) => t.tJoined - t.t0)),
    joinedToSubscribed: stats(ok.map((t) => t.tSubscribed - t.tJoined)),
    subscribeToFirstFrame: stats(ok.map((t) => t.tFirstFrame - t.tSubscribed)),
    connectToFirstFrame: stats(ok.map((t) => t.tFirstFrame - t.t0)),
  };
  const received = ok.flatMap((t) =>
    t.tFirstFrameReceived === null ? [] : [t.tFirstFrame - t.tFirstFrameReceived],
  );
  const receivedToFrame = received.length === ok.length ? stats(received) : undefined;

  console.log('');
  console.log(`join bench results: ${ok.length}/${viewers} viewers ok (times in ms, nearest rank)`);
  const rows: [string, Stats][] = [
    ['(a) connect → joined', metrics.connectToJoined],
    ['    joined → video subscribed', metrics.joinedToSubscribed],
    ['(b) subscribe → first decoded frame', metrics.subscribeToFirstFrame],
    ...(receivedToFrame
      ? ([['    first frame received → shown', receivedToFrame]] as [string, Stats][])
      : []),
    ['(c) connect → first frame', metrics.connectToFirstFrame],
  ];
  printStats(rows);
  if (resources) {
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
  for (const f of failed) console.log(`viewer ${f.index} failed: ${f.error}`);

  const json = {
    viewers,
    ok: ok.length,
    failed: failed.length,
    workers: Number(workers),
    metricsMs: Object.fromEntries(
      Object.entries({ ...metrics, ...(receivedToFrame ? { receivedToFrame } : {}) }).map(
        ([name, s]) => [name, roundStats(s)],
      ),
    ),
    perViewer: results.map((r) =>
      r.timing
        ? {
            index: r.index,
            connectToJoinedMs: round(r.timing.tJoined - r.timing.t0),
            joinedToSubscribedMs: round(r.timing.tSubscribed - r.timing.tJoined),
            subscribeToFirstFrameMs: round(r.timing.tFirstFrame - r.timing.tSubscribed),
            connectToFirstFrameMs: round(r.timing.tFirstFrame - r.timing.t0),
            firstFrame: `${r.timing.frameWidth}x${r.timing.frameHeight}`,
          }
        : { index: r.index, error: r.error },
    ),
    resources: resources
      ? {
          workerCpuSeconds: round(resources.cpuSeconds, 3),
          workerCpuSecondsPerViewer: round(resources.cpuSeconds / viewers, 4),
          wallSeconds: round(resources.wallSeconds, 2),
          rssBeforeMiB: round(resources.rssBeforeMiB),
          rssAfterMiB: round(resources.rssAfterMiB),
          rssDeltaMiB: round(resources.rssAfterMiB - resources.rssBeforeMiB),
          rssDeltaMiBPerViewer: round(
            (resources.rssAfterMiB - resources.rssBeforeMiB) / viewers,
            2,
          ),
          workerPeakRssMiB: round(resources.workerPeakRssMiB),
        }
      : null,
  };
  console.log(`BENCH_JOIN_JSON ${JSON.stringify(json)}`);
  return failed.length === 0 && ok.length === viewers ? 0 : 1;
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
