import type { ReactionCounts } from '@livestage/protocol';

type Missed = [event: string, args: unknown[]];

/**
 * Events that only say how things are now: a newer one makes the older useless. The value names
 * what one event is about (undefined: the room), so that e.g. one score is kept per consumer.
 */
const LATEST_STATE: Record<string, (args: unknown[]) => string | undefined> = {
  activeSpeakersChanged: () => undefined,
  viewerCount: () => undefined,
  qualityReport: () => undefined,
  reactions: () => undefined,
  consumerScore: (args) => (args[0] as { consumerId?: string } | undefined)?.consumerId,
  consumerLayersChanged: (args) => (args[0] as { consumerId?: string } | undefined)?.consumerId,
};

/**
 * What a suspended participant would have been sent, in order, to replay on resume. Past
 * `limit` events it overflows (the client must rejoin). A "latest state" event replaces the one
 * of its kind already kept (reaction counts are added up), so that speakers, counts and scores,
 * which come several times a second, do not fill it: what is kept stays in its original order.
 */
export class MissedEvents {
  readonly #limit: number;
  #events: Missed[] = [];
  #overflow = false;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get overflowed(): boolean {
    return this.#overflow;
  }

  get length(): number {
    return this.#events.length;
  }

  push(event: string, args: unknown[]): void {
    if (this.#overflow) return;
    const keyOf = LATEST_STATE[event];
    if (keyOf) {
      const key = keyOf(args);
      const index = this.#events.findIndex(([e, a]) => e === event && keyOf(a) === key);
      if (index >= 0) {
        const [, older] = this.#events.splice(index, 1)[0]!;
        if (event === 'reactions') args = [addReactions(older[0], args[0])];
      }
    }
    if (this.#events.length >= this.#limit) {
      this.#overflow = true;
      this.#events = [];
      return;
    }
    this.#events.push([event, args]);
  }

  /** Everything kept, oldest first; the buffer is empty afterwards. */
  take(): Missed[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }
}

/** Two reaction events as one: the counts added up, over both windows. */
function addReactions(older: unknown, newer: unknown): ReactionCounts {
  const a = older as ReactionCounts;
  const b = newer as ReactionCounts;
  const counts: ReactionCounts['counts'] = { ...a.counts };
  for (const [emoji, count] of Object.entries(b.counts) as [keyof typeof counts, number][]) {
    counts[emoji] = (counts[emoji] ?? 0) + count;
  }
  return { counts, windowMs: a.windowMs + b.windowMs };
}
