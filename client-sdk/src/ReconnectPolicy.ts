/** What a reconnect policy is told before each attempt. */
export interface ReconnectContext {
  /** 0 for the first attempt after the connection dropped. */
  attempt: number;
  /** Time since the connection dropped (ms). */
  elapsedMs: number;
}

/** Decides how long to wait before the next attempt; null gives up (→ 'disconnected'). */
export interface ReconnectPolicy {
  nextDelayMs(context: ReconnectContext): number | null;
}

export interface BackoffOptions {
  /** Base delay of attempt i (the last one repeats). */
  delaysMs?: readonly number[];
  /** Each delay is spread by ± this fraction, so a crowd of clients does not come back at once. */
  jitter?: number;
  /** Give up once this much time has passed since the drop. */
  maxElapsedMs?: number;
  random?: () => number;
}

/** Backoff with jitter: quick first tries (most drops are short), then slower, then give up. */
export class BackoffReconnectPolicy implements ReconnectPolicy {
  readonly #delaysMs: readonly number[];
  readonly #jitter: number;
  readonly #maxElapsedMs: number;
  readonly #random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.#delaysMs = options.delaysMs ?? [0, 300, 1000, 2000, 4000, 7000, 10000];
    this.#jitter = options.jitter ?? 0.3;
    this.#maxElapsedMs = options.maxElapsedMs ?? 60_000;
    this.#random = options.random ?? Math.random;
  }

  nextDelayMs({ attempt, elapsedMs }: ReconnectContext): number | null {
    if (elapsedMs >= this.#maxElapsedMs) return null;
    const base =
      this.#delaysMs[Math.min(attempt, this.#delaysMs.length - 1)] ?? this.#delaysMs[0] ?? 0;
    const spread = base * this.#jitter * (2 * this.#random() - 1);
    return Math.max(0, Math.round(base + spread));
  }
}

export type ReconnectOutcome = 'resumed' | 'rejoined';

export interface ReconnectLoop {
  policy: ReconnectPolicy;
  /** One try; throws to try again (or with a fatal error to stop). */
  attempt(): Promise<ReconnectOutcome>;
  /** Errors after which trying again is pointless (e.g. the token expired). */
  isFatal(error: unknown): boolean;
  /** The room was closed meanwhile (by the app, or a kick). */
  isClosed(): boolean;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Tries until one attempt succeeds, the policy gives up or a fatal error comes; never throws. */
export async function runReconnectLoop(
  loop: ReconnectLoop,
): Promise<{ outcome: ReconnectOutcome } | { error: unknown }> {
  const sleep = loop.sleep ?? ((ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = loop.now ?? Date.now;
  const started = now();
  let lastError: unknown = new Error('gave up reconnecting');
  try {
    for (let attempt = 0; ; attempt += 1) {
      const delay = loop.policy.nextDelayMs({ attempt, elapsedMs: now() - started });
      if (delay === null) return { error: lastError };
      await sleep(delay);
      if (loop.isClosed()) return { error: lastError };
      try {
        return { outcome: await loop.attempt() };
      } catch (error) {
        lastError = error;
        if (loop.isFatal(error)) return { error };
      }
    }
  } catch (error) {
    // A broken policy or timer (an app can inject both) ends the loop like giving up does.
    return { error };
  }
}
