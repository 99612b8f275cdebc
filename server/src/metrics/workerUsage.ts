import { readFile } from 'node:fs/promises';
import type { MediaWorker, WorkerPool } from '../media/WorkerPool.js';

export interface WorkerUsage {
  worker: string;
  cpuSeconds: number;
  rssBytes: number;
}

/** CPU (user + system) and resident memory of every live worker, asked at scrape time. */
export async function workerUsage(pool: WorkerPool): Promise<WorkerUsage[]> {
  const live = pool.workers.filter((w) => !w.worker.closed);
  const usages = await Promise.all(live.map(usageOf));
  return usages.filter((usage): usage is WorkerUsage => usage !== undefined);
}

async function usageOf({ index, worker }: MediaWorker): Promise<WorkerUsage | undefined> {
  const usage = await worker.getResourceUsage().catch(() => undefined);
  if (!usage) return undefined;
  return {
    worker: String(index),
    cpuSeconds: (usage.ru_utime + usage.ru_stime) / 1000,
    // The kernel's current figure where there is one; getrusage only knows the peak.
    rssBytes: (await currentRssBytes(worker.pid)) ?? usage.ru_maxrss * 1024,
  };
}

async function currentRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
