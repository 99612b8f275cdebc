// The publisher in a process of its own. In the viewers' process, a join storm keeps the event
// loop busy for seconds (DTLS handshakes): ffmpeg's packets would pile up in the socket buffer
// and be dropped before they reach the server, and every viewer would count that loss as its own.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PublisherOptions, PublisherStats } from './publisher.js';

export type PublisherProcessOptions = Omit<PublisherOptions, 'certificate'>;

/** Parent → child. */
export type PublisherCommand =
  { type: 'start'; options: PublisherProcessOptions } | { type: 'stats' } | { type: 'stop' };

/** Child → parent. */
export type PublisherReport =
  | { type: 'stats'; stats: PublisherStats }
  | { type: 'stopped'; stats: PublisherStats }
  | { type: 'error'; message: string };

const CHILD = fileURLToPath(new URL('./publisherChild.ts', import.meta.url));

export class PublisherProcess {
  readonly #child: ChildProcess;
  #stats: PublisherStats;

  private constructor(child: ChildProcess, stats: PublisherStats) {
    this.#child = child;
    this.#stats = stats;
  }

  static async start(options: PublisherProcessOptions): Promise<PublisherProcess> {
    const child = fork(CHILD, [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    try {
      const first = await nextReport(child, { type: 'start', options });
      if (first.type !== 'stats') throw new Error('publisher process: unexpected answer');
      return new PublisherProcess(child, first.stats);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The figures as of the last refresh() or stop(). */
  get stats(): PublisherStats {
    return this.#stats;
  }

  async refresh(): Promise<PublisherStats> {
    const report = await nextReport(this.#child, { type: 'stats' });
    if (report.type === 'stats') this.#stats = report.stats;
    return this.#stats;
  }

  async stop(): Promise<PublisherStats> {
    if (this.#child.exitCode !== null || !this.#child.connected) return this.#stats;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    const report = await nextReport(this.#child, { type: 'stop' }).catch(() => undefined);
    if (report?.type === 'stopped') this.#stats = report.stats;
    const killer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    return this.#stats;
  }
}

function nextReport(child: ChildProcess, command: PublisherCommand): Promise<PublisherReport> {
  return new Promise((resolve, reject) => {
    const onMessage = (report: PublisherReport) => {
      done();
      if (report.type === 'error') reject(new Error(report.message));
      else resolve(report);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new Error(`publisher process exited (${String(code)})`));
    };
    const done = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(command);
  });
}
