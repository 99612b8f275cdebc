import type { DataMessage } from '@livestage/protocol';
import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';
import { AudienceBudget } from './AudienceBudget.js';
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
 * viewer); hosts' and guests' messages do not use it, like chat's (AudienceBudget).
 */
export class RoomData {
  readonly #deps: RoomDataDeps;
  readonly #budget: AudienceBudget;
  readonly #now: () => number;

  constructor(deps: RoomDataDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#budget = new AudienceBudget({
      roomBudget: deps.roomPerSecond,
      windowMs: SECOND_MS,
      senderPerSecond: deps.perSecond,
      stageSendersLimited: true,
      what: 'data messages',
    });
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
    this.#budget.charge(participant, this.#now());
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
