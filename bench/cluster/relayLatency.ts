// Added latency of a relay hop. (a) connect → first audio and video packet for a viewer on the
// publisher's node, on another node whose relay must be set up first (cold: nobody there
// watches), and on another node whose relay runs already (warm). (b) the hop's one-way extra
// latency: one viewer on each node, packets of the same stream paired by RTP timestamp (a simple
// consumer and a pipe keep it), arrival at B minus arrival at A.
import type { TestNode } from '../../test/helpers/cluster.js';
import { fmt, printTable, stats, type Stats } from '../lib/report.js';
import { MEDIA_TIMEOUT_MS, log, roomsOn, sleep, until, type BenchContext } from './context.js';
import type { ProbeViewer, RtpArrival } from './probeViewer.js';

interface JoinTiming {
  joinMs: number;
  firstAudioMs: number;
  firstVideoMs: number;
}

export interface HopDelay {
  kind: 'audio' | 'video';
  /** Timestamps seen by each viewer in the window, and those both saw. */
  seenA: number;
  seenB: number;
  paired: number;
  /** arrival(B) − arrival(A), ms. */
  delay: Stats;
}

export interface LatencyResult {
  joins: { path: string; timings: JoinTiming[] }[];
  hop: HopDelay[];
}

/**
 * One viewer joins `node`, waits for video, and leaves. It starts at a random point of the
 * publisher's keyframe interval: joins in a row would otherwise each start at the same distance
 * after the keyframe that ended the previous one, and all wait about as long for the next.
 */
async function timedJoin(ctx: BenchContext, node: TestNode): Promise<JoinTiming> {
  await sleep(Math.random() * ctx.settings.video.keyframeSeconds * 1000);
  const viewer = ctx.viewer(node);
  try {
    await viewer.start();
    await viewer.videoSince(0, MEDIA_TIMEOUT_MS);
    await until(
      () => viewer.firstAudioAt !== undefined,
      MEDIA_TIMEOUT_MS,
      () => 'no audio',
    );
    const from = viewer.connectStartedAt;
    return {
      joinMs: viewer.joinedAt! - from,
      firstAudioMs: viewer.firstAudioAt! - from,
      firstVideoMs: viewer.firstVideoAt! - from,
    };
  } finally {
    await viewer.stop();
  }
}

/** Until the node has closed the room (its last viewer left): its next viewer needs a new relay. */
async function roomGone(node: TestNode): Promise<void> {
  await until(
    async () => (await roomsOn(node)) === 0,
    10_000,
    () => `node ${node.name} still holds the room 10 s after its last viewer left`,
  );
}

/** First arrival of each RTP timestamp of one kind. */
function firstByTimestamp(viewer: ProbeViewer, kind: 'audio' | 'video'): Map<number, number> {
  const arrivals = new Map<number, number>();
  viewer.on('rtp', (arrival: RtpArrival) => {
    if (arrival.kind === kind && !arrivals.has(arrival.timestamp)) {
      arrivals.set(arrival.timestamp, arrival.at);
    }
  });
  return arrivals;
}

function pair(kind: 'audio' | 'video', a: Map<number, number>, b: Map<number, number>): HopDelay {
  const delays: number[] = [];
  for (const [timestamp, atB] of b) {
    const atA = a.get(timestamp);
    if (atA !== undefined) delays.push(atB - atA);
  }
  return { kind, seenA: a.size, seenB: b.size, paired: delays.length, delay: stats(delays) };
}

export async function measureRelayLatency(
  ctx: BenchContext,
  origin: TestNode,
  edge: TestNode,
): Promise<LatencyResult> {
  const local: JoinTiming[] = [];
  const cold: JoinTiming[] = [];
  const warm: JoinTiming[] = [];
  log(`latency: ${ctx.settings.joins} joins each on ${origin.name} and ${edge.name} (cold)`);
  for (let i = 0; i < ctx.settings.joins; i++) {
    local.push(await timedJoin(ctx, origin));
    await roomGone(edge);
    cold.push(await timedJoin(ctx, edge));
    await sleep(200);
  }

  const atOrigin = ctx.viewer(origin);
  const atEdge = ctx.viewer(edge);
  try {
    for (const viewer of [atOrigin, atEdge]) {
      await viewer.start();
      await viewer.videoSince(0, MEDIA_TIMEOUT_MS);
    }
    log(`latency: ${ctx.settings.joins} joins on ${edge.name} while its relay runs (warm)`);
    for (let i = 0; i < ctx.settings.joins; i++) {
      warm.push(await timedJoin(ctx, edge));
      await sleep(200);
    }
    log(
      `latency: pairing packets at ${origin.name} and ${edge.name} for ${ctx.settings.latencySeconds} s`,
    );
    const audioA = firstByTimestamp(atOrigin, 'audio');
    const audioB = firstByTimestamp(atEdge, 'audio');
    const videoA = firstByTimestamp(atOrigin, 'video');
    const videoB = firstByTimestamp(atEdge, 'video');
    await sleep(ctx.settings.latencySeconds * 1000);
    atOrigin.removeAllListeners('rtp');
    atEdge.removeAllListeners('rtp');
    return {
      joins: [
        { path: `viewer on ${origin.name} (publisher's node)`, timings: local },
        { path: `viewer on ${edge.name}, relay set up (cold)`, timings: cold },
        { path: `viewer on ${edge.name}, relay running (warm)`, timings: warm },
      ],
      hop: [pair('audio', audioA, audioB), pair('video', videoA, videoB)],
    };
  } finally {
    await atOrigin.stop();
    await atEdge.stop();
  }
}

const ms2 = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '—');

export function printLatency(result: LatencyResult, keyframeSeconds: number): void {
  console.log('\n1. Added latency of a relay hop');
  console.log('(a) socket connect → join ack / first audio / first video packet, ms (median, max)');
  printTable([
    ['path', 'joins', 'join', 'audio', 'video', 'video max'],
    ...result.joins.map(({ path, timings }) => {
      const join = stats(timings.map((t) => t.joinMs));
      const audio = stats(timings.map((t) => t.firstAudioMs));
      const video = stats(timings.map((t) => t.firstVideoMs));
      return [path, String(join.n), fmt(join.p50), fmt(audio.p50), fmt(video.p50), fmt(video.max)];
    }),
  ]);
  console.log(
    `    (video waits for a keyframe: the publisher's ffmpeg makes one every ${keyframeSeconds} s ` +
      'and ignores keyframe requests, so first video adds a wait of 0 to that much; each join ' +
      'starts at a random point of that interval)',
  );
  console.log(
    '(b) one-way extra latency of the hop: arrival at B − arrival at A, same RTP timestamp',
  );
  printTable([
    ['stream', 'seen A', 'seen B', 'paired', 'p50 ms', 'p95 ms', 'min', 'max'],
    ...result.hop.map((h) => [
      h.kind === 'audio' ? 'audio (each packet)' : 'video (first packet of each frame)',
      String(h.seenA),
      String(h.seenB),
      String(h.paired),
      ms2(h.delay.p50),
      ms2(h.delay.p95),
      ms2(h.delay.min),
      ms2(h.delay.max),
    ]),
  ]);
  for (const h of result.hop) {
    if (h.seenB > 0 && h.paired < 0.9 * Math.min(h.seenA, h.seenB)) {
      console.log(
        `    WARNING ${h.kind}: only ${h.paired} of ${Math.min(h.seenA, h.seenB)} timestamps ` +
          'pair up: the relay does not keep RTP timestamps, and these delays mean little',
      );
    }
  }
}
