import type { Reaction } from '@livestage/protocol';
import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';
import { KeyedRate } from './KeyedRate.js';
import {
  localRecipients,
  type InteractionMessage,
  type InteractionRoom,
  type InteractionSend,
} from './messages.js';
import { ReactionTally, type Counts } from './ReactionTally.js';

export interface RoomReactionsDeps {
  room: InteractionRoom;
  intervalMs: number;
  perSecond: number;
  /** Throws FORBIDDEN when a host muted the sender's chat (which covers its reactions). */
  requireUnmuted: (participant: Participant) => void;
  send: InteractionSend;
  log: { warn(message: string, meta?: object): void };
  now?: () => number;
}

const SECOND_MS = 1_000;

/**
 * A room's reactions, as counts. Each node counts what its own participants send; every
 * interval it sends its counts to every node of the room (itself included), and tells its
 * participants the sum of what it heard since the last interval, if anything. In one process
 * the counts are heard at once and go out in the same interval; in a cluster, in the next.
 * However many reactions arrive, a participant gets one `reactions` event per interval.
 */
export class RoomReactions {
  readonly #deps: RoomReactionsDeps;
  readonly #mine = new ReactionTally();
  readonly #heard = new ReactionTally();
  readonly #senders: KeyedRate;
  readonly #timer: NodeJS.Timeout;
  readonly #now: () => number;

  constructor(deps: RoomReactionsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#senders = new KeyedRate(deps.perSecond, SECOND_MS);
    this.#timer = setInterval(() => this.#tick(), deps.intervalMs);
    this.#timer.unref();
  }

  /** The emoji passed the protocol's schema (one of REACTIONS). */
  add(participant: Participant, emoji: Reaction): void {
    this.#deps.requireUnmuted(participant);
    if (!this.#senders.take(participant.identity, this.#now())) {
      throw new AppError('RATE_LIMITED', `at most ${this.#deps.perSecond} reactions per second`);
    }
    this.#mine.add(emoji);
  }

  apply(event: Extract<InteractionMessage, { type: 'reactions' }>): void {
    this.#heard.addAll(event.counts);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const mine = this.#mine.take();
    if (mine) {
      this.#deps
        .send({ type: 'reactions', counts: mine })
        .catch((error: unknown) =>
          this.#deps.log.warn('could not share reaction counts', { error: String(error) }),
        );
    }
    const heard = this.#heard.take();
    if (heard) this.#emit(heard);
  }

  #emit(counts: Counts): void {
    const event = { counts, windowMs: this.#deps.intervalMs };
    for (const participant of localRecipients(this.#deps.room)) {
      participant.emit('reactions', event);
    }
  }
}
