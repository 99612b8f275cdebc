// CPU cost of a relayed track at the sending and the receiving node: the nodes' CPU (Node process
// and mediasoup worker) over three phases: (i) the publisher and one viewer on A, nobody
// elsewhere; (ii) plus one viewer on B, so A relays the track to B; (iii) plus a second viewer
// on B, the marginal cost of a viewer there, to tell the relay's share of (ii) at B.
import { availableParallelism } from 'node:os';
import type { TestNode } from '../../test/helpers/cluster.js';
import { fmt, printTable } from '../lib/report.js';
import { MEDIA_TIMEOUT_MS, log, roomsOn, sleep, until, type BenchContext } from './context.js';
import { machinePercent, nodePercent, sampleMachine, sampleNode } from './nodeCpu.js';
import type { ProbeViewer } from './probeViewer.js';

const SETTLE_MS = 3000;

export interface CpuPhase {
  label: string;
  seconds: number;
  /** By node name: % of one core. */
  nodes: Map<string, { node: number; workers: number }>;
  machinePercent: number;
}

async function measurePhase(label: string, nodes: TestNode[], seconds: number): Promise<CpuPhase> {
  await sleep(SETTLE_MS);
  log(`cpu: ${label} for ${seconds} s`);
  const machineFrom = sampleMachine();
  const from = nodes.map((n) => sampleNode(n.pid));
  await sleep(seconds * 1000);
  const to = nodes.map((n) => sampleNode(n.pid));
  const machineTo = sampleMachine();
  return {
    label,
    seconds,
    nodes: new Map(nodes.map((n, i) => [n.name, nodePercent(from[i]!, to[i]!)])),
    machinePercent: machinePercent(machineFrom, machineTo),
  };
}

export async function measureRelayCpu(
  ctx: BenchContext,
  origin: TestNode,
  edge: TestNode,
  idle: TestNode | undefined,
): Promise<CpuPhase[]> {
  const nodes = [origin, edge, ...(idle ? [idle] : [])];
  const seconds = ctx.settings.cpuSeconds;
  const viewers: ProbeViewer[] = [];
  const watch = async (node: TestNode) => {
    const viewer = ctx.viewer(node);
    viewers.push(viewer);
    await viewer.start();
    await viewer.videoSince(0, MEDIA_TIMEOUT_MS);
  };
  try {
    await until(
      async () => (await roomsOn(edge)) === 0,
      10_000,
      () => `node ${edge.name} still holds the room`,
    );
    await watch(origin);
    const phases = [
      await measurePhase(`(i) publisher + 1 viewer on ${origin.name}`, nodes, seconds),
    ];
    await watch(edge);
    phases.push(await measurePhase(`(ii) + 1 viewer on ${edge.name} (relay)`, nodes, seconds));
    await watch(edge);
    phases.push(await measurePhase(`(iii) + 2nd viewer on ${edge.name}`, nodes, seconds));
    return phases;
  } finally {
    for (const viewer of viewers) await viewer.stop();
  }
}

export function printCpu(phases: CpuPhase[], origin: string, edge: string): void {
  console.log('\n2. CPU of the nodes, % of one core (Node process + mediasoup worker)');
  const names = [...(phases[0]?.nodes.keys() ?? [])];
  printTable([
    ['phase', ...names.map((n) => `${n} node+worker`), 'machine %'],
    ...phases.map((phase) => [
      phase.label,
      ...names.map((n) => {
        const cpu = phase.nodes.get(n);
        return cpu ? `${fmt(cpu.node)}+${fmt(cpu.workers)}` : '—';
      }),
      fmt(phase.machinePercent),
    ]),
  ]);
  const total = (phase: CpuPhase | undefined, name: string) => {
    const cpu = phase?.nodes.get(name);
    return cpu ? cpu.node + cpu.workers : Number.NaN;
  };
  const [one, two, three] = phases;
  const sending = total(two, origin) - total(one, origin);
  const receiving = total(two, edge) - total(one, edge);
  const viewerAtEdge = total(three, edge) - total(two, edge);
  console.log(
    `  relay at the sending node ${origin}: ${fmt(sending)} % of a core ((ii) − (i)); ` +
      `at the receiving node ${edge}: ${fmt(receiving)} % ((ii) − (i), with its first viewer), ` +
      `of which a viewer there costs ${fmt(viewerAtEdge)} % ((iii) − (ii)), ` +
      `so the relay's own share ≈ ${fmt(receiving - viewerAtEdge)} %`,
  );
  console.log(
    `  (machine %: all ${availableParallelism()} cores, everything running, incl. the publisher's ffmpeg and other ` +
      "engineers' processes; phases are " +
      `${phases[0]?.seconds ?? 0} s each)`,
  );
}
