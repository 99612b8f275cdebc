// Ingest latency benchmark, in one Chromium (so every page reads one clock):
//  (a) WHIP publish → first frame: an SDK viewer page is in the room; a publisher page publishes
//      the fake camera with a plain RTCPeerConnection over WHIP (offer POSTed once ICE gathering
//      completed). Time from just before the POST to the viewer's first decoded frame
//      (requestVideoFrameCallback), BENCH_RUNS times, DELETE between runs.
//  (b) WHEP first frame: a plain recvonly RTCPeerConnection POSTs to /whep/{room} while the
//      camera is published; time from just before the POST to its first decoded frame.
//  (c) Host camera → HLS playback: the publisher page draws Date.now() as a barcode on a canvas,
//      publishes its captureStream over WHIP, an HLS egress starts, and an hls.js page plays
//      /hls/{room}/index.m3u8, reading the barcode of the shown picture every 500 ms:
//      latency = Date.now() - the time it shows; players start once the playlist is full
//      (HLS_LIST_SIZE segments), as a viewer of a running stream does. With hls.js defaults and liveSyncDurationCount 1,
//      for HLS_SEGMENT_SECONDS 2 (the default) and 1.
// Pages: the WHIP, WHEP and SDK pages run on the server's /index.html (no scripts of its own).
// The hls.js page comes from a tiny static server on 127.0.0.1 (the server's pages have a CSP that
// forbids the blob: media source and worker hls.js needs; a page made by route interception is
// refused loopback connections by Chromium's Local Network Access checks); HLS is served with
// CORS *.
// Prints figures only and never asserts them; exit code 1 only when a step failed.
//
//   node --import tsx bench/ingestLatency.ts
//   BENCH_RUNS=5                 WHIP / WHEP repetitions
//   BENCH_HLS_SAMPLE_S=20        how long each hls.js player is sampled (after 3 s settling)
//   BENCH_HLS_SEGMENTS=2,1       HLS_SEGMENT_SECONDS values to try
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { tokenFor } from '../test/helpers/client.js';
import { ADMIN_AUTH, startTestServer, type TestServer } from '../test/helpers/server.js';
import {
  BARCODE_CAMERA,
  FAKE_CAMERA,
  HLS_LATENCY,
  PEER_HELPERS,
  SDK_VIEWER,
} from './lib/ingestPages.js';
import { fmt, printTable, stats, type Stats } from './lib/report.js';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
const CAMERA = { width: 640, height: 360, fps: 30 };
const STEP_TIMEOUT_MS = 30_000;

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const HLS_SAMPLE_MS = Number(process.env.BENCH_HLS_SAMPLE_S ?? 20) * 1000;
const HLS_SEGMENTS = (process.env.BENCH_HLS_SEGMENTS ?? '2,1').split(',').map(Number);
const PLAYERS: { label: string; config: Record<string, unknown> }[] = [
  { label: 'hls.js defaults', config: {} },
  { label: 'liveSyncDurationCount: 1', config: { liveSyncDurationCount: 1 } },
];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A page on the server's origin with the WHIP/WHEP helpers. */
async function serverPage(context: BrowserContext, server: TestServer): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  (page error: ${error.message})`));
  await page.goto(`${server.url}/index.html`);
  await page.evaluate(PEER_HELPERS);
  return page;
}

/** Serves an empty page that loads hls.min.js, on 127.0.0.1 (see the note at the top). */
async function servePlayerPage(): Promise<{ url: string; close: () => Promise<void> }> {
  const script = readFileSync(HLS_JS);
  const server = http.createServer((req, res) => {
    if (req.url === '/hls.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><title>hls.js</title><script src="/hls.min.js"></script><body>');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const run = <T>(page: Page, fn: string, arg: unknown): Promise<T> =>
  page.evaluate(`(${fn})(${JSON.stringify(arg)})`) as Promise<T>;

interface FirstFrame {
  at: number;
  identity: string;
  width: number;
  height: number;
}

/** (a): WHIP publish of the fake camera → the SDK viewer's first frame, `RUNS` times. */
async function whipToViewer(context: BrowserContext, server: TestServer, room: string) {
  const viewer = await serverPage(context, server);
  await viewer.addScriptTag({ url: '/sdk/livestage.js' });
  await run(viewer, SDK_VIEWER, { room });
  const publisher = await serverPage(context, server);
  await run(publisher, FAKE_CAMERA, CAMERA);
  const whepPage = await serverPage(context, server);
  const firstFrames: number[] = [];
  const whepFrames: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const identity = `whip-camera-${i}`;
    const token = tokenFor(room, identity, 'host');
    const sent = await run<{ tPost: number; tAnswer: number }>(publisher, '__whip', {
      url: `/whip/${room}`,
      token,
      stream: '__camera',
    });
    const frame = await waitFor(STEP_TIMEOUT_MS, `viewer frame of ${identity}`, async () =>
      (await viewer.evaluate<FirstFrame[]>('window.__firstFrames')).find(
        (f) => f.identity === identity,
      ),
    );
    firstFrames.push(frame.at - sent.tPost);
    const whep = await run<{ tPost: number; tAnswer: number; at: number }>(whepPage, '__whep', {
      url: `/whep/${room}`,
      token: tokenFor(room, `whep-${i}`, 'audience'),
      timeoutMs: STEP_TIMEOUT_MS,
    });
    whepFrames.push(whep.at - whep.tPost);
    console.log(
      `  run ${i + 1}: WHIP POST → answer ${fmt(sent.tAnswer - sent.tPost)} ms, → SDK viewer's ` +
        `first frame ${fmt(frame.at - sent.tPost)} ms (${frame.width}x${frame.height}); WHEP POST → ` +
        `first frame ${fmt(whep.at - whep.tPost)} ms`,
    );
    await run(whepPage, '__stop', tokenFor(room, `whep-${i}`, 'audience')).catch(() => undefined);
    const status = await run<number>(publisher, '__stop', token);
    if (status !== 200) throw new Error(`WHIP DELETE: ${status}`);
    await waitFor(10_000, 'the WHIP session ended', () =>
      server.ingest.count('whip') === 0 ? true : undefined,
    );
    await sleep(500);
  }
  for (const page of [viewer, publisher, whepPage]) await page.close();
  return { whip: stats(firstFrames), whep: stats(whepFrames) };
}

