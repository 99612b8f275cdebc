import type { DataMessage } from './protocol.js';
import type { RoomContext } from './roomContext.js';

export interface SendDataOptions {
  /** What the message is about, for the receiving app (1–64 characters): "poll", "gift"… */
  topic: string;
  /** Only these participants; the whole room (but the sender) otherwise. */
  to?: string[];
}

/**
 * How long after the previous node delivered a data message during a move the new node's copy of
 * it may come (both nodes deliver what was sent once the new one had this participant).
 */
export const MOVE_ECHO_WINDOW_MS = 5000;

interface Delivered {
  key: string;
  at: number;
}

/**
 * Applications' own messages (gifts, polls, cues) through the room, in order per sender.
 *
 * During a move the previous node is heard until the new one answers the join, so that nothing
 * sent meanwhile is lost; what was sent after the new node had this participant then comes from
 * both. Data messages have no id: a message from the new node is taken for a copy when it is
 * the same (sender, topic, payload, recipients) as one the previous node delivered during the
 * move, at most MOVE_ECHO_WINDOW_MS before, and later in that sender's order than the last copy
 * found. A sender repeating the very same message within that window of a move may thus lose
 * one repetition; nothing is told twice.
 */
export class DataMessages {
  readonly #context: RoomContext;
  /** By sender: what the previous node delivered during a move and no copy matched yet. */
  readonly #fromPreviousNode = new Map<string, Delivered[]>();

  constructor(context: RoomContext) {
    this.#context = context;
    context.signaling.on('dataReceived', (message) => {
      if (!this.#isCopy(message)) context.emit('dataReceived', message);
    });
    context.signaling.onPreviousDuringMove('dataReceived', (message) => {
      const delivered = this.#fromPreviousNode.get(message.from) ?? [];
      delivered.push({ key: keyOf(message), at: Date.now() });
      this.#fromPreviousNode.set(message.from, delivered);
      context.emit('dataReceived', message);
    });
  }

  async send(payload: string, options: SendDataOptions): Promise<void> {
    const { topic, to } = options;
    const request = to === undefined ? { topic, payload } : { topic, payload, to };
    await this.#context.signaling.request('sendData', request);
  }

  /**
   * The new node's copy of a message the previous one delivered. A sender's messages come in
   * its order from both nodes: once one from the new node is not a copy, none after it is.
   */
  #isCopy(message: DataMessage): boolean {
    const delivered = this.#fromPreviousNode.get(message.from);
    if (delivered === undefined) return false;
    const since = Date.now() - MOVE_ECHO_WINDOW_MS;
    const key = keyOf(message);
    const index = delivered.findIndex((d) => d.at >= since && d.key === key);
    if (index < 0) {
      this.#fromPreviousNode.delete(message.from);
      return false;
    }
    delivered.splice(0, index + 1);
    if (delivered.length === 0) this.#fromPreviousNode.delete(message.from);
    return true;
  }
}

function keyOf({ topic, payload, to }: DataMessage): string {
  return JSON.stringify([topic, payload, to ?? null]);
}
