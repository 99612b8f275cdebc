// What the host and viewer pages share about the stage: a grid with one tile per video (hosts
// first, then guests in the order they came on stage), the local preview, remote audio, and a
// few small DOM helpers.
import { layerName } from './common.js';

/** Builds an element: el('button', { className: 'x', onclick }, 'text', child, …). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'role' || key.startsWith('aria-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

/**
 * Keeps `list` showing one <li data-identity> per item, in order, reusing the elements already
 * there (so a button does not vanish under the pointer when something else changes).
 */
export function renderList(list, items, { create, update, empty }) {
  const existing = new Map([...list.querySelectorAll(':scope > li[data-identity]')].map(byId));
  list.querySelector(':scope > li.empty')?.remove();
  let previous = null;
  for (const item of items) {
    let li = existing.get(item.identity);
    existing.delete(item.identity);
    if (!li) {
      li = create(item);
      li.dataset.identity = item.identity;
    }
    update(li, item);
    if (previous ? previous.nextSibling !== li : list.firstChild !== li) {
      if (previous) previous.after(li);
      else list.prepend(li);
    }
    previous = li;
  }
  for (const stale of existing.values()) stale.remove();
  if (items.length === 0 && empty) list.append(el('li', { className: 'empty' }, empty));
}

function byId(li) {
  return [li.dataset.identity, li];
}

/** "12 s", "3 min 04 s" */
export function formatWait(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** ['microphone', 'camera'] → "microphone and camera" */
export function sourcesText(sources) {
  if (sources.length <= 1) return sources.join('');
  return `${sources.slice(0, -1).join(', ')} and ${sources[sources.length - 1]}`;
}

/** Runs an action from a button: disabled meanwhile, failures reported through `onError`. */
export async function act(button, action, onError) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    onError(error);
  } finally {
    if (button.isConnected) button.disabled = false;
  }
}

/** Who speaks now (participant.isSpeaking), this client included. */
export function speakingIdentities(room) {
  return [room.localParticipant, ...room.participants.values()]
    .filter((participant) => participant.isSpeaking)
    .map((participant) => participant.identity);
}

export function errorText(error) {
  return error && error.code ? `${error.code}: ${error.message}` : String(error);
}

/**
 * The stage as tiles: `addTrack`/`removeTrack` follow the room's trackSubscribed and
 * trackUnsubscribed events, `update` follows stageChanged. A stage member without video gets a
 * placeholder tile, so the grid always shows who is on stage.
 */
export class StageGrid {
  #grid;
  #audio;
  #audioMuted;
  #stage = { members: [], maxGuests: 0 };
  #self = { identity: null, name: '' };
  #localTile;
  #ownsLocalTile;
  #localTrack = null;
  /** Identities whose tiles are highlighted: they speak. */
  #speaking = new Set();

  /**
   * @param grid element that holds the tiles
   * @param audio element that holds remote <audio> elements
   * @param options.localTile a tile already on the page for the local preview (host page)
   * @param options.audioMuted whether remote audio starts muted
   */
  constructor(grid, audio, { localTile = null, audioMuted = false } = {}) {
    this.#grid = grid;
    this.#audio = audio;
    this.#localTile = localTile;
    this.#ownsLocalTile = !localTile;
    this.#audioMuted = audioMuted;
  }

