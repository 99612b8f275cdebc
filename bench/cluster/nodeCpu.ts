// CPU seconds of a node: its Node process and its mediasoup workers (its children named
// mediasoup-worker; tsx's esbuild service is a child too, and left out), and of the whole machine.
import { readdirSync, readFileSync } from 'node:fs';
import { readProcStat } from '../../loadtest/processCpu.js';

export interface NodeCpuSample {
  at: number;
  nodeSeconds: number;
  workerSeconds: number;
}

export function sampleNode(pid: number): NodeCpuSample {
  let workerSeconds = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProcStat(Number(entry));
    if (stat?.parentPid === pid && stat.name.startsWith('mediasoup-work')) {
      workerSeconds += stat.cpuSeconds;
    }
  }
  return {
    at: performance.now(),
    nodeSeconds: readProcStat(pid)?.cpuSeconds ?? Number.NaN,
    workerSeconds,
  };
}

/** % of one core over the interval: the Node process, its workers. */
export function nodePercent(
  from: NodeCpuSample,
  to: NodeCpuSample,
): { node: number; workers: number } {
  const seconds = (to.at - from.at) / 1000;
  return {
    node: (100 * (to.nodeSeconds - from.nodeSeconds)) / seconds,
    workers: (100 * (to.workerSeconds - from.workerSeconds)) / seconds,
  };
}

/** The machine's busy and total jiffies so far (/proc/stat, all cores). */
export function sampleMachine(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const values = fields.map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

/** How busy the machine was between two samples, % of all its cores. */
export function machinePercent(
  from: { busy: number; total: number },
  to: { busy: number; total: number },
): number {
  return (100 * (to.busy - from.busy)) / Math.max(1, to.total - from.total);
}
