// The chat panel of the host and viewer pages: the room's history on join, each new message,
// deletions, and an input. Messages are plain text and always rendered as text (textContent),
// never as HTML. With `moderate` (the host page) each message can be deleted and its sender's
// chat muted.
import { act, el, errorText } from './stage-ui.js';

export class ChatPanel {
  #room = null;
  #list;
  #form;
  #input;
  #send;
  #status;
  #moderate;
  /** Hosts: whose chat is muted, as the server told (chatMuted). */
  #mutedChat = new Set();

  /**
   * @param ids element ids: { list, form, input, send, status }
   * @param options.moderate show Delete and Mute on each message (hosts)
   */
  constructor(ids, { moderate = false } = {}) {
    const $ = (id) => document.getElementById(id);
    this.#list = $(ids.list);
    this.#form = $(ids.form);
    this.#input = $(ids.input);
    this.#send = $(ids.send);
    this.#status = $(ids.status);
    this.#moderate = moderate;
    this.#input.maxLength = window.Livestage.MAX_CHAT_TEXT_LENGTH;
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.#sendTyped();
    });
    this.#updateInput();
  }

  attach(room) {
    this.#room = room;
    this.#mutedChat.clear();
    room.on('chatMessage', (message) => {
      this.#list.querySelector(':scope > li.empty')?.remove();
      const stick = this.#atBottom();
      this.#list.append(this.#item(message));
      if (stick) this.#scrollToEnd();
    });
    room.on('chatMessageDeleted', (id) => {
      for (const li of this.#list.querySelectorAll(':scope > li[data-id]')) {
        if (li.dataset.id === id) li.remove();
      }
      this.#showEmpty();
    });
    room.on('chatMuted', (identity, muted) => {
      if (muted) this.#mutedChat.add(identity);
      else this.#mutedChat.delete(identity);
      if (identity === room.localParticipant.identity) {
        this.say(muted ? 'A host muted your chat.' : 'A host unmuted your chat.');
      } else {
        this.say(`${this.#nameOf(identity)}'s chat is ${muted ? 'muted' : 'unmuted'}.`);
      }
      this.#updateMuteButtons();
      this.#updateInput();
    });
    // After a rejoin the history is the server's again (deleted messages gone, missed ones in).
    room.on('reconnected', () => this.render());
    room.on('disconnected', () => {
      this.#room = null;
      this.#updateInput();
    });
    this.render();
  }

  say(text) {
    this.#status.textContent = text;
  }

  render() {
    const room = this.#room;
    this.#list.replaceChildren(...(room ? room.chatHistory.map((m) => this.#item(m)) : []));
    this.#showEmpty();
    this.#updateInput();
    this.#scrollToEnd();
  }

  async #sendTyped() {
    const text = this.#input.value.trim();
    const room = this.#room;
    if (!text || !room) return;
    await act(
      this.#send,
      async () => {
        await room.sendChatMessage(text);
        this.#input.value = '';
        this.say('');
      },
      (error) => this.say(`not sent: ${errorText(error)}`),
    );
    this.#updateInput();
    this.#input.focus();
  }

  #item(message) {
    const self = this.#room?.localParticipant.identity;
    const mine = message.from === self;
    const time = new Date(message.sentAt);
    const meta = el(
      'div',
      { className: 'meta' },
      el('strong', { className: 'name' }, mine ? `${message.name} (you)` : message.name),
      el('span', { className: `role role-${message.role}` }, message.role),
      el(
        'time',
        { className: 'status', dateTime: time.toISOString() },
        time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
      ),
    );
    if (message.to !== undefined) {
      const to = message.to === self ? 'to you' : `to ${this.#nameOf(message.to)}`;
      meta.append(el('span', { className: 'status private' }, `private, ${to}`));
    }
    const item = el(
      'li',
      { className: mine ? 'mine' : '', dataset: { id: message.id, from: message.from } },
      meta,
      // textContent: whatever the text looks like, it shows as typed.
      el('p', { className: 'text' }, message.text),
    );
    if (this.#moderate) item.append(this.#actions(message, mine));
    return item;
  }

  #actions(message, mine) {
    const remove = el('button', { className: 'delete danger' }, 'Delete');
    remove.setAttribute('aria-label', `Delete ${message.name}'s message`);
    remove.addEventListener('click', () =>
      this.#do(remove, () => this.#room.deleteChatMessage(message.id)),
    );
    const actions = el('div', { className: 'actions' }, remove);
    if (!mine && message.role !== 'host') {
      const mute = el('button', { className: 'mute-chat secondary' });
      mute.addEventListener('click', () =>
        this.#do(mute, () => {
          const muted = this.#mutedChat.has(message.from);
          return this.#room.muteChat(message.from, !muted);
        }),
      );
      actions.append(mute);
      this.#updateMuteButton(mute, message);
    }
    return actions;
  }

  #updateMuteButtons() {
    for (const li of this.#list.querySelectorAll(':scope > li[data-id]')) {
      const mute = li.querySelector('.mute-chat');
      const name = li.querySelector('.name')?.textContent ?? li.dataset.from;
      if (mute) this.#updateMuteButton(mute, { from: li.dataset.from, name });
    }
  }

  #updateMuteButton(button, { from, name }) {
    const muted = this.#mutedChat.has(from);
    button.textContent = muted ? 'Unmute' : 'Mute';
    button.setAttribute('aria-pressed', String(muted));
    button.setAttribute('aria-label', `${muted ? 'Unmute' : 'Mute'} ${name}'s chat`);
  }

  #updateInput() {
    const room = this.#room;
    const canWrite = Boolean(room?.connected) && !room.chatMuted;
    this.#input.disabled = !canWrite;
    this.#send.disabled = !canWrite;
    this.#input.placeholder = !room
      ? 'Join to chat'
      : room.chatMuted
        ? 'A host muted your chat'
        : 'Say something…';
  }

  #showEmpty() {
    const empty = this.#list.querySelector(':scope > li.empty');
    const hasMessages = this.#list.querySelector(':scope > li[data-id]') !== null;
    if (hasMessages) empty?.remove();
    else if (!empty) this.#list.append(el('li', { className: 'empty' }, 'No messages yet.'));
  }

  #atBottom() {
    const list = this.#list;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  #scrollToEnd() {
    this.#list.scrollTop = this.#list.scrollHeight;
  }

  #do(button, action) {
    return act(button, action, (error) => this.say(`failed: ${errorText(error)}`));
  }

  #nameOf(identity) {
    const room = this.#room;
    if (identity === room?.localParticipant.identity) return 'you';
    return room?.participants.get(identity)?.name ?? identity;
  }
}
