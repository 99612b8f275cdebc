// Losing a node, two ways, each timed from the SIGKILL:
// - the viewer's node: the viewer (as the SDK would) reconnects to another node as soon as its
//   socket drops and joins again with the same identity; until its first video packet there;
// - the publisher's node: the publisher joins another node with the same identity and publishes
//   again; until a viewer that stayed on its own node gets video from the new relay.
// A fresh node replaces each killed one (outside the timings), so every trial has three nodes.
import { Publisher } from '../../loadtest/publisher.js';
import type { PublisherProcess } from '../../loadtest/publisherProcess.js';
import type { TestNode } from '../../test/helpers/cluster.js';
import { fmt, printTable, stats, withTimeout } from '../lib/report.js';
import { MEDIA_TIMEOUT_MS, log, sleep, type BenchContext } from './context.js';
import type { ProbeViewer } from './probeViewer.js';

interface LivePublisher {
  node: TestNode;
  stop(): Promise<unknown>;
}

export interface ViewerNodeKill {
  /** From the kill: the socket dropped, joined on the next node, video consumer, first video (ms). */
  droppedMs: number;
  joinedMs: number;
  consumerMs: number;
  videoMs: number;
  from: string;
  to: string;
}

export interface PublisherNodeKill {
  /**
   * From the kill: the viewer's new video consumer announced (the relay from the new node is set
   * up), the publisher's first packets out again (ffmpeg started), the viewer's first video (ms).
   */
  consumerMs: number;
  republishedMs: number;
  videoMs: number;
  /**
   * The viewer's consumers of the dead node's tracks: when the server closed them (consumerClosed
   * or trackUnpublished), ms from the kill; undefined when not within OLD_TRACK_WAIT_MS of the
   * viewer's video coming back.
   */
  oldTrackClosedMs: number | undefined;
  from: string;
  to: string;
  viewerOn: string;
}

export interface FailoverResult {
  viewerKills: ViewerNodeKill[];
  publisherKills: PublisherNodeKill[];
  errors: string[];
}

const HOST = 'host';
const OLD_TRACK_WAIT_MS = 3000;
const VIEWER = 'failover-viewer';

function otherThan(ctx: BenchContext, ...busy: TestNode[]): TestNode {
  const node = ctx.nodes.find((n) => !busy.includes(n));
  if (!node) throw new Error('no spare node');
  return node;
}

async function killViewerNode(
  ctx: BenchContext,
  publisher: LivePublisher,
  viewer: ProbeViewer,
  viewerNode: TestNode,
): Promise<{ result: ViewerNodeKill; viewer: ProbeViewer; node: TestNode }> {
  const next = otherThan(ctx, publisher.node, viewerNode);
  log(`failover: kill ${viewerNode.name} (viewer's node); the viewer moves to ${next.name}`);
  const killedAt = performance.now();
  const dropped = withTimeout(viewer.dropped, MEDIA_TIMEOUT_MS, `${VIEWER}'s socket drop`);
  const moved = dropped.then(async (drop) => {
    const again = ctx.viewer(next, VIEWER);
    await again.start();
    const video = await again.videoSince(0, MEDIA_TIMEOUT_MS);
    return { drop, again, video };
  });
  moved.catch(() => undefined); // awaited below, after the kill
  await ctx.kill(viewerNode);
  const { drop, again, video } = await moved;
  void viewer.stop();
  return {
    result: {
      droppedMs: drop.at - killedAt,
      joinedMs: again.joinedAt! - killedAt,
      consumerMs: video.announcedAt - killedAt,
      videoMs: video.at - killedAt,
      from: viewerNode.name,
      to: next.name,
    },
    viewer: again,
    node: next,
  };
}

