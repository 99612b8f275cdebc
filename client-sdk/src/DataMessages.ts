import type { RoomContext } from './roomContext.js';

export interface SendDataOptions {
  /** What the message is about, for the receiving app (1–64 characters): "poll", "gift"… */
  topic: string;
  /** Only these participants; the whole room (but the sender) otherwise. */
  to?: string[];
}

/** Applications' own messages (gifts, polls, cues) through the room, in order per sender. */
export class DataMessages {
  readonly #context: RoomContext;

  constructor(context: RoomContext) {
    this.#context = context;
    context.signaling.on('dataReceived', (message) => context.emit('dataReceived', message));
  }

  async send(payload: string, options: SendDataOptions): Promise<void> {
    const { topic, to } = options;
    const request = to === undefined ? { topic, payload } : { topic, payload, to };
    await this.#context.signaling.request('sendData', request);
  }
}
