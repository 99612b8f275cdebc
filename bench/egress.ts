// Egress benchmark: a real server with HLS, recordings and snapshots in a temporary folder; a host
// (then also a guest) publishing ffmpeg's test pattern (VP8 + Opus, BENCH_WIDTH x BENCH_HEIGHT at
// BENCH_FPS). For 1 and then 2 stage members it starts an HLS egress and measures the time from
// the POST to the first segment in the playlist, then the CPU of the compositor ffmpeg and of each
// snapshot ffmpeg (utime + stime from /proc/<pid>/stat, % of one core) over a window after a
// warm-up. Prints figures only and never asserts them; exit code 1 only when a step failed.
// Caveat: these publishers send no RTCP sender reports (only ffmpeg's RTP is forwarded); with two
// of them the compositor took 3-27 s to its first segment (14.6 and 27.2 s with Opus, 3.0 and
// 8.1 s with BENCH_AUDIO=0), while two Chromium WHIP publishers took 2.5-3.6 s (one run each).
//
//   node --import tsx bench/egress.ts
//   BENCH_WIDTH=640 BENCH_HEIGHT=360 BENCH_FPS=30 BENCH_KBPS=800   each publisher's video
//   BENCH_WARMUP_MS=5000 BENCH_WINDOW_MS=20000                      CPU measuring window
//   BENCH_SNAPSHOT_INTERVAL_MS=5000                                 the server's SNAPSHOT_INTERVAL_MS
//   BENCH_AUDIO=0                                                   publish video only
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EgressInfo } from '../server/src/egress/EgressInfo.js';
import { publishTestMedia, type TestPublisher } from '../test/helpers/media.js';
import { ADMIN_AUTH, startTestServer, type TestServer } from '../test/helpers/server.js';
import { fmt, printTable } from './lib/report.js';

const envNumber = (name: string, fallback: number): number => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
};

const VIDEO = {
  width: envNumber('BENCH_WIDTH', 640),
  height: envNumber('BENCH_HEIGHT', 360),
  fps: envNumber('BENCH_FPS', 30),
  videoKbps: envNumber('BENCH_KBPS', 800),
  audio: process.env.BENCH_AUDIO !== '0',
};
const WARMUP_MS = envNumber('BENCH_WARMUP_MS', 5_000);
const WINDOW_MS = envNumber('BENCH_WINDOW_MS', 20_000);
const SNAPSHOT_INTERVAL_MS = envNumber('BENCH_SNAPSHOT_INTERVAL_MS', 5_000);

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** utime + stime of `pid` in seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** % of one core each pid used over `ms` (NaN for a pid that ended meanwhile). */
async function cpuPercent(pids: number[], ms: number): Promise<number[]> {
  const before = pids.map(cpuSeconds);
  const start = performance.now();
  await sleep(ms);
  const seconds = (performance.now() - start) / 1000;
  return pids.map((pid, i) => {
    const [from, to] = [before[i], cpuSeconds(pid)];
    return from === undefined || to === undefined ? Number.NaN : ((to - from) / seconds) * 100;
  });
}

async function call(server: TestServer, method: string, url: string, body?: unknown) {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as EgressInfo;
}

/**
 * Polls the live playlist until it lists a segment: ms since `t0` (performance.now()), and when
 * each compositor ffmpeg (`pid()`) was first seen (a restart shows as a second one).
 */
async function firstSegmentAfter(
  server: TestServer,
  room: string,
  t0: number,
  pid: () => number | undefined,
  ceilingMs = 30_000,
) {
  const spawns = new Map<number, number>();
  while (performance.now() - t0 < ceilingMs) {
    const current = pid();
    if (current !== undefined && !spawns.has(current)) spawns.set(current, performance.now() - t0);
    const response = await fetch(`${server.url}/hls/${room}/index.m3u8`);
    const text = response.ok ? await response.text() : '';
    if (!text.includes('#EXT-X-ENDLIST') && text.split('\n').some((l) => l.endsWith('.ts'))) {
      return { ms: performance.now() - t0, spawnsMs: [...spawns.values()] };
    }
    await sleep(20);
  }
  throw new Error(`no segment within ${ceilingMs} ms`);
}

