// What the dashboard draws: the rooms list, the participants and subscriptions tables, and one
// card with live charts per published track. Built with textContent only: names are user input.
import { LineChart } from './line-chart.js';

const LAYER_NAMES = ['low', 'medium', 'high'];

export function el(tag, { className, text, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

export function formatBitrate(bitsPerSecond) {
  if (bitsPerSecond >= 1_000_000) return `${(bitsPerSecond / 1_000_000).toFixed(2)} Mbit/s`;
  return `${Math.round(bitsPerSecond / 1000)} kbit/s`;
}

/** Axis labels in kbit/s: 0, 250, 1.5M. */
function formatAxisKbps(kbps) {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)}M` : String(Math.round(kbps));
}

function formatLoss(fraction) {
  return `${(fraction * 100).toFixed(1)} %`;
}

function layerLabel(subscription) {
  if (subscription.paused) return 'paused';
  if (subscription.spatialLayer === null) return subscription.kind === 'audio' ? '—' : 'none';
  return LAYER_NAMES[subscription.spatialLayer] || `layer ${subscription.spatialLayer}`;
}

/** The rooms as buttons; `onSelect(name)` when one is clicked. */
export function renderRooms(list, rooms, selected, onSelect) {
  const items = rooms.map((room) => {
    const button = el('button', {
      className: room.name === selected ? 'room-link selected' : 'room-link secondary',
      attrs: { 'data-room': room.name, type: 'button' },
    });
    button.append(
      el('span', { text: room.name }),
      el('span', { className: 'count', text: `${room.participants} in room` }),
    );
    button.addEventListener('click', () => onSelect(room.name));
    return el('li', {}, [button]);
  });
  if (items.length === 0) items.push(el('li', { className: 'empty', text: 'No open rooms' }));
  list.replaceChildren(...items);
}

/** `participants`: [{ identity, name, role, tracks: [{ kind, source }] }] */
export function renderParticipants(tbody, participants) {
  const rows = participants.map((p) =>
    el('tr', { attrs: { 'data-identity': p.identity } }, [
      el('td', { text: p.identity }),
      el('td', { text: p.name || '' }),
      el('td', {}, [el('span', { className: `role role-${p.role}`, text: p.role })]),
      el('td', { text: p.tracks.map((t) => t.source || t.kind).join(', ') || '—' }),
    ]),
  );
  if (rows.length === 0) rows.push(emptyRow(4, 'Nobody here'));
  tbody.replaceChildren(...rows);
}

/**
 * The subscriptions, one row each with its figures and, for video, a step chart of the layer it
 * received over the last minute. Rows stay (and keep their chart) while the subscription does.
 */
export class SubscriptionTable {
  constructor(tbody) {
    this.tbody = tbody;
    /** `${identity} ${trackId}` → { row, cells, layers: LineChart | null } */
    this.rows = new Map();
  }

  update(subscriptions, at) {
    const seen = new Set();
    for (const subscription of subscriptions) {
      const key = `${subscription.identity} ${subscription.trackId}`;
      seen.add(key);
      let entry = this.rows.get(key);
      if (!entry) {
        entry = this.#newRow(subscription);
        this.rows.set(key, entry);
      }
      this.#fill(entry, subscription, at);
    }
    for (const [key, entry] of this.rows) {
      if (seen.has(key)) continue;
      entry.row.remove();
      this.rows.delete(key);
    }
    const rows = [...this.rows.values()].map((entry) => entry.row);
    this.tbody.replaceChildren(...(rows.length > 0 ? rows : [emptyRow(9, 'No subscriptions')]));
  }

  clear() {
    this.rows.clear();
    this.update([], 0);
  }

  redraw() {
    for (const entry of this.rows.values()) entry.layers?.draw();
  }

  #newRow(subscription) {
    const cells = {
      layer: el('td', { className: 'layer' }),
      bitrate: el('td', { className: 'num' }),
      loss: el('td', { className: 'num' }),
      rtt: el('td', { className: 'num' }),
      score: el('td', { className: 'num' }),
    };
    let layers = null;
    const history = el('td', { className: 'history' });
    if (subscription.kind === 'video') {
      const canvas = el('canvas', {
        className: 'chart layer-chart',
        attrs: { 'aria-label': 'layer over the last minute' },
      });
      history.append(canvas);
      layers = new LineChart(canvas, {
        color: '#fdd663',
        max: 3,
        ticks: [0, 1, 2, 3],
        step: true,
        compact: true,
        format: (value) => ['none', ...LAYER_NAMES][value] ?? '',
      });
    } else {
      history.textContent = '—';
    }
    const row = el(
      'tr',
      { attrs: { 'data-track': subscription.trackId, 'data-identity': subscription.identity } },
      [
        el('td', { text: subscription.identity }),
        el('td', { text: subscription.publisher }),
        el('td', { text: subscription.kind }),
        cells.layer,
        history,
        cells.bitrate,
        cells.loss,
        cells.rtt,
        cells.score,
      ],
    );
    return { row, cells, layers };
  }

  #fill({ cells, layers }, s, at) {
    cells.layer.textContent = layerLabel(s);
    cells.bitrate.textContent = formatBitrate(s.bitrate);
    cells.loss.textContent = formatLoss(s.fractionLost);
    cells.rtt.textContent = s.rttMs === null ? '—' : `${Math.round(s.rttMs)} ms`;
    cells.score.replaceChildren(scoreBadge(s.score));
    // 0 is "none" (paused, or no layer yet), then low, medium, high.
    const level = s.paused || s.spatialLayer === null ? 0 : s.spatialLayer + 1;
    layers?.push(at, level);
  }
}

function emptyRow(columns, text) {
  return el('tr', { className: 'empty' }, [
    el('td', { text, attrs: { colspan: String(columns) } }),
  ]);
}

function scoreBadge(score) {
  const level = score >= 8 ? 'good' : score >= 5 ? 'fair' : 'poor';
  return el('span', { className: `score score-${level}`, text: `${score}/10` });
}

/** One published track: a bitrate chart and a loss chart over the last minute, and its figures. */
export class TrackCard {
  constructor(track) {
    this.trackId = track.trackId;
    this.kind = track.kind;
    const bitrateCanvas = el('canvas', { className: 'chart', attrs: { 'aria-label': 'bitrate' } });
    const lossCanvas = el('canvas', {
      className: 'chart small',
      attrs: { 'aria-label': 'packet loss' },
    });
    this.title = el('h3');
    this.figures = el('p', { className: 'status figures' });
    this.layers = el('p', { className: 'status layers' });
    this.element = el(
      'article',
      { className: 'panel track-card', attrs: { 'data-track': track.trackId } },
      [
        this.title,
        this.figures,
        el('p', { className: 'chart-label', text: 'Bitrate (kbit/s)' }),
        bitrateCanvas,
        el('p', { className: 'chart-label', text: 'Packet loss (%)' }),
        lossCanvas,
        this.layers,
      ],
    );
    this.bitrate = new LineChart(bitrateCanvas, {
      color: track.kind === 'video' ? '#8ab4f8' : '#81c995',
      format: formatAxisKbps,
      minMax: track.kind === 'video' ? 100 : 10,
    });
    this.loss = new LineChart(lossCanvas, {
      color: '#f28b82',
      format: (percent) =>
        `${percent === 0 || percent >= 1 ? Math.round(percent) : percent.toFixed(1)}%`,
      minMax: 1,
    });
  }

  /** Adds the report's figures (a report already seen adds nothing). */
  update(track, at) {
    this.title.textContent = `${track.identity} · ${track.source}`;
    const state = track.paused ? ' · paused' : '';
    this.figures.textContent =
      `${formatBitrate(track.bitrate)} · loss ${formatLoss(track.fractionLost)} · ` +
      `jitter ${Math.round(track.jitterMs)} ms · score ${track.score}/10${state}`;
    this.layers.textContent =
      track.layers.length > 1
        ? 'Layers: ' +
          track.layers.map((l) => `${l.rid ?? '-'} ${formatBitrate(l.bitrate)}`).join(' · ')
        : '';
    this.bitrate.push(at, track.bitrate / 1000);
    this.loss.push(at, track.fractionLost * 100);
  }

  redraw() {
    this.bitrate.draw();
    this.loss.draw();
  }
}
