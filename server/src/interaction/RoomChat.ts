import { randomBytes } from 'node:crypto';
import type { ChatMessage, ChatState } from '@livestage/protocol';
import type { InteractionLimits } from '../config/config.js';
import { AppError } from '../errors.js';
import type { Participant } from '../rooms/Participant.js';
import { ChatBatcher } from './ChatBatcher.js';
import { AudienceBudget } from './AudienceBudget.js';
import { ChatHistory } from './ChatHistory.js';
import {
  isAddressable,
  isInRoom,
  localRecipients,
  type InteractionMessage,
  type InteractionRoom,
  type InteractionSend,
} from './messages.js';

export interface RoomChatDeps {
  room: InteractionRoom;
  limits: InteractionLimits;
  send: InteractionSend;
  /** Observers: a message accepted, or refused by the flood budget. */
  onAccepted?: () => void;
  onShed?: () => void;
  now?: () => number;
}

type ChatEvent = Extract<InteractionMessage, { type: 'chat' | 'chatDeleted' | 'chatMuted' }>;

/**
 * A room's chat: who may say what (mutes, flood budget, private targets), the history newcomers
 * get, and delivery to this node's participants. What it accepts goes through `send` to every
 * node of the room (this one included) and is applied by `apply`, so that all nodes deliver the
 * same messages in the same order.
 */
export class RoomChat {
  readonly #deps: RoomChatDeps;
  readonly #history: ChatHistory;
  readonly #budget: AudienceBudget;
  readonly #batcher: ChatBatcher;
  /** Identities whose chat a host muted; kept while the room lives, across rejoins. */
  readonly #muted = new Set<string>();
  readonly #now: () => number;

  constructor(deps: RoomChatDeps) {
    const { limits } = deps;
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    this.#history = new ChatHistory(limits.chatHistorySize);
    this.#budget = new AudienceBudget({
      roomBudget: limits.chatRoomBudget,
      windowMs: limits.chatBudgetWindowMs,
      senderPerSecond: limits.chatSenderPerSecond,
    });
    this.#batcher = new ChatBatcher({
      batchMs: limits.chatBatchMs,
      shouldBatch: () => this.#localCount() > limits.chatBatchMinParticipants,
      deliver: (messages) => this.#deliver(messages),
    });
  }

  get historySize(): number {
    return this.#deps.limits.chatHistorySize;
  }

  /** The room's last messages, oldest first. */
  history(): ChatMessage[] {
    return this.#history.list();
  }

  isMuted(identity: string): boolean {
    return this.#muted.has(identity);
  }

  /** A muted participant's chat, reactions and data messages are refused (FORBIDDEN). */
  requireUnmuted(participant: Participant): void {
    if (this.isMuted(participant.identity)) {
      throw new AppError('FORBIDDEN', 'a host muted your chat');
    }
  }

  /**
   * What the join reply says about chat. Messages still waiting for their batch are left out of
   * the history: the joiner gets them with that batch, once, in order after the history.
   */
  stateFor(participant: Participant): ChatState {
    const pending = this.#batcher.pendingIds();
    const history = this.#history.list();
    return {
      history: pending.size > 0 ? history.filter((message) => !pending.has(message.id)) : history,
      historySize: this.historySize,
      muted: this.isMuted(participant.identity),
    };
  }

  /** The text passed the protocol's schema; the access check (canChat) was made. */
  async send(participant: Participant, text: string, to?: string): Promise<ChatMessage> {
    this.requireUnmuted(participant);
    if (to !== undefined && !isAddressable(this.#deps.room, to)) {
      throw new AppError('NOT_FOUND', 'no such participant');
    }
    const now = this.#now();
    try {
      this.#budget.charge(participant, now);
    } catch (error) {
      this.#deps.onShed?.();
      throw error;
    }
    const info = participant.info();
    const message: ChatMessage = {
      id: randomBytes(12).toString('base64url'),
      from: participant.identity,
      name: info.name,
      role: info.role,
      text,
      ...(to !== undefined ? { to } : {}),
      sentAt: now,
    };
    await this.#deps.send({ type: 'chat', message });
    this.#deps.onAccepted?.();
    return message;
  }

  /** A host (or 'admin') deletes a message: it leaves the history and every screen. */
  async delete(id: string, by: string): Promise<void> {
    if (!this.#history.isDeletable(id)) throw new AppError('NOT_FOUND', 'no such message');
    await this.#deps.send({ type: 'chatDeleted', id, by });
  }

  /** Hosts' messages always pass: a host's chat cannot be muted. */
  async mute(identity: string, muted: boolean): Promise<void> {
    if (!isInRoom(this.#deps.room, identity)) {
      throw new AppError('NOT_FOUND', 'no such participant');
    }
    if (this.#deps.room.participants.get(identity)?.role === 'host') {
      throw new AppError('FORBIDDEN', "a host's chat cannot be muted");
    }
    await this.#deps.send({ type: 'chatMuted', identity, muted });
  }

  /** In a cluster: the history and mutes the cluster kept (this node's room just started). */
  restore(history: readonly ChatMessage[], muted: readonly string[]): void {
    this.#history.restore(history);
    for (const identity of muted) this.#muted.add(identity);
  }

  /** A chat event every node of the room applies to its own participants. */
  apply(event: ChatEvent): void {
    switch (event.type) {
      case 'chat':
        if (this.#history.knows(event.message.id)) return;
        this.#history.add(event.message);
        this.#batcher.push(event.message);
        return;
      case 'chatDeleted': {
        // Deleted twice at once (two hosts, two nodes): the screens were told the first time.
        if (this.#history.knows(event.id) && !this.#history.isDeletable(event.id)) return;
        this.#history.remove(event.id);
        // Still waiting for its batch: it never goes out (those who got it drop it when told).
        this.#batcher.remove(event.id);
        const deleted = { id: event.id, by: event.by };
        for (const participant of localRecipients(this.#deps.room)) {
          participant.emit('chatMessageDeleted', deleted);
        }
        return;
      }
      case 'chatMuted': {
        if (event.muted) this.#muted.add(event.identity);
        else this.#muted.delete(event.identity);
        const muted = { identity: event.identity, muted: event.muted };
        for (const participant of localRecipients(this.#deps.room)) {
          if (participant.identity === event.identity || participant.role === 'host') {
            participant.emit('chatMuted', muted);
          }
        }
        return;
      }
    }
  }

  close(): void {
    this.#batcher.close();
  }

  /** One write per recipient: the batch, less the private messages that are not theirs. */
  #deliver(messages: ChatMessage[]): void {
    const hasPrivate = messages.some((message) => message.to !== undefined);
    for (const participant of localRecipients(this.#deps.room)) {
      const mine = hasPrivate
        ? messages.filter(
            (m) =>
              m.to === undefined ||
              m.to === participant.identity ||
              m.from === participant.identity,
          )
        : messages;
      if (mine.length > 0) participant.emit('chatMessages', mine);
    }
  }

  #localCount(): number {
    let count = 0;
    for (const participant of this.#deps.room.participants.values()) {
      if (!participant.remote) count += 1;
    }
    return count;
  }
}
