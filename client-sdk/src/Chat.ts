import {
  DEFAULT_CHAT_HISTORY_SIZE,
  type ChatMessage,
  type ChatMessageDeleted,
  type ChatMuted,
  type ChatState,
} from './protocol.js';
import type { RoomContext } from './roomContext.js';

export interface SendChatOptions {
  /** A private message to this participant (the sender sees it too); the room otherwise. */
  to?: string;
}

/** Private messages kept in the history (the server keeps none), apart from the room's. */
export const PRIVATE_MESSAGES_KEPT = 50;

/** Ids remembered beyond the history, so that a replayed or re-sent message is never told twice. */
const SEEN_IDS_PER_KEPT_MESSAGE = 20;

/**
 * `by` of a `chatMessageDeleted` the SDK tells itself: after a rejoin or a move, a room message
 * this client had is no longer in the server's history; who deleted it is not known.
 */
export const DELETED_WHILE_AWAY = '';

/**
 * The room's chat as this client sees it: the history (from the join reply, kept up to date),
 * each message told to the app once, deletions, and whether a host muted this client's chat.
 *
 * Order is the order messages arrive in (the room's channel delivers the same order to
 * everyone), and the server's for a join's history; never the senders' node clocks (`sentAt`).
 */
export class Chat {
  readonly #context: RoomContext;
  /** The room's last messages and this client's private ones, in the order described above. */
  #history: ChatMessage[] = [];
  readonly #seen = new RecentIds();
  /** Deletions the app was told (the previous node and the new one both tell during a move). */
  readonly #toldDeleted = new RecentIds();
  /** Mute states the app was told, by identity: the same state is not told twice. */
  readonly #toldMuted = new Map<string, boolean>();
  /**
   * This client's messages told from the send's answer whose copy has not come through the
   * room yet: what the room delivers meanwhile was sent first and goes before them.
   */
  readonly #unconfirmed = new Set<string>();
  /** Room messages the previous node delivered during a move (their copy may come again). */
  readonly #fromPreviousNode = new Set<string>();
  /** The room's history size (the join reply's CHAT_HISTORY_SIZE). */
  #size = DEFAULT_CHAT_HISTORY_SIZE;
  #muted = false;
  #joined = false;

  constructor(context: RoomContext) {
    this.#context = context;
    const { signaling } = context;
    // One message or, in a busy room, a batch: the app hears each one.
    signaling.on('chatMessages', (messages) => {
      for (const message of messages) this.#take(message, 'room');
    });
    signaling.onPreviousDuringMove('chatMessages', (messages) => {
      for (const message of messages) this.#take(message, 'previous node');
    });
    const deleted = ({ id, by }: ChatMessageDeleted) => this.#deleted(id, by);
    const muted = ({ identity, muted }: ChatMuted) => this.#mutedChanged(identity, muted);
    signaling.on('chatMessageDeleted', deleted);
    signaling.onPreviousDuringMove('chatMessageDeleted', deleted);
    signaling.on('chatMuted', muted);
    signaling.onPreviousDuringMove('chatMuted', muted);
  }

