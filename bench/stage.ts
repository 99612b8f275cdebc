// Mic-link benchmark: a host is live, a viewer raises a hand, the host approves, and another
// viewer's page measures the time from approveHand() to the first decoded frame of the guest's
// video. Then the host takes the guest off stage and the cycle repeats. Prints figures only and
// never asserts timing; the exit code is 1 only when a cycle failed.
//
//   node --import tsx bench/stage.ts [--cycles N]      (or BENCH_CYCLES=N; default 20)
//   BENCH_CYCLE_TIMEOUT_MS=20000                        ceiling for one cycle
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { startTestServer } from '../test/helpers/server.js';
import { fmt, printStats, roundStats, stats, withTimeout } from './lib/report.js';

type TestServer = Awaited<ReturnType<typeof startTestServer>>;

const GUEST = 'bench-guest';

/** Epoch milliseconds (sub-ms) from one page; every page of one browser shares the clock. */
interface CycleTiming {
  tApprove: number;
  tApproveAck: number;
  tRoleChanged: number;
  tSubscribed: number;
  tFirstFrame: number;
  width: number;
  height: number;
}

// In-page code is plain JavaScript text: tsx's transform would otherwise inject helpers (such
// as __name) that do not exist inside the page.
const PAGE_HELPERS = `
  window.__now = () => performance.timeOrigin + performance.now();
  window.__connect = async (room, role, identity) => {
    const query = 'room=' + encodeURIComponent(room) + '&role=' + role + '&identity=' + identity;
    const response = await fetch('/api/dev/token?' + query);
    const body = await response.json();
    if (!response.ok) throw new Error('token: ' + JSON.stringify(body));
    window.__room = await window.Livestage.LiveRoom.connect(location.origin, body.token);
    return window.__room.localParticipant.identity;
  };
  window.__waitFor = (emitter, event, test) => new Promise((resolve) => {
    const listener = (...args) => {
      if (!test(...args)) return;
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  });
`;

const HOST_GO_LIVE = `async ({ room }) => {
  await window.__connect(room, 'host', 'bench-host');
  await window.__room.publishCamera({ resolution: '720p' });
  await window.__room.publishMicrophone();
}`;

const GUEST_RAISE_HAND = `async () => {
  const room = window.__room;
  window.__roleChanged = window.__waitFor(room, 'roleChanged', (role) => role === 'guest')
    .then(() => window.__now());
  await room.raiseHand('bench');
}`;

const HOST_APPROVE = `async ({ guest }) => {
  const room = window.__room;
  if (!room.handQueue.some((hand) => hand.identity === guest)) {
    await window.__waitFor(room, 'handRaised', (hand) => hand.identity === guest);
  }
  const tApprove = window.__now();
  await room.approveHand(guest, { sources: ['microphone', 'camera'] });
  return { tApprove, tApproveAck: window.__now() };
}`;

/** Armed before the approval, so that nothing the observer receives is missed. */
const OBSERVER_ARM = `({ guest }) => {
  const room = window.__room;
  window.__firstFrame = window.__waitFor(room, 'trackSubscribed',
    (track) => track.kind === 'video' && track.participantIdentity === guest,
  ).then(([track]) => new Promise((resolve) => {
    const tSubscribed = window.__now();
    const video = document.createElement('video');
    video.muted = true;
    video.style.cssText = 'width: 640px; height: 360px; display: block';
    video.requestVideoFrameCallback((_now, metadata) => resolve({
      tSubscribed,
      tFirstFrame: window.__now(),
      width: metadata.width,
      height: metadata.height,
    }));
    document.body.replaceChildren(video);
    track.attach(video);
  }));
  window.__trackGone = window.__waitFor(room, 'trackUnsubscribed',
    (track) => track.kind === 'video' && track.participantIdentity === guest);
}`;

const HOST_REMOVE = `async ({ guest }) => { await window.__room.removeFromStage(guest); }`;
const GUEST_BACK_IN_AUDIENCE = `async () => {
  if (window.__room.role !== 'audience') {
    await window.__waitFor(window.__room, 'roleChanged', (role) => role === 'audience');
  }
}`;

function options(): { cycles: number; timeoutMs: number } {
  const { values } = parseArgs({ options: { cycles: { type: 'string' } }, strict: true });
  const cycles = Number(values.cycles ?? process.env.BENCH_CYCLES ?? 20);
  const timeoutMs = Number(process.env.BENCH_CYCLE_TIMEOUT_MS ?? 20_000);
  if (!Number.isInteger(cycles) || cycles < 1) throw new Error('--cycles must be an integer ≥ 1');
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new Error('BENCH_CYCLE_TIMEOUT_MS must be a positive number');
  }
  return { cycles, timeoutMs };
}