  set audioMuted(muted) {
    this.#audioMuted = muted;
    for (const audio of this.#audio.querySelectorAll('audio')) audio.muted = muted;
  }

  get audioMuted() {
    return this.#audioMuted;
  }

  setSelf(identity, name) {
    this.#self = { identity, name };
    if (this.#localTile) this.#localTile.dataset.identity = identity;
    this.#render();
  }

  update(stage) {
    this.#stage = stage;
    this.#render();
  }

  addTrack(track, participant) {
    if (track.kind === 'audio') {
      const audio = track.attach();
      audio.muted = this.#audioMuted;
      audio.dataset.identity = track.participantIdentity;
      audio.dataset.trackId = track.id;
      this.#audio.append(audio);
      return;
    }
    const tile = tileElement(track.participantIdentity, participant.name);
    tile.dataset.trackId = track.id;
    tile.dataset.source = track.source;
    tile.prepend(track.attach());
    this.#grid.append(tile);
    this.#render();
  }

  removeTrack(track) {
    track.detach();
    for (const node of [...this.#grid.children, ...this.#audio.children]) {
      if (node.dataset.trackId === track.id) node.remove();
    }
    this.#render();
  }

  /** Highlights the tiles of these identities (the room's active speakers). */
  setSpeaking(identities) {
    this.#speaking = new Set(identities);
    this.#render();
  }

  setQuality(track, layer) {
    const tile = [...this.#grid.children].find((node) => node.dataset.trackId === track.id);
    const quality = tile?.querySelector('.quality');
    if (quality) quality.textContent = layerName(layer);
  }

  /** Shows this client's camera (a LocalTrack); null takes the preview away. */
  showLocal(track) {
    if (!track) {
      this.hideLocal();
      return;
    }
    if (track === this.#localTrack) return;
    this.#localTrack = track;
    if (!this.#localTile) {
      this.#localTile = tileElement(this.#self.identity, this.#self.name);
      this.#localTile.dataset.local = 'true';
      this.#grid.append(this.#localTile);
    }
    const video = this.#localTile.querySelector('video') ?? el('video');
    if (!video.isConnected) this.#localTile.prepend(video);
    track.attach(video);
    this.#render();
  }

  hideLocal() {
    const tile = this.#localTile;
    this.#localTrack = null;
    if (!tile) return;
    const video = tile.querySelector('video');
    if (video) video.srcObject = null;
    if (this.#ownsLocalTile) {
      tile.remove();
      this.#localTile = null;
    }
    this.#render();
  }

  /** Order, labels, "muted by host" marks and placeholders, from the last known stage. */
  #render() {
    const members = this.#stage.members;
    const position = new Map(members.map((member, index) => [member.identity, index]));
    const withTile = new Set();
    for (const tile of [...this.#grid.children]) {
      const identity = tile.dataset.identity;
      const member = members.find((m) => m.identity === identity);
      if (tile.classList.contains('placeholder')) {
        if (!member) tile.remove();
        continue;
      }
      withTile.add(identity);
      decorate(tile, member, identity === this.#self.identity, position.get(identity));
    }
    for (const member of members) {
      if (withTile.has(member.identity)) continue;
      let placeholder = [...this.#grid.children].find(
        (tile) =>
          tile.classList.contains('placeholder') && tile.dataset.identity === member.identity,
      );
      if (!placeholder) {
        placeholder = tileElement(member.identity, member.name);
        placeholder.classList.add('placeholder');
        placeholder.prepend(
          el('div', { className: 'avatar', 'aria-hidden': 'true' }, initials(member.name)),
        );
        this.#grid.append(placeholder);
      }
      decorate(
        placeholder,
        member,
        member.identity === this.#self.identity,
        position.get(member.identity),
      );
    }
    for (const placeholder of this.#grid.querySelectorAll('.tile.placeholder')) {
      if (withTile.has(placeholder.dataset.identity)) placeholder.remove();
    }
    for (const tile of this.#grid.children) {
      tile.classList.toggle('speaking', this.#speaking.has(tile.dataset.identity));
    }
  }
}

function tileElement(identity, name) {
  return el(
    'div',
    { className: 'tile', role: 'group', dataset: { identity } },
    el(
      'span',
      { className: 'badge' },
      el('span', { className: 'name' }, name || identity),
      el('span', { className: 'role' }),
      el('span', { className: 'quality' }),
    ),
    el('span', { className: 'badge muted-mark', hidden: true }, 'mic muted by host'),
  );
}

function decorate(tile, member, self, index) {
  const name = tile.querySelector('.name');
  if (name && member) name.textContent = self ? `${member.name} (you)` : member.name;
  const role = tile.querySelector('.role');
  // "Host · host" says nothing twice.
  if (role)
    role.textContent = member && member.name.toLowerCase() !== member.role ? member.role : '';
  const muted = tile.querySelector('.muted-mark');
  if (muted) muted.hidden = !member?.mutedByHost.includes('microphone');
  // Hosts first, guests in stage order; a screen share right after its owner's camera.
  const order = (index ?? NOT_ON_STAGE) * 2 + (tile.dataset.source === 'screen' ? 1 : 0);
  tile.style.order = String(order);
  const label = member ? `${member.name} (${member.role})` : tile.dataset.identity;
  if (label) tile.setAttribute('aria-label', label);
}

/** Tiles of someone not (or no longer) on stage go last. */
const NOT_ON_STAGE = 1000;

function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((word) => word[0].toUpperCase())
    .join('');
}
