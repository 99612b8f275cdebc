// Fan-out benchmark: a Chromium host goes live (simulcast 720p), then the load tester's headless
// viewers join (all at once or at a rate) and stay; prints how they spread over the workers, each
// worker's CPU (by process), the storm figures, and what the storm cost the host: keyframes its
// browser encoded and the keyframe requests it received, whether it kept its top layer, and why
// its encoder limited itself. Figures only; the exit code is 1 only when a viewer got no video.
//
//   node --import tsx bench/fanout.ts [--viewers 100] [--rate 0] [--duration 20]
//        [--workers 2] [--budget 1000] [--keyframe-delay 500] [--dynacast true|false]
//        [--warmup 5] (seconds the host is live alone first) [--json]
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { runLoadTest } from '../loadtest/loadTest.js';
import type { Summary } from '../loadtest/report.js';
import { launchChromium } from '../test/helpers/browser.js';
import { goLive, inPage } from '../test/e2e/pages.js';
import { printTable } from './lib/report.js';
import { startServerProcess } from './lib/serverProcess.js';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '100' },
    rate: { type: 'string', default: '0' },
    duration: { type: 'string', default: '20' },
    workers: { type: 'string', default: '2' },
    budget: { type: 'string', default: '' },
    'keyframe-delay': { type: 'string', default: '' },
    dynacast: { type: 'string', default: '' },
    warmup: { type: 'string', default: '5' },
    json: { type: 'boolean', default: false },
  },
});
const viewers = Number(values.viewers);
const rate = Number(values.rate);
const durationSeconds = Number(values.duration);
const credentials = { apiKey: 'bench-key', apiSecret: 'bench-secret-0123456789abcdef0123456789' };

/** The host camera's outbound streams as its browser reports them, by rid. */
interface OutboundLayer {
  rid: string;
  bytesSent: number;
  keyFramesEncoded: number;
  pliCount: number;
  firCount: number;
  frameHeight: number | null;
  qualityLimitationReason: string;
  active: boolean | null;
}

const HOST_OUTBOUND = `async () => {
  const producer = window.livestageHost.camera.producer;
  const layers = [];
  (await producer.getStats()).forEach((s) => {
    if (s.type !== 'outbound-rtp' || s.kind !== 'video') return;
    layers.push({
      rid: s.rid || '',
      bytesSent: s.bytesSent || 0,
      keyFramesEncoded: s.keyFramesEncoded || 0,
      pliCount: s.pliCount || 0,
      firCount: s.firCount || 0,
      frameHeight: s.frameHeight ?? null,
      qualityLimitationReason: s.qualityLimitationReason || 'none',
      active: s.active ?? null,
    });
  });
  return layers.sort((a, b) => a.rid.localeCompare(b.rid));
}`;

const hostOutbound = (page: Page) => inPage<OutboundLayer[]>(page, HOST_OUTBOUND);

interface WorkerHealth {
  index: number;
  pid: number;
  consumers: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}

async function workerHealth(url: string): Promise<WorkerHealth[]> {
  const response = await fetch(`${url}/healthz`);
  return ((await response.json()) as { workers: WorkerHealth[] }).workers;
}

