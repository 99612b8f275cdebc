import { Publisher } from '../../loadtest/publisher.js';
import { startCluster } from '../../test/helpers/cluster.js';
import { BenchContext, nodeEnv, readSettings, sleep } from './context.js';

const settings = readSettings();
const cluster = await startCluster(3, { env: { ...nodeEnv(settings), LOG_LEVEL: 'info' } });
const ctx = await BenchContext.create(settings, cluster.redis, cluster.nodes);
const [a, b, c] = cluster.nodes;
try {
  const pub = await Publisher.start({ ...ctx.publisherOptions(a!, 'host'), certificate: ctx.certificate });
  const viewer = ctx.viewer(b!);
  await viewer.start();
  await viewer.videoSince(0, 20000);
  await sleep(1000);
  const killedAt = performance.now();
  await ctx.kill(a!);
  void pub.stop();
  const pub2 = await Publisher.start({ ...ctx.publisherOptions(c!, 'host'), certificate: ctx.certificate });
  await sleep(Number(process.env.WAIT_S ?? 10) * 1000);
  for (const e of viewer.events) console.log(((e.at - killedAt)).toFixed(0).padStart(7), e.name, JSON.stringify(e.payload).slice(0, 160));
  await viewer.stop();
  await pub2.stop();
} finally {
  process.stderr.write(ctx.nodeLogs() + '\n');
  await Promise.all(ctx.everyNode.map((n) => n.kill()));
  await cluster.stop();
}