  /** The room's messages and this client's private ones, in arrival order (a copy). */
  get history(): ChatMessage[] {
    return [...this.#history];
  }

  /** A host muted this client's chat: sending is refused with FORBIDDEN. */
  get muted(): boolean {
    return this.#muted;
  }

  async send(text: string, options: SendChatOptions = {}): Promise<ChatMessage> {
    const request = options.to === undefined ? { text } : { text, to: options.to };
    const message = await this.#context.signaling.request('sendChatMessage', request);
    // The room's copy may come before or after the ack (batches): whichever is first counts.
    this.#take(message, 'ack');
    return message;
  }

  async delete(id: string): Promise<void> {
    await this.#context.signaling.request('deleteChatMessage', { id });
  }

  async setMuted(identity: string, muted: boolean): Promise<void> {
    await this.#context.signaling.request('muteChat', { identity, muted });
  }

  /**
   * A join's answer. The first is taken silently (the messages were there before the app
   * looked). After a rejoin or a move, the server's history is the truth for the room's
   * messages; this client's private messages, which the server does not keep, stay where they
   * were. Messages missed while away are told to the app, none twice; room messages deleted
   * while away are told deleted (by DELETED_WHILE_AWAY): the app rendered them, and after a
   * move nothing else tells it to render the chat again.
   */
  reset(chat: ChatState): void {
    const rejoined = this.#joined;
    this.#joined = true;
    this.#size = historySizeOf(chat);
    const previous = this.#history;
    const inHistory = new Set(chat.history.map((message) => message.id));
    // Heard from the previous node after this join was sent, or told from a send's answer
    // before the room's copy: they may be newer than the new history (the new node then
    // delivers them again, deduplicated). Kept, never told deleted.
    const mayBeNewer = (message: ChatMessage) =>
      this.#fromPreviousNode.has(message.id) || this.#unconfirmed.has(message.id);
    const deleted = rejoined
      ? deletedWhileAway(previous, chat.history).filter((message) => !mayBeNewer(message))
      : [];
    const kept = previous.filter(
      (message) => !inHistory.has(message.id) && (isPrivate(message) || mayBeNewer(message)),
    );
    this.#history = trimmed(placedAmong(chat.history, kept, previous), this.#size);
    this.#unconfirmed.clear();
    this.#fromPreviousNode.clear();
    for (const message of deleted) this.#deleted(message.id, DELETED_WHILE_AWAY);
    for (const message of chat.history) {
      if (this.#seen.has(message.id)) continue;
      this.#seen.add(message.id, this.#seenLimit);
      if (rejoined) this.#context.emit('chatMessage', message);
    }
    this.#muted = chat.muted;
    const self = this.#context.localParticipant.identity;
    if (rejoined) this.#mutedChanged(self, chat.muted);
    else this.#toldMuted.set(self, chat.muted);
  }

  /**
   * A message from the room's channel (in the room's order), from the send's answer (this
   * client's own, possibly ahead of messages the room sent earlier), or from the previous node
   * during a move.
   */
  #take(message: ChatMessage, source: 'room' | 'ack' | 'previous node'): void {
    if (this.#seen.has(message.id)) {
      if (source !== 'ack') this.#unconfirmed.delete(message.id); // its place stands
      return;
    }
    this.#seen.add(message.id, this.#seenLimit);
    if (source === 'ack') {
      this.#history.push(message);
      this.#unconfirmed.add(message.id);
    } else {
      const firstUnconfirmed = this.#history.findIndex((m) => this.#unconfirmed.has(m.id));
      if (firstUnconfirmed < 0) this.#history.push(message);
      else this.#history.splice(firstUnconfirmed, 0, message);
      if (source === 'previous node') this.#fromPreviousNode.add(message.id);
    }
    this.#history = trimmed(this.#history, this.#size);
    this.#context.emit('chatMessage', message);
  }

  #deleted(id: string, by: string): void {
    this.#seen.add(id, this.#seenLimit); // a late copy must not bring it back
    this.#history = this.#history.filter((message) => message.id !== id);
    if (this.#toldDeleted.has(id)) return;
    this.#toldDeleted.add(id, this.#seenLimit);
    this.#context.emit('chatMessageDeleted', id, by);
  }

  #mutedChanged(identity: string, muted: boolean): void {
    if (identity === this.#context.localParticipant.identity) this.#muted = muted;
    if (this.#toldMuted.get(identity) === muted) return;
    this.#toldMuted.set(identity, muted);
    this.#context.emit('chatMuted', identity, muted);
  }

  get #seenLimit(): number {
    return (
      (Math.max(this.#size, DEFAULT_CHAT_HISTORY_SIZE) + PRIVATE_MESSAGES_KEPT) *
      SEEN_IDS_PER_KEPT_MESSAGE
    );
  }
}

/** Insertion-ordered ids, the oldest forgotten beyond a limit. */
class RecentIds {
  readonly #ids = new Set<string>();

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string, limit: number): void {
    this.#ids.add(id);
    while (this.#ids.size > limit) {
      // Sets iterate in insertion order: the first is the oldest.
      const oldest = this.#ids.values().next().value;
      if (oldest === undefined) break;
      this.#ids.delete(oldest);
    }
  }
}

function isPrivate(message: ChatMessage): boolean {
  return message.to !== undefined;
}

/** The join reply's history size; a server that does not say keeps at least its default. */
function historySizeOf(chat: ChatState): number {
  const size: unknown = chat.historySize;
  if (typeof size === 'number' && Number.isInteger(size) && size >= 0) return size;
  return Math.max(DEFAULT_CHAT_HISTORY_SIZE, chat.history.length);
}

/**
 * Room messages `previous` had that `history` (the new join's) lacks, though newer than its
 * oldest entry: deleted while this client was away. "Newer" is by the order this client had them
 * in (never by clocks), counted from the new history's oldest entry this client also had; with
 * none in common, nothing can be told apart from messages that merely aged out of the history.
 */
function deletedWhileAway(previous: readonly ChatMessage[], history: readonly ChatMessage[]) {
  const inHistory = new Set(history.map((message) => message.id));
  const start = previous.findIndex((message) => inHistory.has(message.id));
  if (start < 0) return [];
  return previous
    .slice(start + 1)
    .filter((message) => !isPrivate(message) && !inHistory.has(message.id));
}

/**
 * `history` in its order, with each of `kept` after the last message of `history` that came
 * before it in `previous` (at the start when none did).
 */
function placedAmong(
  history: readonly ChatMessage[],
  kept: readonly ChatMessage[],
  previous: readonly ChatMessage[],
): ChatMessage[] {
  if (kept.length === 0) return [...history];
  const inHistory = new Set(history.map((message) => message.id));
  const keep = new Set(kept.map((message) => message.id));
  const after = new Map<string | undefined, ChatMessage[]>();
  let anchor: string | undefined;
  for (const message of previous) {
    if (inHistory.has(message.id)) anchor = message.id;
    else if (keep.has(message.id)) after.set(anchor, [...(after.get(anchor) ?? []), message]);
  }
  const placed = [...(after.get(undefined) ?? [])];
  for (const message of history) placed.push(message, ...(after.get(message.id) ?? []));
  return placed;
}

/** The room's `size` last messages and the PRIVATE_MESSAGES_KEPT last private ones, in order. */
function trimmed(history: ChatMessage[], size: number): ChatMessage[] {
  const privates = history.filter(isPrivate).length;
  let roomExcess = history.length - privates - size;
  let privateExcess = privates - PRIVATE_MESSAGES_KEPT;
  if (roomExcess <= 0 && privateExcess <= 0) return history;
  return history.filter((message) =>
    isPrivate(message) ? privateExcess-- <= 0 : roomExcess-- <= 0,
  );
}
