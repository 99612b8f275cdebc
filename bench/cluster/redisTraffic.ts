// Redis traffic: the counters of INFO stats and commandstats, read over one connection of our own
// (its own INFO calls taken out), over windows: the nodes idle (heartbeats only), viewers
// joining, viewers staying, viewers leaving.
import { Redis } from 'ioredis';
import type { TestNode } from '../../test/helpers/cluster.js';
import { fmt, printTable } from '../lib/report.js';
import { MEDIA_TIMEOUT_MS, log, roomsOn, sleep, until, type BenchContext } from './context.js';
import type { ProbeViewer } from './probeViewer.js';

const INFO_ARGS = ['stats', 'commandstats'] as const;
/** Our INFO request as it reaches Redis (RESP), counted in total_net_input_bytes. */
const INFO_REQUEST_BYTES = Buffer.byteLength(
  `*${INFO_ARGS.length + 1}\r\n$4\r\nINFO\r\n${INFO_ARGS.map((a) => `$${a.length}\r\n${a}\r\n`).join('')}`,
);
const JOIN_RATE_PER_SECOND = 5;

interface Counters {
  at: number;
  commands: number;
  inputBytes: number;
  outputBytes: number;
  byCommand: Map<string, number>;
  /** Bytes of the reply that carried these counters (counted in the next snapshot's output). */
  replyBytes: number;
}

export interface TrafficWindow {
  label: string;
  seconds: number;
  commands: number;
  inputBytes: number;
  outputBytes: number;
  byCommand: Map<string, number>;
}

export interface RedisResult {
  nodes: number;
  heartbeatMs: number;
  viewers: number;
  /** The publisher counts as a participant in the stay window. */
  participants: number;
  idle: TrafficWindow;
  joins: TrafficWindow;
  stay: TrafficWindow;
  leaves: TrafficWindow;
}

async function snapshot(redis: Redis): Promise<Counters> {
  const text = (await redis.call('INFO', ...INFO_ARGS)) as string;
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  const byCommand = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    byCommand.set(match[1]!, Number(match[2]));
  }
  const length = Buffer.byteLength(text);
  return {
    at: performance.now(),
    commands: field('total_commands_processed'),
    inputBytes: field('total_net_input_bytes'),
    outputBytes: field('total_net_output_bytes'),
    byCommand,
    replyBytes: length + `$${length}\r\n\r\n`.length,
  };
}

/** What the nodes did between two snapshots: our own INFO calls taken out. */
function between(label: string, from: Counters, to: Counters): TrafficWindow {
  const byCommand = new Map<string, number>();
  for (const [name, calls] of to.byCommand) {
    const delta = calls - (from.byCommand.get(name) ?? 0) - (name === 'info' ? 1 : 0);
    if (delta > 0) byCommand.set(name, delta);
  }
  return {
    label,
    seconds: (to.at - from.at) / 1000,
    commands: to.commands - from.commands - 1,
    inputBytes: to.inputBytes - from.inputBytes - INFO_REQUEST_BYTES,
    outputBytes: to.outputBytes - from.outputBytes - from.replyBytes,
    byCommand,
  };
}

