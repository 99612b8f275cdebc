import type { Speaker } from '@livestage/protocol';
import { speakersChanged } from './speakerChanges.js';
import { SpeakerHold } from './SpeakerHold.js';

/** Time as the reporter sees it; tests drive it by hand. */
export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => {
    const timer = setTimeout(run, ms);
    timer.unref();
    return timer;
  },
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
};

export interface SpeakerReporterOptions {
  /** At most one report this often (ms). */
  intervalMs: number;
  /** A speaker still speaks this long after it was last measured (SpeakerHold). */
  holdMs: number;
  /** At most this many speakers per report (the loudest). */
  maxSpeakers: number;
  send(speakers: Speaker[]): void;
  clock?: Clock;
}

/**
 * Turns measurements (who speaks now, as often as they come) into reports: one only when the
 * speakers changed noticeably since the last report (speakersChanged), and never two within
 * `intervalMs`. A change that comes too early is sent when the interval is up, as it is by then
 * (the latest state wins, and nothing is sent if it went back to what was reported). Speakers
 * are held briefly after they fall silent (SpeakerHold); the list empties once the hold lapses.
 */
export class SpeakerReporter {
  readonly #options: SpeakerReporterOptions;
  readonly #clock: Clock;
  readonly #hold: SpeakerHold;
  #reported: Speaker[] = [];
  #latest: Speaker[] = [];
  #reportedAt = Number.NEGATIVE_INFINITY;
  #sendTimer: unknown;
  #lapseTimer: unknown;
  #closed = false;

  constructor(options: SpeakerReporterOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#hold = new SpeakerHold(options.holdMs, options.maxSpeakers);
  }

  /** What was last sent: who the room believes speaks. */
  get reported(): readonly Speaker[] {
    return this.#reported;
  }

  /** A measurement: these speak now, loudest first (empty: silence). */
  update(measured: readonly Speaker[]): void {
    if (this.#closed) return;
    this.#offer(this.#hold.measured(measured, this.#clock.now()));
  }

  /** `identity` cannot speak any more (its last microphone closed, it left): drop it now. */
  forget(identity: string): void {
    if (this.#closed || !this.#hold.forget(identity)) return;
    this.#offer(this.#hold.at(this.#clock.now()));
  }

  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#sendTimer);
    this.#clock.clearTimeout(this.#lapseTimer);
    this.#sendTimer = undefined;
    this.#lapseTimer = undefined;
  }

  #offer(speakers: Speaker[]): void {
    this.#latest = speakers;
    this.#watchLapse();
    if (this.#sendTimer !== undefined) return; // sent when the interval is up
    const wait = this.#reportedAt + this.#options.intervalMs - this.#clock.now();
    if (wait <= 0) {
      this.#flush();
      return;
    }
    if (!speakersChanged(this.#reported, speakers)) return;
    this.#sendTimer = this.#clock.setTimeout(() => {
      this.#sendTimer = undefined;
      this.#flush();
    }, wait);
  }

  /** Measurements stop coming in silence: a timer drops the held speakers when they lapse. */
  #watchLapse(): void {
    this.#clock.clearTimeout(this.#lapseTimer);
    this.#lapseTimer = undefined;
    const lapse = this.#hold.nextLapse;
    if (lapse === undefined) return;
    this.#lapseTimer = this.#clock.setTimeout(
      () => {
        this.#lapseTimer = undefined;
        if (!this.#closed) this.#offer(this.#hold.at(this.#clock.now()));
      },
      Math.max(0, lapse - this.#clock.now()) + 1,
    );
  }

  #flush(): void {
    if (this.#closed || !speakersChanged(this.#reported, this.#latest)) return;
    this.#reported = this.#latest;
    this.#reportedAt = this.#clock.now();
    this.#options.send(this.#latest);
  }
}
