import { DEFAULT_CHAT_HISTORY_SIZE, type ChatMessage, type ChatState } from './protocol.js';
import type { RoomContext } from './roomContext.js';

export interface SendChatOptions {
  /** A private message to this participant (the sender sees it too); the room otherwise. */
  to?: string;
}

/** Ids remembered beyond the history, so that a replayed or re-sent message is never told twice. */
const SEEN_IDS_PER_KEPT_MESSAGE = 20;

/**
 * The room's chat as this client sees it: the history (from the join reply, kept up to date),
 * each message told to the app once, deletions, and whether a host muted this client's chat.
 */
export class Chat {
  readonly #context: RoomContext;
  /** Oldest first (by the server's sentAt); the room's messages and this client's private ones. */
  #history: ChatMessage[] = [];
  readonly #seen = new Set<string>();
  /** The server's history size as far as this client can tell (at least the default). */
  #size = DEFAULT_CHAT_HISTORY_SIZE;
  #muted = false;
  #joined = false;

  constructor(context: RoomContext) {
    this.#context = context;
    const { signaling, emit, localParticipant } = context;
    // One message or, in a busy room, a batch: the app hears each one.
    signaling.on('chatMessages', (messages) => {
      for (const message of messages) this.#take(message);
    });
    signaling.on('chatMessageDeleted', ({ id, by }) => {
      this.#remember(id); // a late copy must not bring it back
      this.#history = this.#history.filter((message) => message.id !== id);
      emit('chatMessageDeleted', id, by);
    });
    signaling.on('chatMuted', ({ identity, muted }) => {
      if (identity === localParticipant.identity) this.#muted = muted;
      emit('chatMuted', identity, muted);
    });
  }

  /** Oldest first: the room's last messages and this client's private ones (a copy). */
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
    this.#take(message);
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
   * messages (what was deleted meanwhile is gone); this client's private messages, which the
   * server does not keep, stay; messages missed while away are told to the app, none twice.
   */
  reset(chat: ChatState): void {
    const tell = this.#joined;
    this.#joined = true;
    this.#size = Math.max(DEFAULT_CHAT_HISTORY_SIZE, chat.history.length);
    const room = new Set(chat.history.map((message) => message.id));
    const privates = this.#history.filter((m) => m.to !== undefined && !room.has(m.id));
    this.#history = trimmed(mergeBySentAt(chat.history, privates), this.#size);
    for (const message of this.#history) {
      if (this.#seen.has(message.id)) continue;
      this.#remember(message.id);
      if (tell) this.#context.emit('chatMessage', message);
    }
    const wasMuted = this.#muted;
    this.#muted = chat.muted;
    if (tell && wasMuted !== chat.muted) {
      this.#context.emit('chatMuted', this.#context.localParticipant.identity, chat.muted);
    }
  }

  #take(message: ChatMessage): void {
    if (this.#seen.has(message.id)) return;
    this.#remember(message.id);
    insertBySentAt(this.#history, message);
    this.#history = trimmed(this.#history, this.#size);
    this.#context.emit('chatMessage', message);
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size > this.#size * SEEN_IDS_PER_KEPT_MESSAGE) {
      // Sets iterate in insertion order: the first is the oldest.
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
  }
}

/** After the last message sent no later (a batch may bring messages older than an ack's). */
function insertBySentAt(history: ChatMessage[], message: ChatMessage): void {
  let index = history.length;
  while (index > 0 && history[index - 1]!.sentAt > message.sentAt) index -= 1;
  history.splice(index, 0, message);
}

/** Two lists each oldest first, as one; on a tie `first`'s message comes first. */
function mergeBySentAt(first: readonly ChatMessage[], second: readonly ChatMessage[]) {
  const merged: ChatMessage[] = [];
  let i = 0;
  let j = 0;
  while (i < first.length || j < second.length) {
    const a = first[i];
    const b = second[j];
    if (b === undefined || (a !== undefined && a.sentAt <= b.sentAt)) {
      merged.push(a!);
      i += 1;
    } else {
      merged.push(b);
      j += 1;
    }
  }
  return merged;
}

function trimmed(history: ChatMessage[], size: number): ChatMessage[] {
  return history.length > size ? history.slice(history.length - size) : history;
}
