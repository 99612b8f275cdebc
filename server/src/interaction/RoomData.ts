import type { DataMessage } from '@livestage/protocol';
import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';
import { KeyedRate } from './KeyedRate.js';
import {
  isAddressable,
  localRecipients,
  type InteractionMessage,
  type InteractionRoom,
  type InteractionSend,
} from './messages.js';

export interface RoomDataDeps {
  room: InteractionRoom;
  /** One sender's data messages per second. */
  perSecond: number;
  /** The whole audience's data messages per second (per node in a cluster). */
  roomPerSecond: number;
  /** Throws FORBIDDEN when a host muted the sender's chat (which covers its data messages). */
  requireUnmuted: (participant: Participant) => void;
  send: InteractionSend;
  now?: () => number;
}

const SECOND_MS = 1_000;

/**
 * Applications' data messages (gifts, polls, cues): rate-limited per sender, to the room or to
 * some participants, never back to the sender. A participant's requests run one at a time and
 * every node delivers in the room channel's order, so one sender's messages arrive in order.
 * The audience as a whole also shares a room budget per second (each message may reach every
 * viewer); hosts' and guests' messages do not use it, like chat's (ChatBudget).
 */
export class RoomData {
  readonly #deps: RoomDataDeps;
  readonly #senders: KeyedRate;
  readonly #now: () => number;
  #roomWindowStart = Number.NEGATIVE_INFINITY;
  #roomUsed = 0;

  constructor(deps: RoomDataDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#senders = new KeyedRate(deps.perSecond, SECOND_MS);
  }

  /** The request passed the protocol's schema (topic, size, at most 64 targets). */
  async send(
    participant: Participant,
    request: { topic: string; payload: string; to?: string[] },
  ): Promise<void> {
    this.#deps.requireUnmuted(participant);
    const to = request.to && [...new Set(request.to)];
    if (to?.some((identity) => !isAddressable(this.#deps.room, identity))) {
      throw new AppError('NOT_FOUND', 'no such participant');
    }
    this.#charge(participant, this.#now());
    const message: DataMessage = {
      from: participant.identity,
      topic: request.topic,
      payload: request.payload,
      ...(to ? { to } : {}),
    };
    await this.#deps.send({ type: 'data', message });
  }

  /** Throws RATE_LIMITED over a budget; a refused message counts against neither. */
  #charge(participant: Participant, now: number): void {
    const audience = participant.role === 'audience';
    if (audience) {
      if (now - this.#roomWindowStart >= SECOND_MS) {
        this.#roomWindowStart = now;
        this.#roomUsed = 0;
      }
      if (this.#roomUsed >= this.#deps.roomPerSecond) {
        throw new AppError('RATE_LIMITED', 'the room has too many data messages right now');
      }
    }
    if (!this.#senders.take(participant.identity, now)) {
      throw new AppError(
        'RATE_LIMITED',
        `at most ${this.#deps.perSecond} data messages per second`,
      );
    }
    if (audience) this.#roomUsed += 1;
  }

  apply({ message }: Extract<InteractionMessage, { type: 'data' }>): void {
    const to = message.to && new Set(message.to);
    for (const participant of localRecipients(this.#deps.room)) {
      if (participant.identity === message.from) continue;
      if (to && !to.has(participant.identity)) continue;
      participant.emit('dataReceived', message);
    }
  }
}
