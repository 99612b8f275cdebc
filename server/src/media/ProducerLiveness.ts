import type { types } from 'mediasoup';

export interface LivenessOptions {
  checkIntervalMs: number;
  /** No RTP for this long: the track is stalled (subscribers are told). */
  inactiveAfterMs: number;
  /** No RTP for this long: the track is dead and gets closed. */
  closeAfterMs: number;
}

export interface LivenessHandlers {
  onStalled(stalled: boolean): void;
  onDead(): void;
}

interface Watched {
  producer: types.Producer;
  handlers: LivenessHandlers;
  bytes: number;
  lastSeenAt: number;
  stalled: boolean;
}

/**
 * Decides from the worker's own byte counters, never from what a client says, whether a
 * producer still receives RTP. A paused producer is not expected to send and counts as alive.
 */
export class ProducerLiveness {
  readonly #options: LivenessOptions;
  readonly #now: () => number;
  readonly #watched = new Map<string, Watched>();
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  constructor(options: LivenessOptions, now: () => number = Date.now) {
    this.#options = options;
    this.#now = now;
  }

  watch(producer: types.Producer, handlers: LivenessHandlers): void {
    this.#watched.set(producer.id, {
      producer,
      handlers,
      bytes: 0,
      lastSeenAt: this.#now(),
      stalled: false,
    });
    producer.observer.once('close', () => this.#watched.delete(producer.id));
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.check(), this.#options.checkIntervalMs);
      this.#timer.unref();
    }
  }

  /** One pass over every watched producer; runs on the interval, callable from tests. */
  async check(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      await Promise.all([...this.#watched.values()].map((entry) => this.#checkOne(entry)));
    } finally {
      this.#checking = false;
    }
    if (this.#watched.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #checkOne(entry: Watched): Promise<void> {
    const { producer } = entry;
    if (producer.closed) return;
    const now = this.#now();
    let bytes = entry.bytes;
    if (!producer.paused) {
      try {
        const stats = await producer.getStats();
        bytes = stats.reduce((sum, s) => sum + (s.byteCount ?? 0), 0);
      } catch {
        return; // closed while asking
      }
    }
    if (producer.paused || bytes !== entry.bytes) {
      entry.bytes = bytes;
      entry.lastSeenAt = now;
      if (entry.stalled) {
        entry.stalled = false;
        entry.handlers.onStalled(false);
      }
      return;
    }
    const silentFor = now - entry.lastSeenAt;
    if (silentFor >= this.#options.closeAfterMs) {
      this.#watched.delete(producer.id);
      entry.handlers.onDead();
    } else if (silentFor >= this.#options.inactiveAfterMs && !entry.stalled) {
      entry.stalled = true;
      entry.handlers.onStalled(true);
    }
  }
}
