import type { ChatMessage } from '@livestage/protocol';

export interface ChatBatcherOptions {
  batchMs: number;
  /** Asked at each message: is the room large enough to batch? */
  shouldBatch: () => boolean;
  deliver: (messages: ChatMessage[]) => void;
}

/**
 * Chat on its way out. A small room gets each message at once; a large one gets them in batches
 * every `batchMs`, so that a busy room costs one socket write per viewer per batch instead of
 * one per message. Order is kept: while a batch waits, every message joins it.
 */
export class ChatBatcher {
  readonly #options: ChatBatcherOptions;
  #pending: ChatMessage[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ChatBatcherOptions) {
    this.#options = options;
  }

  push(message: ChatMessage): void {
    if (!this.#timer && !this.#options.shouldBatch()) {
      this.#options.deliver([message]);
      return;
    }
    this.#pending.push(message);
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), this.#options.batchMs);
      this.#timer.unref();
    }
  }

  /** A message deleted before its batch left: it never goes out. */
  remove(id: string): void {
    this.#pending = this.#pending.filter((message) => message.id !== id);
  }

  /** The messages accepted and waiting for their batch. */
  pendingIds(): Set<string> {
    return new Set(this.#pending.map((message) => message.id));
  }

  /** Delivers what waits now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#options.deliver(batch);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
  }
}
