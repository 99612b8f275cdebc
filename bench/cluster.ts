// Cluster benchmark: three node processes sharing one private Redis, a real publisher (ffmpeg
// VP8 + Opus over SRTP) on node A, and headless viewers (ICE + DTLS, RTP counted, not decoded).
// Prints figures only (no pass/fail) for issue 11's "Benchmarks for your note":
//   1. added latency of a relay hop (connect → first packet; one-way extra delay by RTP timestamp)
//   2. CPU of a relayed track at the sending and the receiving node
//   3. time to video again after the viewer's node, or the publisher's node, is SIGKILLed
//   4. Redis traffic: idle nodes (heartbeats), per participant per minute, per join and leave
// The exit code is 1 only when a section failed.
//
//   node --import tsx bench/cluster.ts      (npm run bench:cluster; wrap timing runs in flock)
// Knobs (environment): BENCH_CLUSTER_SECTIONS=redis,latency,cpu,failover  BENCH_CLUSTER_JOINS=8
//   BENCH_CLUSTER_LATENCY_S=10  BENCH_CLUSTER_CPU_S=20  BENCH_CLUSTER_FAILOVER_TRIALS=2
//   BENCH_CLUSTER_REDIS_VIEWERS=20  BENCH_CLUSTER_REDIS_STAY_S=60  BENCH_CLUSTER_REDIS_BASELINE_S=20
//   BENCH_CLUSTER_HEARTBEAT_MS=500  BENCH_CLUSTER_NODE_LOG_LEVEL=warn
//   BENCH_CLUSTER_VIDEO_SIZE=640x360  BENCH_CLUSTER_VIDEO_FPS=30  BENCH_CLUSTER_VIDEO_KBPS=800
//   BENCH_CLUSTER_KEYFRAME_S=1
import type { PublisherProcess } from '../loadtest/publisherProcess.js';
import { startCluster } from '../test/helpers/cluster.js';
import { BenchContext, log, nodeEnv, readSettings, type Section } from './cluster/context.js';
import { measureFailover, printFailover } from './cluster/failover.js';
import { printCpu, measureRelayCpu } from './cluster/relayCpu.js';
import { measureRelayLatency, printLatency } from './cluster/relayLatency.js';
import { measureRedisTraffic, printRedis } from './cluster/redisTraffic.js';

async function main(): Promise<void> {
  const settings = readSettings();
  const startedAt = performance.now();
  log(`starting Redis and 3 nodes (heartbeat ${settings.heartbeatMs} ms)`);
  const cluster = await startCluster(3, { env: nodeEnv(settings) });
  const ctx = await BenchContext.create(settings, cluster.redis, cluster.nodes);
  const [a, b, c] = cluster.nodes;
  if (!a || !b || !c) throw new Error('the cluster has fewer than 3 nodes');
  const { video } = settings;
  console.log(
    `bench:cluster: 3 nodes (1 mediasoup worker each) on one Redis, publisher on ${a.name}: ` +
      `${video.width}x${video.height}@${video.fps} VP8 ${video.kbps} kbit/s + Opus, ` +
      `keyframe every ${video.keyframeSeconds} s`,
  );
  let publisher: PublisherProcess | undefined;
  const startPublisher = async () => {
    publisher ??= await ctx.publisherProcess(a);
    return publisher;
  };
  const failed: Section[] = [];
  const run = async (section: Section, body: () => Promise<void>) => {
    if (!settings.sections.includes(section)) return;
    try {
      await body();
    } catch (error) {
      failed.push(section);
      console.log(
        `\n${section}: FAILED: ${error instanceof Error ? error.message : String(error)}`,
      );
      console.log(`node logs:\n${ctx.nodeLogs()}`);
    }
  };
  try {
    await run('redis', async () =>
      printRedis(await measureRedisTraffic(ctx, startPublisher, a, b)),
    );
    await run('latency', async () => {
      await startPublisher();
      printLatency(await measureRelayLatency(ctx, a, b), video.keyframeSeconds);
    });
    await run('cpu', async () => {
      await startPublisher();
      printCpu(await measureRelayCpu(ctx, a, b, c), a.name, b.name);
    });
    await run('failover', async () => {
      const first = await startPublisher();
      publisher = undefined; // the failover section owns it now, and stops it
      const result = await measureFailover(ctx, first, a);
      printFailover(result);
      if (result.errors.length > 0) {
        failed.push('failover');
        console.log(`node logs:\n${ctx.nodeLogs()}`);
      }
    });
  } finally {
    process.stderr.write(`node logs (level ${settings.nodeLogLevel}):\n${ctx.nodeLogs()}\n`);
    await publisher?.stop();
    // Nodes started during the failover trials too, not only the cluster's own.
    await Promise.all(ctx.everyNode.map((node) => node.kill()));
    await cluster.stop();
  }
  console.log(`\n(run took ${Math.round((performance.now() - startedAt) / 1000)} s)`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
