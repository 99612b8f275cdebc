import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenKeys } from '../auth/tokens.js';
import type { Logger } from '../logging/logger.js';
import { signWebhook, WEBHOOK_CONTENT_TYPE } from './signing.js';
import type { WebhookEvent } from './webhookEvent.js';

export interface DeliveryOptions {
  /** One attempt's deadline (ms). */
  readonly timeoutMs: number;
  readonly attempts: number;
  /** The first retry waits this long (ms); each next one twice the previous. */
  readonly retryBaseMs: number;
  /** Events waiting (not in flight); past it the oldest waiting one is dropped. */
  readonly queueLimit: number;
  /** Deliveries in flight at once, each for a different lane (room). */
  readonly concurrency: number;
}

/** The wait before retry number `retry` (1 = the first retry), capped at a minute. */
export function retryDelayMs(retryBaseMs: number, retry: number): number {
  return Math.min(60_000, retryBaseMs * 2 ** (retry - 1));
}

type Outcome = { ok: true } | { ok: false; final: boolean; reason: string };

interface Waiting {
  readonly lane: string;
  readonly event: WebhookEvent;
}

/** Drops are logged at most this often per URL (a dead receiver would flood the log). */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * Deliveries to one URL. Events of one lane (a room) go one at a time, in order, each retried
 * until it succeeds or runs out of attempts; different lanes go side by side (up to
 * `concurrency`), so one room's stuck event does not hold up the others beyond that.
 * `enqueue` never waits: nothing on a room's path ever awaits a receiver.
 */
export class WebhookQueue {
  readonly #url: string;
  readonly #keys: TokenKeys;
  readonly #options: DeliveryOptions;
  readonly #log: Logger;
  readonly #waiting: Waiting[] = [];
  readonly #busyLanes = new Set<string>();
  readonly #stop = new AbortController();
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  #delivered = 0;
  #dropped = 0;
  /** Drops since the last event that left for this URL: told to the receiver in `numDropped`. */
  #droppedUntold = 0;
  #droppedUnlogged = 0;
  #lastDropLogAt = -Infinity;

  constructor(url: string, keys: TokenKeys, options: DeliveryOptions, log: Logger) {
    this.#url = url;
    this.#keys = keys;
    this.#options = options;
    // The path may carry a receiver's secret (?token=...): only origin and path are logged.
    const shown = new URL(url);
    this.#log = log.child({ webhook: `${shown.origin}${shown.pathname}` });
  }

  get url(): string {
    return this.#url;
  }

  /** Events accepted by the receiver (2xx). */
  get delivered(): number {
    return this.#delivered;
  }

  /** Events this URL will never get: queue full, out of attempts, refused, or shut down. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Events waiting or in flight. */
  get pending(): number {
    return this.#waiting.length + this.#busyLanes.size;
  }

  enqueue(lane: string, event: WebhookEvent): void {
    if (this.#closed) {
      this.#drop(event, 'shutting down');
      return;
    }
    if (this.#waiting.length >= this.#options.queueLimit) {
      // The oldest is the stalest; what happens now matters more to a receiver catching up.
      const oldest = this.#waiting.shift();
      if (oldest) this.#drop(oldest.event, 'queue full');
    }
    this.#waiting.push({ lane, event });
    this.#pump();
  }

  /**
   * Stops taking events; what is queued gets up to `graceMs` to go out (room_finished on
   * shutdown), then everything left is aborted and counted as dropped.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    const grace = new AbortController();
    await Promise.race([this.#idle(), sleep(graceMs, undefined, { signal: grace.signal })]).catch(
      () => undefined,
    );
    grace.abort();
    for (const { event } of this.#waiting.splice(0)) this.#drop(event, 'shutting down');
    this.#stop.abort();
    await this.#idle();
  }

  #idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (this.#busyLanes.size < this.#options.concurrency && !this.#stop.signal.aborted) {
      const index = this.#waiting.findIndex((waiting) => !this.#busyLanes.has(waiting.lane));
      if (index < 0) return;
      const [next] = this.#waiting.splice(index, 1) as [Waiting];
      this.#busyLanes.add(next.lane);
      void this.#deliver(next.event).finally(() => {
        this.#busyLanes.delete(next.lane);
        this.#pump();
        if (this.pending === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
      });
    }
  }

  async #deliver(event: WebhookEvent): Promise<void> {
    const numDropped = this.#droppedUntold;
    this.#droppedUntold = 0;
    const body = JSON.stringify(numDropped > 0 ? { ...event, numDropped } : event);
    let outcome: Outcome = { ok: false, final: true, reason: 'not sent' };
    for (let attempt = 1; attempt <= this.#options.attempts; attempt += 1) {
      if (attempt > 1) {
        const delay = retryDelayMs(this.#options.retryBaseMs, attempt - 1);
        const stopped = await sleep(delay, false, { signal: this.#stop.signal, ref: false }).catch(
          () => true,
        );
        if (stopped) break;
      }
      outcome = await this.#post(body);
      if (outcome.ok) {
        this.#delivered += 1;
        return;
      }
      this.#log.debug('webhook attempt failed', {
        event: event.event,
        id: event.id,
        attempt,
        reason: outcome.reason,
      });
      if (outcome.final || this.#stop.signal.aborted) break;
    }
    this.#drop(event, outcome.ok ? 'stopped' : outcome.reason);
  }

  async #post(body: string): Promise<Outcome> {
    const signal = AbortSignal.any([
      AbortSignal.timeout(this.#options.timeoutMs),
      this.#stop.signal,
    ]);
    try {
      const response = await fetch(this.#url, {
        method: 'POST',
        headers: {
          'Content-Type': WEBHOOK_CONTENT_TYPE,
          Authorization: signWebhook(this.#keys, body),
        },
        body,
        signal,
        // A receiver that moved must be reconfigured: following would turn the POST into a GET.
        redirect: 'manual',
      });
      // The answer's body is of no interest; reading it could hang on a slow receiver.
      await response.body?.cancel().catch(() => undefined);
      if (response.ok) return { ok: true };
      const status = response.status;
      const retryable = status >= 500 || status === 408 || status === 429;
      return { ok: false, final: !retryable, reason: `HTTP ${status}` };
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${this.#options.timeoutMs} ms`
          : error instanceof Error && error.name === 'AbortError'
            ? 'shutting down'
            : `${String(error)}${causeOf(error)}`;
      return { ok: false, final: false, reason };
    }
  }

  #drop(event: WebhookEvent, reason: string): void {
    this.#dropped += 1;
    this.#droppedUntold += 1;
    this.#droppedUnlogged += 1;
    const now = Date.now();
    if (now - this.#lastDropLogAt < DROP_LOG_INTERVAL_MS) return;
    this.#log.warn('webhook dropped', {
      event: event.event,
      id: event.id,
      reason,
      droppedSinceLastLog: this.#droppedUnlogged,
      droppedTotal: this.#dropped,
    });
    this.#lastDropLogAt = now;
    this.#droppedUnlogged = 0;
  }
}

/** fetch reports "fetch failed" and hides the useful part (ECONNREFUSED ...) in `cause`. */
function causeOf(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
  return cause?.code ? ` (${cause.code})` : '';
}
