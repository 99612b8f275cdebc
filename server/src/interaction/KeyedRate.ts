/**
 * At most `limit` events per key in each fixed window of `windowMs`. Keys whose window has passed
 * are forgotten as new windows start, so the map holds only the recently active.
 */
export class KeyedRate {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #counts = new Map<string, { start: number; count: number }>();
  #lastSweep = 0;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Counts one event for `key`; false (and not counted) when the key is over its limit. */
  take(key: string, now: number): boolean {
    this.#sweep(now);
    let entry = this.#counts.get(key);
    if (!entry || now - entry.start >= this.#windowMs) {
      entry = { start: now, count: 0 };
      this.#counts.set(key, entry);
    }
    if (entry.count >= this.#limit) return false;
    entry.count += 1;
    return true;
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#windowMs) return;
    this.#lastSweep = now;
    for (const [key, entry] of this.#counts) {
      if (now - entry.start >= this.#windowMs) this.#counts.delete(key);
    }
  }
}
