import type { Role } from '@livestage/protocol';
import { AppError } from '../errors.js';
import { KeyedRate } from './KeyedRate.js';

export interface ChatBudgetLimits {
  /** Audience messages per window, for the whole room. */
  roomBudget: number;
  windowMs: number;
  /** One audience member's messages per second. */
  senderPerSecond: number;
}

const SECOND_MS = 1_000;

/**
 * Flood shedding for one room's chat. Hosts' and guests' messages always pass and use none of
 * the audience's budget (the stage is what the room is about). An audience message must pass
 * its sender's own limit, then the room's budget for the current window; otherwise it is
 * refused with RATE_LIMITED, and counted against neither.
 */
export class ChatBudget {
  readonly #limits: ChatBudgetLimits;
  readonly #senders: KeyedRate;
  #windowStart = Number.NEGATIVE_INFINITY;
  #used = 0;

  constructor(limits: ChatBudgetLimits) {
    this.#limits = limits;
    this.#senders = new KeyedRate(limits.senderPerSecond, SECOND_MS);
  }

  /** Charges one message of `sender`; throws RATE_LIMITED when over a budget. */
  charge(sender: { identity: string; role: Role }, now: number): void {
    if (sender.role !== 'audience') return;
    if (now - this.#windowStart >= this.#limits.windowMs) {
      this.#windowStart = now;
      this.#used = 0;
    }
    if (this.#used >= this.#limits.roomBudget) {
      throw new AppError('RATE_LIMITED', 'the room has too many messages right now; try again');
    }
    if (!this.#senders.take(sender.identity, now)) {
      throw new AppError(
        'RATE_LIMITED',
        `at most ${this.#limits.senderPerSecond} messages per second`,
      );
    }
    this.#used += 1;
  }
}