async function main(): Promise<void> {
  const env: Record<string, string> = {
    MEDIA_WORKERS: values.workers,
    MEDIA_PORT_BASE: '0',
    LIVESTAGE_API_KEY: credentials.apiKey,
    LIVESTAGE_API_SECRET: credentials.apiSecret,
    DEV_ENDPOINTS: 'true',
  };
  if (values.budget) env.MEDIA_WORKER_MAX_CONSUMERS = values.budget;
  if (values['keyframe-delay']) env.MEDIA_KEYFRAME_REQUEST_DELAY_MS = values['keyframe-delay'];
  if (values.dynacast) env.MEDIA_DYNACAST = values.dynacast;
  const server = await startServerProcess(env);
  const browser = await launchChromium();
  const room = `fanout-${Date.now()}`;
  try {
    const page = await (await browser.newContext()).newPage();
    await goLive(page, server.url, room);
    // Let the encoder ramp up to its top layer before anyone watches.
    await new Promise((resolve) => setTimeout(resolve, Number(values.warmup) * 1000));
    const before = await hostOutbound(page);
    const peakConsumers = new Map<number, number>();
    const poll = setInterval(() => {
      workerHealth(server.url).then(
        (workers) => {
          for (const w of workers) {
            peakConsumers.set(w.index, Math.max(peakConsumers.get(w.index) ?? 0, w.consumers));
          }
        },
        () => undefined,
      );
    }, 500);
    let summary: Summary;
    try {
      summary = await runLoadTest({
        url: server.url,
        room,
        count: viewers,
        rate,
        durationSeconds,
        credentials,
        log: (line) => process.stderr.write(`[fanout] ${line}\n`),
      });
    } finally {
      clearInterval(poll);
    }
    const after = await hostOutbound(page);
    report(summary, before, after, peakConsumers);
    if (summary.viewersWithVideo < viewers) process.exitCode = 1;
  } finally {
    await browser.close();
    await server.stop();
  }
}

function report(
  summary: Summary,
  before: OutboundLayer[],
  after: OutboundLayer[],
  peakConsumers: Map<number, number>,
): void {
  const seconds = summary.cpu.steady.to - summary.cpu.steady.from;
  const byRid = new Map(before.map((layer) => [layer.rid, layer]));
  const rows = after.map((layer) => {
    const start = byRid.get(layer.rid);
    const delta = (pick: (l: OutboundLayer) => number) => pick(layer) - (start ? pick(start) : 0);
    return [
      layer.rid,
      String(layer.frameHeight ?? '—'),
      String(delta((l) => l.keyFramesEncoded)),
      String(delta((l) => l.pliCount) + delta((l) => l.firCount)),
      layer.qualityLimitationReason,
    ];
  });
  if (values.json) {
    console.log(JSON.stringify({ summary: { ...summary, perViewer: undefined }, before, after }));
    return;
  }
  console.log(
    `\n${summary.viewers} viewers ${rate > 0 ? `at ${rate}/s` : 'at once'}, ${values.workers} workers`,
  );
  console.log(
    `video: ${summary.viewersWithVideo}/${summary.viewers} (${summary.shareWithVideoPercent} %)`,
  );
  printTable(
    [
      ['ms', 'p50', 'p95', 'max'],
      ...(['joinMs', 'iceMs', 'dtlsMs', 'firstVideoMs'] as const).map((key) => [
        key,
        String(summary[key].p50),
        String(summary[key].p95),
        String(summary[key].max),
      ]),
    ],
    true,
  );
  console.log('\nhost camera during the run (Chromium outbound-rtp):');
  printTable([['rid', 'height', 'keyframes', 'PLI+FIR', 'limited by'], ...rows], false);
  console.log('\nworkers (steady state):');
  const steady = summary.cpu.steady.processes;
  const workerIndexOf = (key: string) => /^worker (\d+)/.exec(key)?.[1];
  printTable(
    [
      ['process', 'cpu %', 'peak consumers'],
      ...steady.map((p) => {
        const index = workerIndexOf(p.key);
        return [
          p.label,
          p.percent.toFixed(1),
          index === undefined ? '—' : String(peakConsumers.get(Number(index)) ?? 0),
        ];
      }),
    ],
    false,
  );
  const workerCores = steady
    .filter((p) => workerIndexOf(p.key) !== undefined)
    .reduce((sum, p) => sum + p.percent / 100, 0);
  if (seconds > 0 && summary.viewersWithVideo > 0) {
    const perViewer = workerCores / summary.viewersWithVideo;
    console.log(
      `\nworker CPU-seconds per viewer-second: ${perViewer.toFixed(5)} ` +
        `(≈ ${Math.round(1 / perViewer)} viewers per core at 100 %); tester ` +
        `${summary.cpu.testerPercentPerViewer ?? '—'} % of a core per viewer`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
