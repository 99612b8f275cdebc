import type { Role } from '@livestage/protocol';
import { AppError } from '../errors.js';
import { KeyedRate } from './KeyedRate.js';

export interface AudienceBudgetLimits {
  /** Audience messages per window, for the whole room. */
  roomBudget: number;
  windowMs: number;
  /** One sender's messages per second. */
  senderPerSecond: number;
  /** Whether hosts' and guests' messages are held to `senderPerSecond` too (never to the room's). */
  stageSendersLimited?: boolean;
  /** What is counted, for the refusal's message ('messages', 'data messages'). */
  what?: string;
}

const SECOND_MS = 1_000;

/**
 * Flood shedding for what a room's audience sends (chat, data). Hosts' and guests' messages
 * always pass the room's budget and use none of it (the stage is what the room is about). An
 * audience message must pass its sender's own limit, then the room's budget for the current
 * window; otherwise it is refused with RATE_LIMITED, and counted against neither.
 */
export class AudienceBudget {
  readonly #limits: AudienceBudgetLimits;
  readonly #senders: KeyedRate;
  readonly #what: string;
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;

  constructor(limits: AudienceBudgetLimits) {
    this.#limits = limits;
    this.#what = limits.what ?? 'messages';
    this.#senders = new KeyedRate(limits.senderPerSecond, SECOND_MS);
  }

  /** Charges one message of `sender`; throws RATE_LIMITED when over a budget. */
  charge(sender: { identity: string; role: Role }, now: number): void {
    const audience = sender.role === 'audience';
    if (!audience && !this.#limits.stageSendersLimited) return;
    if (audience) {
      if (now - this.#windowStart >= this.#limits.windowMs) {
        this.#windowStart = now;
        this.#used = 0;
      }
      if (this.#used >= this.#limits.roomBudget) {
        throw new AppError(
          'RATE_LIMITED',
          `the room has too many ${this.#what} right now; try again`,
        );
      }
    }
    if (!this.#senders.take(sender.identity, now)) {
      throw new AppError(
        'RATE_LIMITED',
        `at most ${this.#limits.senderPerSecond} ${this.#what} per second`,
      );
    }
    if (audience) this.#used += 1;
  }
}
