import type { ChatMessage } from '@livestage/protocol';

/** Ids remembered beyond the history, so that a host can still delete a message on screen. */
const KNOWN_IDS_PER_KEPT_MESSAGE = 20;

/**
 * A room's last `size` messages, oldest first, for newcomers. Private messages are never kept.
 * It also remembers the ids of many more recent messages (room and private alike), and whether
 * each was deleted, to tell a deletion of a message on screen from one of an id nobody ever saw
 * (or one already deleted).
 */
export class ChatHistory {
  readonly #size: number;
  #messages: ChatMessage[] = [];
  /** Recent ids, oldest first: true once deleted (a deleted message is never taken back). */
  readonly #known = new Map<string, boolean>();
  readonly #knownLimit: number;

  constructor(size: number) {
    this.#size = size;
    this.#knownLimit = Math.max(1, size) * KNOWN_IDS_PER_KEPT_MESSAGE;
  }

  /** Keeps a room message (a private one is only remembered by id); a known id is ignored. */
  add(message: ChatMessage): void {
    if (this.#known.has(message.id)) return;
    this.#remember(message.id);
    if (message.to !== undefined || this.#size === 0) return;
    this.#messages.push(message);
    if (this.#messages.length > this.#size) this.#messages.shift();
  }

  /**
   * Drops a message from the history; false if its id was never seen (or long forgotten) or the
   * message was deleted already.
   */
  remove(id: string): boolean {
    const deletable = this.isDeletable(id);
    this.#messages = this.#messages.filter((message) => message.id !== id);
    if (this.#known.has(id)) this.#known.set(id, true);
    return deletable;
  }

  /** Was a message of this id seen (deleted or not)? */
  knows(id: string): boolean {
    return this.#known.has(id);
  }

  /** A message seen and not deleted yet (maybe no longer in the history, but on screens). */
  isDeletable(id: string): boolean {
    return this.#known.get(id) === false;
  }

  /** Oldest first; a copy. */
  list(): ChatMessage[] {
    return [...this.#messages];
  }

  /**
   * Takes the history another node kept (the cluster's, oldest first) under what this one heard
   * since: messages heard here and missing there follow, in the order heard. A message this one
   * saw deleted stays deleted.
   */
  restore(stored: readonly ChatMessage[]): void {
    const heard = this.#messages;
    this.#messages = [];
    const ids = new Set<string>();
    for (const message of [...stored, ...heard]) {
      if (ids.has(message.id) || this.#known.get(message.id) === true) continue;
      ids.add(message.id);
      if (!this.#known.has(message.id)) this.#remember(message.id);
      if (message.to === undefined) this.#messages.push(message);
    }
    this.#messages = this.#messages.slice(Math.max(0, this.#messages.length - this.#size));
  }

  #remember(id: string): void {
    this.#known.set(id, false);
    if (this.#known.size > this.#knownLimit) {
      // Maps iterate in insertion order: the first is the oldest.
      const oldest = this.#known.keys().next().value;
      if (oldest !== undefined) this.#known.delete(oldest);
    }
  }
}
