// CPU by process during a run: the server's mediasoup workers (from GET /healthz, which reports
// each worker's pid and CPU seconds; from /proc when the server runs on this machine and its
// health endpoint does not tell), the server's own Node process (only from /proc, so only when it
// runs here), this load tester, and the publisher's encoder.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { findProcesses, readProcStat } from './processCpu.js';

export type CpuSource = 'healthz' | 'proc' | 'none';

interface WorkerHealth {
  index: number;
  pid: number;
  cpuUserSeconds?: number;
  cpuSystemSeconds?: number;
}

export interface CpuSample {
  /** performance.now() */
  at: number;
  /** Process key → CPU seconds (user + system) so far. */
  seconds: Map<string, number>;
  /** The longest this process's event loop was blocked since the previous sample (ms). */
  loopDelayMaxMs: number;
}

export interface ProcessCpu {
  key: string;
  label: string;
  /** Average over the window, in % of one core. */
  percent: number;
}

const TESTER = 'tester';

export class CpuSampler {
  readonly #url: string;
  readonly #local: boolean;
  readonly #labels = new Map<string, string>();
  readonly samples: CpuSample[] = [];
  #source: CpuSource = 'none';
  /** Other local processes to follow (the publisher's), by key. */
  readonly #pids = new Map<string, number>();
  readonly #loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  #timer: ReturnType<typeof setInterval> | undefined;
  #pending: Promise<void> = Promise.resolve();

  constructor(url: string) {
    this.#url = url;
    this.#local = isLocal(url);
    this.#labels.set(TESTER, 'load tester (this process)');
  }

  /** Where the server's worker figures come from (known after the first sample). */
  get source(): CpuSource {
    return this.#source;
  }

  /** Follows another process on this machine, e.g. the publisher's. */
  follow(key: string, label: string, pid: number | undefined): void {
    if (pid === undefined) return;
    this.#pids.set(key, pid);
    this.#labels.set(key, `${label} (pid ${pid})`);
  }

  /** Samples now and then every `intervalMs` until stop(). */
  async start(intervalMs: number): Promise<void> {
    this.#loopDelay.enable();
    await this.sample();
    this.#timer = setInterval(() => void this.sample(), intervalMs);
  }

  stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#loopDelay.disable();
    return this.#pending;
  }

  /** The longest event-loop block of this process between two times (ms). */
  loopDelayMax(from: number, to: number): number {
    // Each sample covers the time since the one before it.
    const overlapping = this.samples.filter(
      (s, i) => s.at > from && (this.samples[i - 1]?.at ?? -Infinity) < to,
    );
    return Math.max(0, ...overlapping.map((s) => s.loopDelayMaxMs));
  }

  /** Takes one sample; samples never overlap. */
  sample(): Promise<void> {
    this.#pending = this.#pending.then(() => this.#sample()).catch(() => {});
    return this.#pending;
  }

  /** Average CPU of each process between two times (performance.now()), nearest samples. */
  window(from: number, to: number): ProcessCpu[] {
    const before = [...this.samples].reverse().find((s) => s.at <= from) ?? this.samples[0];
    const after = this.samples.find((s) => s.at >= to) ?? this.samples[this.samples.length - 1];
    if (!before || !after || after.at <= before.at) return [];
    const seconds = (after.at - before.at) / 1000;
    const rows: ProcessCpu[] = [];
    for (const [key, end] of after.seconds) {
      const start = before.seconds.get(key);
      if (start === undefined) continue;
      rows.push({
        key,
        label: this.#labels.get(key) ?? key,
        percent: (100 * (end - start)) / seconds,
      });
    }
    return rows;
  }

  async #sample(): Promise<void> {
    const at = performance.now();
    const seconds = new Map<string, number>();
    const usage = process.cpuUsage();
    seconds.set(TESTER, (usage.user + usage.system) / 1e6);
    for (const [key, pid] of this.#pids) {
      const stat = readProcStat(pid);
      if (stat) seconds.set(key, stat.cpuSeconds);
    }
    const workers = await this.#healthWorkers();
    if (workers?.every((w) => w.cpuUserSeconds !== undefined)) {
      this.#source = 'healthz';
      for (const w of workers) {
        const key = `worker ${w.index} (pid ${w.pid})`;
        this.#labels.set(key, `server worker ${w.index} (pid ${w.pid})`);
        seconds.set(key, (w.cpuUserSeconds ?? 0) + (w.cpuSystemSeconds ?? 0));
      }
    }
    if (this.#local) this.#sampleLocal(workers, seconds);
    const loopDelayMaxMs = this.#loopDelay.max / 1e6;
    this.#loopDelay.reset();
    this.samples.push({ at, seconds, loopDelayMaxMs });
  }

  /** From /proc: the server's Node process, and the workers when /healthz did not tell. */
  #sampleLocal(workers: WorkerHealth[] | undefined, seconds: Map<string, number>): void {
    const workerPids = workers?.map((w) => w.pid) ?? findProcesses('mediasoup-worker');
    const parents = new Set<number>();
    workerPids.forEach((pid, i) => {
      const stat = readProcStat(pid);
      if (!stat) return;
      parents.add(stat.parentPid);
      if (this.#source === 'healthz') return;
      this.#source = 'proc';
      const index = workers?.[i]?.index ?? i;
      const key = `worker ${index} (pid ${pid})`;
      this.#labels.set(key, `server worker ${index} (pid ${pid})`);
      seconds.set(key, stat.cpuSeconds);
    });
    for (const pid of parents) {
      // A worker whose server is this very process (a test): that CPU is already "tester".
      if (pid === process.pid) continue;
      const stat = readProcStat(pid);
      if (!stat) continue;
      const key = `server node (pid ${pid})`;
      this.#labels.set(key, `server Node process (pid ${pid})`);
      seconds.set(key, stat.cpuSeconds);
    }
  }

  async #healthWorkers(): Promise<WorkerHealth[] | undefined> {
    try {
      const response = await fetch(new URL('/healthz', this.#url), {
        signal: AbortSignal.timeout(2000),
      });
      const body = (await response.json()) as { workers?: WorkerHealth[] };
      return Array.isArray(body.workers) ? body.workers : undefined;
    } catch {
      return undefined;
    }
  }
}

function isLocal(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || host === '::1' || host.startsWith('127.');
}
