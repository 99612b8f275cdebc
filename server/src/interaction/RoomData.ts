import type { DataMessage } from '@livestage/protocol';
import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';
import { KeyedRate } from './KeyedRate.js';
import {
  isInRoom,
  localRecipients,
  type InteractionMessage,
  type InteractionRoom,
  type InteractionSend,
} from './messages.js';

export interface RoomDataDeps {
  room: InteractionRoom;
  perSecond: number;
  send: InteractionSend;
  now?: () => number;
}

const SECOND_MS = 1_000;

/**
 * Applications' data messages (gifts, polls, cues): rate-limited per sender, to the room or to
 * some participants, never back to the sender. A participant's requests run one at a time and
 * every node delivers in the room channel's order, so one sender's messages arrive in order.
 */
export class RoomData {
  readonly #deps: RoomDataDeps;
  readonly #senders: KeyedRate;
  readonly #now: () => number;

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
    const to = request.to && [...new Set(request.to)];
    if (to?.some((identity) => !isInRoom(this.#deps.room, identity))) {
      throw new AppError('NOT_FOUND', 'no such participant');
    }
    if (!this.#senders.take(participant.identity, this.#now())) {
      throw new AppError(
        'RATE_LIMITED',
        `at most ${this.#deps.perSecond} data messages per second`,
      );
    }
    const message: DataMessage = {
      from: participant.identity,
      topic: request.topic,
      payload: request.payload,
      ...(to ? { to } : {}),
    };
    await this.#deps.send({ type: 'data', message });
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
