import { REACTIONS, type Reaction, type ReactionCounts } from '@livestage/protocol';

export type Counts = ReactionCounts['counts'];

/** Reactions counted by emoji since the last `take`: 10,000 hearts are one number. */
export class ReactionTally {
  #counts = new Map<Reaction, number>();

  add(emoji: Reaction, count = 1): void {
    if (!Number.isSafeInteger(count) || count <= 0) return;
    this.#counts.set(emoji, (this.#counts.get(emoji) ?? 0) + count);
  }

  /** Adds counts heard from elsewhere (another node's tally). */
  addAll(counts: Counts): void {
    for (const [emoji, count] of Object.entries(counts) as [Reaction, number][]) {
      if ((REACTIONS as readonly string[]).includes(emoji)) this.add(emoji, count);
    }
  }

  /** The counts so far, and a fresh start; undefined when there were none. */
  take(): Counts | undefined {
    if (this.#counts.size === 0) return undefined;
    const counts: Counts = Object.fromEntries(this.#counts);
    this.#counts = new Map();
    return counts;
  }
}