interface HlsRun {
  startupMs: number;
  latencies: number[];
  unreadable: number;
  hlsLatencies: number[];
  stalls: number;
  width: number;
  height: number;
}

interface HlsFigures {
  segmentSeconds: number;
  player: string;
  firstSegmentMs: number;
  startupMs: number;
  latency: Stats;
  hlsJsLatency: Stats;
  unreadable: number;
  stalls: number;
}

/** (c): the barcode camera over WHIP → HLS egress → hls.js, for each player config. */
async function cameraToHls(
  browser: Browser,
  segmentSeconds: number,
  room: string,
): Promise<HlsFigures[]> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'livestage-bench-ingest-'));
  const server = await startTestServer({
    HLS_DIR: path.join(dataDir, 'hls'),
    RECORDINGS_DIR: path.join(dataDir, 'recordings'),
    SNAPSHOT_DIR: path.join(dataDir, 'snapshots'),
    HLS_SEGMENT_SECONDS: String(segmentSeconds),
  });
  const context = await browser.newContext();
  const playerPage = await servePlayerPage();
  const figures: HlsFigures[] = [];
  try {
    const publisher = await serverPage(context, server);
    await run(publisher, BARCODE_CAMERA, CAMERA);
    await run(publisher, '__whip', {
      url: `/whip/${room}`,
      token: tokenFor(room, 'barcode-camera', 'host'),
      stream: '__barcode',
    });
    const t0 = performance.now();
    const response = await fetch(`${server.url}/api/rooms/${room}/egress`, {
      method: 'POST',
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'hls' }),
    });
    if (response.status !== 201)
      throw new Error(`egress: ${response.status} ${await response.text()}`);
    const segments = async () => {
      const playlist = await fetch(`${server.url}/hls/${room}/index.m3u8`);
      const text = playlist.ok ? await playlist.text() : '';
      return text.split('\n').filter((l) => l.endsWith('.ts')).length;
    };
    const firstSegmentMs = await waitFor(STEP_TIMEOUT_MS, 'the first segment', async () =>
      (await segments()) > 0 ? performance.now() - t0 : undefined,
    );
    // Players arrive at a full playlist, as viewers of a running stream do: a player started at
    // the first segment has no older segments to start behind the live edge with.
    const { hlsListSize } = server.config.egress;
    await waitFor(
      hlsListSize * segmentSeconds * 1000 + STEP_TIMEOUT_MS,
      'a full playlist',
      async () => ((await segments()) >= hlsListSize ? true : undefined),
    );
    for (const { label, config } of PLAYERS) {
      const player = await context.newPage();
      await player.goto(playerPage.url);
      const result = await run<HlsRun>(player, HLS_LATENCY, {
        src: `${server.url}/hls/${room}/index.m3u8`,
        config,
        settleMs: 3_000,
        sampleMs: 500,
        durationMs: HLS_SAMPLE_MS,
        timeoutMs: STEP_TIMEOUT_MS,
      });
      await player.close();
      const figure: HlsFigures = {
        segmentSeconds,
        player: label,
        firstSegmentMs,
        startupMs: result.startupMs,
        latency: stats(result.latencies),
        hlsJsLatency: stats(result.hlsLatencies),
        unreadable: result.unreadable,
        stalls: result.stalls,
      };
      figures.push(figure);
      console.log(
        `  ${segmentSeconds} s segments, ${label}: camera → screen p50 ${fmt(figure.latency.p50)} ms ` +
          `(min ${fmt(figure.latency.min)}, max ${fmt(figure.latency.max)}, ${figure.latency.n} ` +
          `readings, ${result.unreadable} unreadable, ${result.width}x${result.height}), ` +
          `hls.js start ${fmt(result.startupMs)} ms`,
      );
    }
  } finally {
    await context.close().catch(() => undefined);
    await playerPage.close();
    await server.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
  return figures;
}

