// Recovery benchmark, in real Chromium against a real server:
//   (1) a viewer's network is cut (media black-holed with iptables, page offline, signaling
//       dropped) for --cut-ms, then restored: time from restore to the next decoded frame;
//   (2) the mediasoup worker is SIGKILLed during a live room: time until every viewer decodes the
//       host's video again;
//   (3) one socket fires a burst of requests: how many are served before RATE_LIMITED.
// Prints figures only; the exit code is 1 only when a run failed. Needs root for iptables.
//
//   node --import tsx bench/recovery.ts [--cuts 10] [--cut-ms 5000] [--kills 3] [--viewers 2]
import { parseArgs } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../test/helpers/browser.js';
import { connectRaw, errorCode, request, tokenFor } from '../test/helpers/client.js';
import { startTestServer, type TestServer } from '../test/helpers/server.js';
import { cutNetwork, killWorkerAndWait, viewerIdentity, watchVideo } from '../test/e2e/faults.js';
import { goLive } from '../test/e2e/pages.js';
import { fmt, printStats, roundStats, stats } from './lib/report.js';

const ROOM = 'bench-recovery';

function options() {
  const { values } = parseArgs({
    options: {
      cuts: { type: 'string', default: '10' },
      'cut-ms': { type: 'string', default: '5000' },
      kills: { type: 'string', default: '3' },
      viewers: { type: 'string', default: '2' },
    },
    strict: true,
  });
  const parsed = {
    cuts: Number(values.cuts),
    cutMs: Number(values['cut-ms']),
    kills: Number(values.kills),
    viewers: Number(values.viewers),
  };
  for (const [name, value] of Object.entries(parsed)) {
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be an integer ≥ 0`);
  }
  return parsed;
}

/** Fires a burst at one socket; returns how many were served before the first RATE_LIMITED. */
async function requestBurst(server: TestServer): Promise<{ served: number; limited: number }> {
  const { socket, welcome } = await connectRaw(server.url, tokenFor(ROOM, 'flood', 'audience'));
  try {
    await request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
    await new Promise((resolve) => setTimeout(resolve, 1100)); // start on a fresh window
    const acks = await Promise.all(
      Array.from({ length: 1000 }, () => request(socket, 'pauseConsumer', { consumerId: 'x' })),
    );
    const codes = acks.map(errorCode);
    const firstLimited = codes.indexOf('RATE_LIMITED');
    return {
      served: firstLimited === -1 ? codes.length : firstLimited,
      limited: codes.filter((c) => c === 'RATE_LIMITED').length,
    };
  } finally {
    socket.disconnect();
  }
}

async function main(): Promise<number> {
  const { cuts, cutMs, kills, viewers: viewerCount } = options();
  const cutTimes: number[] = [];
  const killTimes: number[] = [];
  const failures: string[] = [];
  let burst: { served: number; limited: number } | undefined;
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  try {
    server = await startTestServer({
      MEDIA_WORKERS: '1',
      RECONNECT_GRACE_MS: '20000',
      RATE_LIMIT_REQUESTS_PER_SECOND: process.env.RATE_LIMIT_REQUESTS_PER_SECOND ?? '50',
    });
    browser = await launchChromium();
    console.log(`recovery bench: chromium ${browser.version()}, server ${server.url}`);
    const host = await browser.newPage();
    await goLive(host, server.url, ROOM);
    const contexts = await Promise.all(
      Array.from({ length: Math.max(1, viewerCount) }, () => browser!.newContext()),
    );
    const viewers: Page[] = [];
    for (const context of contexts) viewers.push(await watchVideo(context, server.url, ROOM));

    for (let i = 1; i <= cuts; i += 1) {
      try {
        const cut = await cutNetwork(server, ROOM, contexts[0]!, viewers[0]!, cutMs);
        const identity = await viewerIdentity(viewers[0]!);
        if (server.rooms.rooms.get(ROOM)?.participants.get(identity) !== cut.participant) {
          throw new Error('the viewer came back as a new participant');
        }
        const ms = cut.framesAfterMs;
        cutTimes.push(ms);
        console.log(`  cut ${i}: ${cutMs} ms offline → frames again ${fmt(ms)} ms after restore`);
      } catch (error) {
        failures.push(`cut ${i}: ${String(error).split('\n')[0]}`);
        console.log(`  cut ${i}: FAILED ${failures.at(-1)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    for (let i = 1; i <= kills; i += 1) {
      try {
        const ms = await killWorkerAndWait(server, viewers);
        killTimes.push(ms);
        console.log(
          `  kill ${i}: worker SIGKILL → media back on ${viewers.length} viewers ${ms} ms`,
        );
      } catch (error) {
        failures.push(`kill ${i}: ${String(error).split('\n')[0]}`);
        console.log(`  kill ${i}: FAILED ${failures.at(-1)}`);
      }
    }
    burst = await requestBurst(server);
  } finally {
    await browser?.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
  }

  const metrics = { restoreToFrames: stats(cutTimes), killToMediaBack: stats(killTimes) };
  console.log('');
  console.log('recovery bench results (ms, nearest rank)');
  printStats([
    [`network restored → frames flowing (${cutMs} ms cut)`, metrics.restoreToFrames],
    ['worker SIGKILL → media back on every viewer', metrics.killToMediaBack],
  ]);
  if (burst) {
    console.log(
      `  one socket, burst of 1000 requests: ${burst.served} served before the first ` +
        `RATE_LIMITED, ${burst.limited} refused`,
    );
  }
  for (const failure of failures) console.log(failure);
  console.log(
    `BENCH_RECOVERY_JSON ${JSON.stringify({
      cuts: { runs: cuts, ok: cutTimes.length, cutMs, ms: roundStats(metrics.restoreToFrames) },
      kills: { runs: kills, ok: killTimes.length, ms: roundStats(metrics.killToMediaBack) },
      burst,
    })}`,
  );
  return failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
