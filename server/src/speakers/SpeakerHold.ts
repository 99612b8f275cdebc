import type { Speaker } from '@livestage/protocol';

/**
 * Bridges short gaps: a speaker missing from one measurement (a breath between words, a burst of
 * packets landing in the next interval) still speaks until `holdMs` after it was last heard, at
 * its last level, so that `isSpeaking` does not flicker and the room is not told twice.
 */
export class SpeakerHold {
  readonly #holdMs: number;
  readonly #max: number;
  /** Everyone heard within holdMs: last level and when. */
  readonly #heard = new Map<string, { level: number; at: number }>();

  constructor(holdMs: number, max: number) {
    this.#holdMs = holdMs;
    this.#max = max;
  }

  /** A measurement at `now` (empty: silence). Returns who speaks, loudest first. */
  measured(speakers: readonly Speaker[], now: number): Speaker[] {
    for (const { identity, level } of speakers) this.#heard.set(identity, { level, at: now });
    return this.at(now);
  }

  /** Stops holding `identity` (its microphone is gone): false if it was not held. */
  forget(identity: string): boolean {
    return this.#heard.delete(identity);
  }

  /** Who speaks as of `now`: everyone heard within holdMs, loudest first. */
  at(now: number): Speaker[] {
    for (const [identity, { at }] of this.#heard) {
      if (now - at > this.#holdMs) this.#heard.delete(identity);
    }
    return [...this.#heard]
      .sort(([a, x], [b, y]) => y.level - x.level || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, this.#max)
      .map(([identity, { level }]) => ({ identity, level }));
  }

  /** When the first speaker held now lapses (undefined: nobody is held). */
  get nextLapse(): number | undefined {
    let first: number | undefined;
    for (const { at } of this.#heard.values()) {
      const lapse = at + this.#holdMs;
      if (first === undefined || lapse < first) first = lapse;
    }
    return first;
  }
}