async function openPage(browser: Browser, server: TestServer): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`  page error: ${error.message}`));
  await page.goto(`${server.url}/index.html`);
  await page.addScriptTag({ url: '/sdk/livestage.js' });
  await page.evaluate(PAGE_HELPERS);
  return page;
}

const call = <T>(page: Page, fn: string, arg: unknown = {}): Promise<T> =>
  page.evaluate<T>(`(${fn})(${JSON.stringify(arg)})`);

async function cycle(host: Page, guest: Page, observer: Page): Promise<CycleTiming> {
  await call(observer, OBSERVER_ARM, { guest: GUEST });
  await call(guest, GUEST_RAISE_HAND);
  const approved = await call<{ tApprove: number; tApproveAck: number }>(host, HOST_APPROVE, {
    guest: GUEST,
  });
  const frame =
    await observer.evaluate<Omit<CycleTiming, 'tApprove' | 'tApproveAck'>>('window.__firstFrame');
  const tRoleChanged = await guest.evaluate<number>('window.__roleChanged');
  await call(host, HOST_REMOVE, { guest: GUEST });
  await Promise.all([observer.evaluate('window.__trackGone'), call(guest, GUEST_BACK_IN_AUDIENCE)]);
  return { ...approved, ...frame, tRoleChanged };
}

async function main(): Promise<number> {
  const { cycles, timeoutMs } = options();
  const roomName = `bench-stage-${Date.now().toString(36)}`;
  const timings: CycleTiming[] = [];
  const failures: string[] = [];
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startTestServer();
    browser = await launchChromium();
    console.log(
      `stage bench: ${cycles} cycle(s), room ${roomName}, chromium ${browser.version()}, ` +
        `server ${server.url}`,
    );
    const [host, guest, observer] = [
      await openPage(browser, server),
      await openPage(browser, server),
      await openPage(browser, server),
    ];
    await call(host, HOST_GO_LIVE, { room: roomName });
    await call(
      guest,
      `() => window.__connect(${JSON.stringify(roomName)}, 'audience', '${GUEST}')`,
    );
    await call(
      observer,
      `() => window.__connect(${JSON.stringify(roomName)}, 'audience', 'bench-observer')`,
    );
    console.log('host is live, guest and observer are watching; cycling…');
    for (let index = 1; index <= cycles; index += 1) {
      try {
        const t = await withTimeout(cycle(host, guest, observer), timeoutMs, `cycle ${index}`);
        timings.push(t);
        console.log(
          `  cycle ${String(index).padStart(3)}: approve → guest on stage ` +
            `${fmt(t.tRoleChanged - t.tApprove)} ms, → first frame at a viewer ` +
            `${fmt(t.tFirstFrame - t.tApprove)} ms (${t.width}x${t.height})`,
        );
      } catch (error) {
        const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
        failures.push(`cycle ${index}: ${message}`);
        console.log(`  cycle ${String(index).padStart(3)}: FAILED: ${message}`);
        break; // the pages are in an unknown state; later cycles would measure nothing useful
      }
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
  }

  const metrics = {
    approveToAck: stats(timings.map((t) => t.tApproveAck - t.tApprove)),
    approveToGuestOnStage: stats(timings.map((t) => t.tRoleChanged - t.tApprove)),
    approveToVideoSubscribed: stats(timings.map((t) => t.tSubscribed - t.tApprove)),
    approveToFirstFrame: stats(timings.map((t) => t.tFirstFrame - t.tApprove)),
  };
  console.log('');
  console.log(`stage bench results: ${timings.length}/${cycles} cycles ok (ms, nearest rank)`);
  printStats([
    ['approveHand → ack at the host', metrics.approveToAck],
    ['approveHand → roleChanged at the guest', metrics.approveToGuestOnStage],
    ['approveHand → guest video subscribed at a viewer', metrics.approveToVideoSubscribed],
    ['approveHand → first decoded guest frame at a viewer', metrics.approveToFirstFrame],
  ]);
  for (const failure of failures) console.log(failure);
  const json = {
    cycles,
    ok: timings.length,
    metricsMs: Object.fromEntries(
      Object.entries(metrics).map(([name, s]) => [name, roundStats(s)]),
    ),
  };
  console.log(`BENCH_STAGE_JSON ${JSON.stringify(json)}`);
  return timings.length === cycles ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
