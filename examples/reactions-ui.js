// Reactions on the example pages: a bar of emoji buttons (viewer) and the counts the room sent
// (host). The server adds reactions up and sends counts about once a second.
import { act, el, errorText } from './stage-ui.js';

/** The emoji buttons: `onError` hears a refusal (RATE_LIMITED when clicked too fast). */
export class ReactionBar {
  #room = null;
  #buttons;

  constructor(container, onError) {
    this.#buttons = window.Livestage.REACTIONS.map((emoji) => {
      const button = el('button', { className: 'reaction secondary', dataset: { emoji } }, emoji);
      button.setAttribute('aria-label', `React with ${emoji}`);
      button.addEventListener('click', () =>
        act(
          button,
          () => this.#room?.sendReaction(emoji),
          (error) => onError(errorText(error)),
        ),
      );
      return button;
    });
    container.replaceChildren(...this.#buttons);
    this.#enable(false);
  }

  attach(room) {
    this.#room = room;
    room.on('disconnected', () => {
      this.#room = null;
      this.#enable(false);
    });
    this.#enable(true);
  }

  #enable(enabled) {
    for (const button of this.#buttons) button.disabled = !enabled;
  }
}

/** Every reaction since going live, per emoji, most first; the latest second's stand out. */
export class ReactionCounts {
  #list;
  #totals = new Map();

  constructor(list) {
    this.#list = list;
    this.#render(new Set());
  }

  attach(room) {
    this.#totals.clear();
    room.on('reactions', (counts) => {
      for (const [emoji, count] of Object.entries(counts)) {
        this.#totals.set(emoji, (this.#totals.get(emoji) ?? 0) + count);
      }
      this.#render(new Set(Object.keys(counts)));
    });
    this.#render(new Set());
  }

  #render(fresh) {
    const rows = [...this.#totals].sort((a, b) => b[1] - a[1]);
    if (rows.length === 0) {
      this.#list.replaceChildren(el('li', { className: 'empty status' }, 'No reactions yet.'));
      return;
    }
    this.#list.replaceChildren(
      ...rows.map(([emoji, total]) =>
        el(
          'li',
          {
            className: fresh.has(emoji) ? 'fresh' : '',
            dataset: { emoji },
            'aria-label': `${emoji} ${total}`,
          },
          el('span', { className: 'emoji', 'aria-hidden': 'true' }, emoji),
          el('span', { className: 'count' }, String(total)),
        ),
      ),
    );
  }
}
