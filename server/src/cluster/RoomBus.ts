import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';

export const roomChannel = (room: string) => `livestage:room:${room}`;

export interface BusMessage<T = unknown> {
  /** The node that published it. */
  from: string;
  body: T;
}

type Listener = (message: BusMessage) => void;

/**
 * The rooms' channels (Redis pub/sub), one per room: what one node publishes on it reaches every
 * node with the room, itself included, in the one order Redis gives them.
 */
export class RoomBus {
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #nodeId: string;
  readonly #listeners = new Map<string, Listener>();
  readonly #log: Logger;

  constructor(publisher: Redis, subscriber: Redis, nodeId: string, log: Logger) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#nodeId = nodeId;
    this.#log = log;
    subscriber.on('message', (channel: string, raw: string) => {
      const listener = this.#listeners.get(channel);
      if (!listener) return;
      let message: BusMessage;
      try {
        message = JSON.parse(raw) as BusMessage;
      } catch {
        this.#log.warn('unreadable room bus message', { channel });
        return;
      }
      try {
        listener(message);
      } catch (error) {
        this.#log.error('room bus listener failed', { channel, error: String(error) });
      }
    });
  }

  async subscribe(room: string, listener: Listener): Promise<void> {
    const channel = roomChannel(room);
    this.#listeners.set(channel, listener);
    await this.#subscriber.subscribe(channel);
  }

  unsubscribe(room: string): void {
    const channel = roomChannel(room);
    this.#listeners.delete(channel);
    void this.#subscriber.unsubscribe(channel).catch(() => undefined);
  }

  /** The envelope every message on a room's channel has. */
  envelope(body: unknown): string {
    return JSON.stringify({ from: this.#nodeId, body } satisfies BusMessage);
  }

  async publish(room: string, body: unknown): Promise<void> {
    await this.#publisher.publish(roomChannel(room), this.envelope(body));
  }
}
