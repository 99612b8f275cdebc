import type { types } from 'mediasoup';

export interface WatchdogOptions {
  /** How often each worker is asked for a sign of life (ms). */
  intervalMs: number;
  /** A worker that has not answered in this long is hung (ms). */
  timeoutMs: number;
}

/**
 * mediasoup 3.12's requests to a worker have no timeout: a worker that is alive but stuck (a
 * busy loop, a SIGSTOP) would hold every request sent to it, and every participant queue that
 * waits on one, for ever. The watchdog asks each worker for its resource usage on an interval;
 * one that does not answer in time is reported hung (the pool kills it, so that the usual
 * worker-death path moves its rooms).
 */
export class WorkerWatchdog {
  readonly #options: WatchdogOptions;
  readonly #onHung: (worker: types.Worker) => void;
  readonly #workers = new Set<types.Worker>();
  readonly #pending = new Set<types.Worker>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WatchdogOptions, onHung: (worker: types.Worker) => void) {
    this.#options = options;
    this.#onHung = onHung;
  }

  watch(worker: types.Worker): void {
    this.#workers.add(worker);
    worker.observer.once('close', () => this.#workers.delete(worker));
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#checkAll(), this.#options.intervalMs);
      this.#timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#workers.clear();
  }

  #checkAll(): void {
    for (const worker of this.#workers) {
      // Still waiting for the previous answer: its own timer decides.
      if (!this.#pending.has(worker)) this.#check(worker);
    }
  }

  #check(worker: types.Worker): void {
    this.#pending.add(worker);
    const timer = setTimeout(() => {
      if (!worker.closed && this.#workers.has(worker)) this.#onHung(worker);
    }, this.#options.timeoutMs);
    timer.unref();
    worker.getResourceUsage().then(
      () => {
        clearTimeout(timer);
        this.#pending.delete(worker);
      },
      () => {
        // Closed or dying: the worker's own 'died' handling takes over.
        clearTimeout(timer);
        this.#pending.delete(worker);
      },
    );
  }
}