async function waitFor<T>(
  ceilingMs: number,
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + ceilingMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ceilingMs} ms`);
    await sleep(50);
  }
}

async function main(): Promise<number> {
  const browser = await launchChromium();
  console.log(
    `ingest latency bench: chromium ${browser.version()}, fake camera / barcode canvas ` +
      `${CAMERA.width}x${CAMERA.height}@${CAMERA.fps} published over WHIP (plain ` +
      `RTCPeerConnection), ${RUNS} WHIP/WHEP runs, ${os.cpus().length} cores`,
  );
  try {
    const server = await startTestServer();
    let realtime: Awaited<ReturnType<typeof whipToViewer>>;
    try {
      const context = await browser.newContext();
      realtime = await whipToViewer(context, server, 'bench-whip');
      await context.close();
    } finally {
      await server.close();
    }
    const hls: HlsFigures[] = [];
    for (const seconds of HLS_SEGMENTS) {
      hls.push(...(await cameraToHls(browser, seconds, `bench-hls-${seconds}s`)));
    }

    console.log('');
    console.log(`first decoded frame, ms from just before the POST (${RUNS} runs)`);
    printTable([
      ['', 'p50', 'min', 'max'],
      ...(
        [
          ['WHIP publish → SDK viewer', realtime.whip],
          ['WHEP play', realtime.whep],
        ] as const
      ).map(([label, s]) => [label, fmt(s.p50), fmt(s.min), fmt(s.max)]),
    ]);
    console.log('');
    console.log('camera (barcode canvas) → WHIP → HLS egress → hls.js, latency in ms');
    printTable([
      [
        'segment',
        'player',
        'POST → 1st segment',
        'hls.js start',
        'p50',
        'min',
        'max',
        'n',
        'hls.latency p50',
        'stalls',
      ],
      ...hls.map((h) => [
        `${h.segmentSeconds} s`,
        h.player,
        fmt(h.firstSegmentMs),
        fmt(h.startupMs),
        fmt(h.latency.p50),
        fmt(h.latency.min),
        fmt(h.latency.max),
        String(h.latency.n),
        fmt(h.hlsJsLatency.p50),
        String(h.stalls),
      ]),
    ]);
    console.log(`BENCH_INGEST_JSON ${JSON.stringify({ camera: CAMERA, realtime, hls })}`);
    return 0;
  } finally {
    await browser.close().catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
