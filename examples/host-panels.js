// The host's stage panels: the hand queue, the guests on stage and the audience to invite from.
// Each render follows the room's state; buttons call the SDK and the room's events re-render.
import { act, el, errorText, formatWait, renderList } from './stage-ui.js';

const MIC_AND_CAMERA = ['microphone', 'camera'];

export class HostPanels {
  #room = null;
  #lists;
  #log;
  /** Invitations sent and not answered yet: identity → expiresAt. */
  #invites = new Map();
  #timer;

  /** @param ids element ids: { handQueue, handCount, onStage, guestCount, audience, log } */
  constructor(ids) {
    const $ = (id) => document.getElementById(id);
    this.#lists = {
      hands: $(ids.handQueue),
      handCount: $(ids.handCount),
      onStage: $(ids.onStage),
      guestCount: $(ids.guestCount),
      audience: $(ids.audience),
    };
    this.#log = $(ids.log);
  }

  attach(room) {
    this.#room = room;
    this.#invites.clear();
    const render = () => this.render();
    room.on('handRaised', render);
    room.on('handLowered', (event) => {
      const name = this.#nameOf(event.identity);
      if (event.reason === 'lowered') this.say(`${name} lowered their hand.`);
      if (event.reason === 'expired') this.say(`${name}'s raised hand expired.`);
      render();
    });
    room.on('stageChanged', render);
    room.on('participantJoined', render);
    room.on('participantLeft', render);
    room.on('inviteEnded', ({ identity, reason }) => {
      this.#invites.delete(identity);
      if (reason !== 'accepted') this.say(`Invitation to ${this.#nameOf(identity)}: ${reason}.`);
      render();
    });
    room.on('disconnected', () => this.detach());
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.#tick(), 1000);
    render();
  }

  detach() {
    clearInterval(this.#timer);
    this.#room = null;
    this.#invites.clear();
    this.render();
  }

  say(text) {
    this.#log.textContent = text;
  }

  render() {
    const room = this.#room;
    const hands = room ? room.handQueue : [];
    const guests = room ? room.stage.members.filter((m) => m.role === 'guest') : [];
    const audience = room
      ? [...room.participants.values()].filter((p) => p.role === 'audience')
      : [];
    const lists = this.#lists;
    lists.handCount.textContent = String(hands.length);
    lists.guestCount.textContent = room ? `${guests.length} / ${room.stage.maxGuests}` : '0';
    renderList(lists.hands, hands, {
      create: (hand) => this.#handItem(hand),
      update: (li, hand) => {
        li.querySelector('.name').textContent = hand.name;
        li.querySelector('.message').textContent = hand.message ? `“${hand.message}”` : '';
        li.querySelector('.message').hidden = !hand.message;
        li.dataset.raisedAt = String(hand.raisedAt);
      },
      empty: 'No raised hands.',
    });
    renderList(lists.onStage, guests, {
      create: (member) => this.#guestItem(member),
      update: (li, member) => {
        const hasMic = member.sources.includes('microphone');
        const muted = member.mutedByHost.includes('microphone');
        li.querySelector('.name').textContent = member.name;
        li.querySelector('.detail').textContent = muted
          ? 'mic muted by you'
          : member.sources.join(' + ');
        const mute = li.querySelector('.mute');
        mute.hidden = !hasMic;
        mute.textContent = muted ? 'Unmute mic' : 'Mute mic';
        mute.setAttribute('aria-pressed', String(muted));
        mute.setAttribute('aria-label', `${muted ? 'Unmute' : 'Mute'} ${member.name}'s microphone`);
      },
      empty: 'No guests on stage.',
    });
    renderList(lists.audience, audience, {
      create: (participant) => this.#audienceItem(participant),
      update: (li, participant) => {
        li.querySelector('.name').textContent = participant.name;
        this.#updateInvite(li, participant);
      },
      empty: 'Nobody is watching yet.',
    });
    this.#tick();
  }

  #handItem(hand) {
    const item = el(
      'li',
      {},
      el(
        'div',
        { className: 'who' },
        el('strong', { className: 'name' }),
        el('span', { className: 'waited status' }),
      ),
      el('p', { className: 'message' }),
    );
    const approve = el('button', { className: 'approve' }, 'Approve (mic + camera)');
    approve.setAttribute('aria-label', `Approve ${hand.name} with microphone and camera`);
    approve.addEventListener('click', () =>
      this.#do(approve, `${hand.name} is coming on stage.`, () =>
        this.#room.approveHand(hand.identity, { sources: MIC_AND_CAMERA }),
      ),
    );
    const approveAudio = el('button', { className: 'approve-audio secondary' }, 'Mic only');
    approveAudio.setAttribute('aria-label', `Approve ${hand.name} with microphone only`);
    approveAudio.addEventListener('click', () =>
      this.#do(approveAudio, `${hand.name} is coming on stage (mic only).`, () =>
        this.#room.approveHand(hand.identity, { sources: ['microphone'] }),
      ),
    );
    const deny = el('button', { className: 'deny danger' }, 'Deny');
    deny.setAttribute('aria-label', `Deny ${hand.name}`);
    deny.addEventListener('click', () =>
      this.#do(deny, `Declined ${hand.name}.`, () => this.#room.denyHand(hand.identity)),
    );
    item.append(el('div', { className: 'actions' }, approve, approveAudio, deny));
    return item;
  }

  #guestItem(member) {
    const mute = el('button', { className: 'mute secondary' }, 'Mute mic');
    mute.addEventListener('click', () => {
      const current = this.#room?.stage.members.find((m) => m.identity === member.identity);
      const muted = current?.mutedByHost.includes('microphone');
      this.#do(mute, '', () =>
        muted
          ? this.#room.unmuteParticipant(member.identity, 'microphone')
          : this.#room.muteParticipant(member.identity, 'microphone'),
      );
    });
    const remove = el('button', { className: 'remove danger' }, 'Remove');
    remove.setAttribute('aria-label', `Remove ${member.name} from the stage`);
    remove.addEventListener('click', () =>
      this.#do(remove, `${member.name} is back in the audience.`, () =>
        this.#room.removeFromStage(member.identity),
      ),
    );
    return el(
      'li',
      {},
      el(
        'div',
        { className: 'who' },
        el('strong', { className: 'name' }),
        el('span', { className: 'detail status' }),
      ),
      el('div', { className: 'actions' }, mute, remove),
    );
  }

  #audienceItem(participant) {
    const invite = el('button', { className: 'invite secondary' }, 'Invite');
    invite.setAttribute('aria-label', `Invite ${participant.name} on stage with mic and camera`);
    invite.addEventListener('click', () =>
      this.#do(invite, `Invited ${participant.name}.`, async () => {
        const sent = await this.#room.inviteToStage(participant.identity, {
          sources: MIC_AND_CAMERA,
        });
        this.#invites.set(participant.identity, sent.expiresAt);
        this.render();
      }),
    );
    return el(
      'li',
      {},
      el(
        'div',
        { className: 'who' },
        el('strong', { className: 'name' }),
        el('span', { className: 'invited status' }),
      ),
      el('div', { className: 'actions' }, invite),
    );
  }

  #updateInvite(li, participant) {
    const expiresAt = this.#invites.get(participant.identity);
    const pending = expiresAt !== undefined && expiresAt > Date.now();
    const handRaised = this.#room?.handQueue.some((h) => h.identity === participant.identity);
    li.querySelector('.invite').hidden = pending;
    li.querySelector('.invited').textContent = pending
      ? `invited · ${formatWait(expiresAt - Date.now())} left`
      : handRaised
        ? 'hand raised'
        : '';
  }

  /** Once a second: how long each hand has waited and how long each invitation has left. */
  #tick() {
    for (const li of this.#lists.hands.querySelectorAll('li[data-identity]')) {
      const waited = Date.now() - Number(li.dataset.raisedAt);
      li.querySelector('.waited').textContent = `waiting ${formatWait(waited)}`;
    }
    const room = this.#room;
    for (const li of this.#lists.audience.querySelectorAll('li[data-identity]')) {
      const participant = room?.participants.get(li.dataset.identity);
      if (participant) this.#updateInvite(li, participant);
    }
  }

  #do(button, done, action) {
    return act(
      button,
      async () => {
        await action();
        if (done) this.say(done);
      },
      (error) => this.say(`failed: ${errorText(error)}`),
    );
  }

  #nameOf(identity) {
    const room = this.#room;
    return room?.participants.get(identity)?.name ?? identity;
  }
}