export async function measureRedisTraffic(
  ctx: BenchContext,
  startPublisher: () => Promise<unknown>,
  origin: TestNode,
  edge: TestNode,
): Promise<RedisResult> {
  const redis = new Redis(ctx.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  await redis.connect();
  const viewers: ProbeViewer[] = [];
  try {
    const { redisBaselineSeconds, redisStaySeconds, redisViewers } = ctx.settings;
    log(`redis: ${ctx.nodes.length} idle nodes for ${redisBaselineSeconds} s`);
    const idleFrom = await snapshot(redis);
    await sleep(redisBaselineSeconds * 1000);
    const idleTo = await snapshot(redis);
    await startPublisher();
    await sleep(2000);
    log(
      `redis: ${redisViewers} viewers join (${origin.name} and ${edge.name}, ${JOIN_RATE_PER_SECOND}/s)`,
    );
    const joinFrom = await snapshot(redis);
    const started: Promise<void>[] = [];
    for (let i = 0; i < redisViewers; i++) {
      const viewer = ctx.viewer(i % 2 === 0 ? origin : edge, `redis-viewer-${i}`);
      viewers.push(viewer);
      started.push(
        viewer.start().then(() => viewer.videoSince(0, MEDIA_TIMEOUT_MS).then(() => undefined)),
      );
      await sleep(1000 / JOIN_RATE_PER_SECOND);
    }
    await Promise.all(started);
    const joinTo = await snapshot(redis);
    log(`redis: they stay ${redisStaySeconds} s`);
    await sleep(redisStaySeconds * 1000);
    const stayTo = await snapshot(redis);
    await Promise.all(viewers.map((v) => v.stop()));
    await until(
      async () => (await roomsOn(edge)) === 0,
      10_000,
      () => `node ${edge.name} still holds the room after its viewers left`,
    );
    await sleep(1000);
    const leaveTo = await snapshot(redis);
    return {
      nodes: ctx.nodes.length,
      heartbeatMs: ctx.settings.heartbeatMs,
      viewers: redisViewers,
      participants: redisViewers + 1,
      idle: between('idle nodes', idleFrom, idleTo),
      joins: between('joins', joinFrom, joinTo),
      stay: between('stay', joinTo, stayTo),
      leaves: between('leaves', stayTo, leaveTo),
    };
  } finally {
    await Promise.all(viewers.map((v) => v.stop()));
    redis.disconnect();
  }
}

const kb = (bytes: number) => fmt(bytes / 1000);

function topCommands(window: TrafficWindow, count = 14): string {
  return [...window.byCommand]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, calls]) => `${name} ${calls}`)
    .join(', ');
}

type Counter = 'commands' | 'inputBytes' | 'outputBytes';

/** Each heartbeat sends exactly one SADD (NodeRegistry); nothing else does. */
const heartbeats = (w: TrafficWindow) => w.byCommand.get('sadd') ?? 0;

export function printRedis(result: RedisResult): void {
  const { idle, joins, stay, leaves } = result;
  const idleBeats = Math.max(1, heartbeats(idle));
  /** What one heartbeat of one node costs, from the idle window. */
  const perBeat = (key: Counter) => idle[key] / idleBeats;
  /** A window less its heartbeats, each at the idle cost. */
  const aboveIdle = (w: TrafficWindow, key: Counter) => w[key] - perBeat(key) * heartbeats(w);
  console.log(
    `\n4. Redis traffic (${result.nodes} nodes, heartbeat every ${result.heartbeatMs} ms, ` +
      `${result.viewers} viewers on two nodes + 1 publisher)`,
  );
  printTable([
    ['window', 's', 'heartbeats', 'commands', 'in kB', 'out kB', 'commands − heartbeats'],
    ...[idle, joins, stay, leaves].map((w) => [
      w.label,
      fmt(w.seconds),
      String(heartbeats(w)),
      String(w.commands),
      kb(w.inputBytes),
      kb(w.outputBytes),
      fmt(aboveIdle(w, 'commands')),
    ]),
  ]);
  const nodeMinute = (key: Counter) => (idle[key] * 60) / idle.seconds / result.nodes;
  console.log(
    `  idle baseline per node per minute: ${fmt(nodeMinute('commands'))} commands, ` +
      `${kb(nodeMinute('inputBytes'))} kB in, ${kb(nodeMinute('outputBytes'))} kB out; ` +
      `per heartbeat: ${fmt(perBeat('commands'))} commands, ${fmt(perBeat('inputBytes'))} B in, ` +
      `${fmt(perBeat('outputBytes'))} B out (output grows with the number of nodes: MGET of all)`,
  );
  const minutes = stay.seconds / 60;
  const perParticipant = (key: Counter) => aboveIdle(stay, key) / result.participants / minutes;
  console.log(
    `  staying, heartbeats taken out, per participant per minute: ` +
      `${fmt(perParticipant('commands'))} commands, ${kb(perParticipant('inputBytes'))} kB in, ` +
      `${kb(perParticipant('outputBytes'))} kB out`,
  );
  const perViewer = (w: TrafficWindow, key: Counter) => aboveIdle(w, key) / result.viewers;
  for (const w of [joins, leaves]) {
    console.log(
      `  ${w.label === 'joins' ? 'a join' : 'a leave'}, heartbeats taken out, per viewer: ` +
        `${fmt(perViewer(w, 'commands'))} commands, ${kb(perViewer(w, 'inputBytes'))} kB in, ` +
        `${kb(perViewer(w, 'outputBytes'))} kB out`,
    );
  }
  for (const w of [idle, joins, stay, leaves]) console.log(`  ${w.label}: ${topCommands(w)}`);
}