async function killPublisherNode(
  ctx: BenchContext,
  publisher: LivePublisher,
  viewer: ProbeViewer,
  viewerNode: TestNode,
): Promise<{ result: PublisherNodeKill; publisher: LivePublisher }> {
  const next = otherThan(ctx, publisher.node, viewerNode);
  log(
    `failover: kill ${publisher.node.name} (publisher's node); the publisher moves to ` +
      `${next.name}, the viewer stays on ${viewerNode.name}`,
  );
  const from = publisher.node.name;
  const killedAt = performance.now();
  // The viewer's latest audio and video consumers: those of the tracks published through the
  // node about to die.
  const latest = new Map<string, { consumerId: string; trackId: string }>(); // by kind
  for (const event of viewer.events) {
    if (event.name !== 'newConsumer') continue;
    const consumer = event.payload as { consumerId: string; trackId: string; kind: string };
    latest.set(consumer.kind, consumer);
  }
  const oldConsumers = new Map([...latest.values()].map((c) => [c.consumerId, c.trackId]));
  const video = viewer.videoSince(killedAt, MEDIA_TIMEOUT_MS);
  video.catch(() => undefined); // awaited below, after the republish
  // The publisher's socket drops the moment its node dies (loopback): it moves on at once.
  await ctx.kill(publisher.node);
  void publisher.stop().catch(() => undefined);
  const republished = await Publisher.start({
    ...ctx.publisherOptions(next, HOST),
    certificate: ctx.certificate,
  });
  const republishedAt = performance.now();
  const { at, announcedAt } = await video;
  await sleep(OLD_TRACK_WAIT_MS);
  const oldTracks = new Set(oldConsumers.values());
  const oldTrackClosed = viewer.events.find((event) => {
    if (event.at < killedAt) return false;
    const payload = event.payload as { consumerId?: string; trackId?: string };
    if (event.name === 'consumerClosed') return oldConsumers.has(payload.consumerId ?? '');
    return event.name === 'trackUnpublished' && oldTracks.has(payload.trackId ?? '');
  });
  return {
    result: {
      consumerMs: announcedAt - killedAt,
      republishedMs: republishedAt - killedAt,
      videoMs: at - killedAt,
      oldTrackClosedMs: oldTrackClosed && oldTrackClosed.at - killedAt,
      from,
      to: next.name,
      viewerOn: viewerNode.name,
    },
    publisher: { node: next, stop: () => republished.stop() },
  };
}

/** Takes over `first` (the publisher live on `origin`) and stops whatever publisher is last. */
export async function measureFailover(
  ctx: BenchContext,
  first: PublisherProcess,
  origin: TestNode,
): Promise<FailoverResult> {
  const result: FailoverResult = { viewerKills: [], publisherKills: [], errors: [] };
  let publisher: LivePublisher = { node: origin, stop: () => first.stop() };
  let viewerNode = otherThan(ctx, origin);
  let viewer = ctx.viewer(viewerNode, VIEWER);
  try {
    await viewer.start();
    await viewer.videoSince(0, MEDIA_TIMEOUT_MS);
    for (let trial = 0; trial < ctx.settings.failoverTrials; trial++) {
      const last = trial === ctx.settings.failoverTrials - 1;
      const moved = await killViewerNode(ctx, publisher, viewer, viewerNode);
      result.viewerKills.push(moved.result);
      viewer = moved.viewer;
      viewerNode = moved.node;
      await ctx.addNode();
      const republished = await killPublisherNode(ctx, publisher, viewer, viewerNode);
      result.publisherKills.push(republished.result);
      publisher = republished.publisher;
      if (!last) await ctx.addNode();
    }
  } catch (error) {
    result.errors.push(error instanceof Error ? error.message : String(error));
  } finally {
    await viewer.stop();
    await publisher.stop().catch(() => undefined);
  }
  return result;
}

export function printFailover(result: FailoverResult): void {
  console.log('\n3. Losing a node: ms from the SIGKILL');
  console.log("(a) the viewer's node: the viewer reconnects to another node and joins again");
  printTable([
    ['trial', 'socket dropped', 'joined again', 'video consumer', 'first video'],
    ...result.viewerKills.map((k, i) => [
      `#${i + 1} ${k.from} → ${k.to}`,
      fmt(k.droppedMs),
      fmt(k.joinedMs),
      fmt(k.consumerMs),
      fmt(k.videoMs),
    ]),
  ]);
  const viewerVideo = stats(result.viewerKills.map((k) => k.videoMs));
  console.log(`  first video: median ${fmt(viewerVideo.p50)}, max ${fmt(viewerVideo.max)}`);
  console.log("(b) the publisher's node: the publisher republishes elsewhere; a viewer stays put");
  printTable([
    ['trial', 'viewer on', 'video consumer', 'publisher sends', "viewer's video", 'old closed'],
    ...result.publisherKills.map((k, i) => [
      `#${i + 1} ${k.from} → ${k.to}`,
      k.viewerOn,
      fmt(k.consumerMs),
      fmt(k.republishedMs),
      fmt(k.videoMs),
      k.oldTrackClosedMs === undefined
        ? `no (${OLD_TRACK_WAIT_MS / 1000} s after video)`
        : fmt(k.oldTrackClosedMs),
    ]),
  ]);
  const publisherVideo = stats(result.publisherKills.map((k) => k.videoMs));
  console.log(
    `  viewer's video: median ${fmt(publisherVideo.p50)}, max ${fmt(publisherVideo.max)}`,
  );
  console.log(
    "  ('video consumer': the viewer's newConsumer for the new track, i.e. the relay is up; " +
      "'publisher sends': the load tester's publisher has joined, produced and started ffmpeg, " +
      'whose start a browser keeping its camera does not pay; its first frame is a keyframe. ' +
      "In (a) first video waits for the publisher's next keyframe, up to the keyframe interval. " +
      "'old closed': the viewer's consumers of the dead node's tracks closed (consumerClosed or " +
      'trackUnpublished))',
  );
  for (const error of result.errors) console.log(`  FAILED: ${error}`);
}
