import type { Reaction } from './protocol.js';
import type { RoomContext } from './roomContext.js';

/** Reactions: sent one at a time, heard as the room's counts about once a second. */
export class Reactions {
  readonly #context: RoomContext;

  constructor(context: RoomContext) {
    this.#context = context;
    context.signaling.on('reactions', ({ counts, windowMs }) =>
      context.emit('reactions', counts, windowMs),
    );
  }

  async send(emoji: Reaction): Promise<void> {
    await this.#context.signaling.request('sendReaction', { emoji });
  }
}
