// The live dashboard: rooms, their participants and stage, and per-stream charts fed by the
// quality reports, polled over the admin API with the operator's API key and secret.
import { AdminApi, AdminApiError } from './admin-api.js';
import { paramFromUrl } from './common.js';
import {
  TrackCard,
  renderParticipants,
  renderRooms,
  SubscriptionTable,
} from './dashboard-views.js';

const POLL_INTERVAL_MS = 2000;
const CREDENTIALS_KEY = 'livestage.dashboard.credentials';
const $ = (id) => document.getElementById(id);
const state = {
  api: null,
  rooms: [],
  /** The selected room's name. */
  room: paramFromUrl('room') || null,
  report: null,
  participants: [],
  /** 'api' when GET /api/rooms/{room}/participants answered, 'report' when derived. */
  participantsFrom: 'report',
  /** trackId → TrackCard (its .bitrate and .loss are LineCharts with .points). */
  cards: new Map(),
  subscriptions: new SubscriptionTable($('subscriptions').tBodies[0]),
  /** Bumped on sign-in/out and on a room change, so an older poll's answers are dropped. */
  generation: 0,
  timer: null,
};
window.livestageDashboard = state; // for tests and the curious

function setStatus(text) {
  $('status').textContent = text;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

function setSignedIn(signedIn) {
  $('login').hidden = signedIn;
  $('sign-out').hidden = !signedIn;
  $('dashboard').hidden = !signedIn;
}

async function signIn(apiKey, apiSecret) {
  const api = new AdminApi(apiKey, apiSecret);
  setStatus('signing in…');
  try {
    await api.rooms();
  } catch (error) {
    signOut(
      error instanceof AdminApiError && error.status === 401
        ? 'Wrong API key or secret.'
        : `Cannot reach the admin API: ${error.message}`,
    );
    return;
  }
  sessionStorage.setItem(CREDENTIALS_KEY, JSON.stringify({ apiKey, apiSecret }));
  state.api = api;
  state.generation += 1;
  showError('');
  setSignedIn(true);
  setStatus(`signed in as ${apiKey}`);
  void poll(state.generation);
}

function signOut(message = '') {
  sessionStorage.removeItem(CREDENTIALS_KEY);
  state.api = null;
  state.generation += 1;
  clearTimeout(state.timer);
  clearRoom();
  setSignedIn(false);
  setStatus('signed out');
  showError(message);
}

function selectRoom(name) {
  if (name === state.room) return;
  state.room = name;
  state.generation += 1;
  clearRoom();
  const url = new URL(location.href);
  url.searchParams.set('room', name);
  history.replaceState(null, '', url);
  clearTimeout(state.timer);
  void poll(state.generation);
}

function clearRoom() {
  state.report = null;
  state.participants = [];
  for (const card of state.cards.values()) card.element.remove();
  state.cards.clear();
  state.subscriptions.clear();
  renderRoom();
}

/** One round: the rooms, then the selected room's report and participants; then again. */
async function poll(generation) {
  const api = state.api;
  if (!api) return;
  try {
    const { rooms } = await api.rooms();
    if (generation !== state.generation) return;
    state.rooms = rooms.sort((a, b) => a.name.localeCompare(b.name));
    renderRooms($('rooms'), state.rooms, state.room, selectRoom);
    $('room-count').textContent = String(rooms.length);
    if (state.room) await pollRoom(api, state.room, generation);
    if (generation !== state.generation) return;
    setStatus(`signed in · updated ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    if (generation !== state.generation) return;
    if (error instanceof AdminApiError && error.status === 401) {
      signOut('The API key or secret is no longer accepted.');
      return;
    }
    setStatus(`update failed: ${error.message}`);
  }
  state.timer = setTimeout(() => void poll(generation), POLL_INTERVAL_MS);
}

async function pollRoom(api, room, generation) {
  const [report, listed] = await Promise.all([
    api.quality(room).catch((error) => notFoundAsNull(error)),
    // Answers only where the admin API lists participants; otherwise the report tells who is there.
    api.participants(room).catch((error) => notFoundAsNull(error, true)),
  ]);
  if (generation !== state.generation) return;
  state.report = report;
  if (listed) {
    state.participants = (Array.isArray(listed) ? listed : listed.participants).map(normalize);
    state.participantsFrom = 'api';
  } else {
    state.participants = participantsFromReport(report);
    state.participantsFrom = 'report';
  }
  if (report) {
    for (const track of report.tracks) {
      let card = state.cards.get(track.trackId);
      if (!card) {
        card = new TrackCard(track);
        state.cards.set(track.trackId, card);
        $('tracks').append(card.element);
      }
      card.update(track, report.at);
    }
    const live = new Set(report.tracks.map((t) => t.trackId));
    for (const [trackId, card] of state.cards) {
      if (live.has(trackId)) continue;
      card.element.remove();
      state.cards.delete(trackId);
    }
    state.subscriptions.update(report.subscriptions, report.at);
  } else {
    for (const card of state.cards.values()) card.element.remove();
    state.cards.clear();
    state.subscriptions.clear();
  }
  renderRoom();
}

/** A 404 (no report yet, no such room or route) is null; other failures go on up. */
function notFoundAsNull(error, anyButAuth = false) {
  if (!(error instanceof AdminApiError) || error.status === 401) throw error;
  if (error.status === 404 || anyButAuth) return null;
  throw error;
}

function normalize(participant) {
  return {
    identity: participant.identity,
    name: participant.name || '',
    role: participant.role,
    tracks: participant.tracks || [],
  };
}

/** Without the participants route: publishers from the tracks, viewers from the subscriptions. */
function participantsFromReport(report) {
  if (!report) return [];
  const byIdentity = new Map();
  for (const track of report.tracks) {
    const entry = byIdentity.get(track.identity) || {
      identity: track.identity,
      name: '',
      role: 'publisher',
      tracks: [],
    };
    entry.tracks.push({ kind: track.kind, source: track.source });
    byIdentity.set(track.identity, entry);
  }
  for (const subscription of report.subscriptions) {
    if (byIdentity.has(subscription.identity)) continue;
    byIdentity.set(subscription.identity, {
      identity: subscription.identity,
      name: '',
      role: 'viewer',
      tracks: [],
    });
  }
  return [...byIdentity.values()];
}

function renderRoom() {
  const { room, report, participants } = state;
  $('room-title').textContent = room ? `Room ${room}` : 'Select a room';
  const listed = state.rooms.find((r) => r.name === room);
  if (!room) {
    $('room-summary').textContent = '';
  } else if (!listed) {
    $('room-summary').textContent = 'This room is not open (now).';
  } else if (!report) {
    $('room-summary').textContent = 'No quality report yet: one comes every few seconds.';
  } else {
    const age = Math.max(0, Math.round((Date.now() - report.at) / 1000));
    $('room-summary').textContent =
      `${report.viewerCount} watching · ${report.tracks.length} streams · ` +
      `report from ${age} s ago`;
  }
  renderParticipants($('participants').tBodies[0], participants);
  $('participant-count').textContent = String(participants.length);
  const onStage = participants.filter((p) =>
    state.participantsFrom === 'api' ? p.role === 'host' || p.role === 'guest' : p.tracks.length,
  );
  $('stage-summary').textContent =
    onStage.length > 0 ? `on stage: ${onStage.map((p) => p.identity).join(', ')}` : '';
  $('subscription-count').textContent = String(report ? report.subscriptions.length : 0);
}

$('login').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn($('api-key').value.trim(), $('api-secret').value);
});
$('sign-out').addEventListener('click', () => signOut());
window.addEventListener('resize', () => {
  for (const card of state.cards.values()) card.redraw();
  state.subscriptions.redraw();
});

const saved = JSON.parse(sessionStorage.getItem(CREDENTIALS_KEY) || 'null');
if (saved) void signIn(saved.apiKey, saved.apiSecret);
else setSignedIn(false);