async function until<T>(what: string, check: () => T | undefined, ceilingMs = 20_000) {
  const deadline = Date.now() + ceilingMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ceilingMs} ms`);
    await sleep(50);
  }
}

interface Figures {
  members: number;
  firstSegmentMs: number;
  /** When each compositor ffmpeg was first seen, ms after the POST. */
  spawnsMs: number[];
  compositorCpu: number;
  snapshotCpu: number[];
}

/** Starts an HLS egress of `room`'s stage as it is, measures, and stops it. */
async function measure(server: TestServer, room: string, members: number): Promise<Figures> {
  const snapshotPids = await until('one snapshot ffmpeg per member', () => {
    const pids = server.egress.snapshots.pids;
    return pids.length === members ? pids : undefined;
  });
  const t0 = performance.now();
  const info = await call(server, 'POST', `/api/rooms/${room}/egress`, { type: 'hls' });
  const first = await firstSegmentAfter(server, room, t0, () => server.egress.pidOf(info.id));
  const pid = await until('the compositor pid', () => server.egress.pidOf(info.id));
  console.log(
    `  ${members} member(s): first segment ${fmt(first.ms)} ms after the POST ` +
      `(compositor ffmpeg seen at ${first.spawnsMs.map(fmt).join(', ')} ms); ` +
      `measuring CPU for ${WINDOW_MS / 1000} s after ${WARMUP_MS / 1000} s…`,
  );
  await sleep(WARMUP_MS);
  const [compositorCpu = Number.NaN, ...snapshotCpu] = await cpuPercent(
    [pid, ...snapshotPids],
    WINDOW_MS,
  );
  if (server.egress.pidOf(info.id) !== pid) throw new Error('the compositor restarted meanwhile');
  await call(server, 'DELETE', `/api/rooms/${room}/egress/${info.id}`);
  await until('the compositor ended', () => (cpuSeconds(pid) === undefined ? true : undefined));
  return {
    members,
    firstSegmentMs: first.ms,
    spawnsMs: first.spawnsMs,
    compositorCpu,
    snapshotCpu,
  };
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'livestage-bench-egress-'));
  const publishers: TestPublisher[] = [];
  let server: TestServer | undefined;
  const results: Figures[] = [];
  try {
    server = await startTestServer({
      HLS_DIR: path.join(dataDir, 'hls'),
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      SNAPSHOT_DIR: path.join(dataDir, 'snapshots'),
      SNAPSHOT_INTERVAL_MS: String(SNAPSHOT_INTERVAL_MS),
    });
    const { egress } = server.config;
    console.log(
      `egress bench: publishers ffmpeg testsrc VP8 ${VIDEO.width}x${VIDEO.height}@${VIDEO.fps} ` +
        `${VIDEO.videoKbps} kbit/s${VIDEO.audio ? ' + Opus' : ''}; composite 1280x720 H.264 ${egress.videoBitrate / 1000} ` +
        `kbit/s, HLS ${egress.hlsSegmentSeconds} s segments; snapshots every ` +
        `${egress.snapshotIntervalMs} ms; ${os.cpus().length} cores`,
    );
    // A fresh room (and egress) for each stage size; the previous room's publishers leave first.
    for (const members of [1, 2]) {
      const room = `bench-egress-${members}`;
      const common = { url: server.url, room, ...VIDEO };
      for (const publisher of publishers.splice(0)) await publisher.close();
      await until('no ffmpeg left', () => (server?.egress.pids.length === 0 ? true : undefined));
      for (let i = 0; i < members; i += 1) {
        const role = i === 0 ? 'host' : 'guest';
        publishers.push(
          await publishTestMedia({ ...common, identity: `bench-${role}-${i}`, role }),
        );
      }
      results.push(await measure(server, room, members));
    }
  } catch (error) {
    console.error(`egress bench failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    for (const publisher of publishers) await publisher.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }

  console.log('');
  console.log(`CPU in % of one core over ${WINDOW_MS / 1000} s (utime + stime)`);
  printTable([
    [
      'stage members',
      'POST → first segment (ms)',
      'compositor ffmpeg',
      'snapshot ffmpeg per track',
    ],
    ...results.map((r) => [
      String(r.members),
      fmt(r.firstSegmentMs),
      `${fmt(r.compositorCpu)} %`,
      r.snapshotCpu.map((cpu) => `${fmt(cpu)} %`).join(', '),
    ]),
  ]);
  console.log(`BENCH_EGRESS_JSON ${JSON.stringify({ video: VIDEO, results })}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
