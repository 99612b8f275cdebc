import { devToken, layerName, roomFromUrl } from './common.js';

const { LiveRoom } = window.Livestage;
const $ = (id) => document.getElementById(id);
const state = { room: null, muted: true, tiles: new Map() };
window.livestageViewer = state; // for tests and the curious

$('room').value = roomFromUrl();

function tileFor(track) {
  const tile = document.createElement('div');
  tile.className = 'tile';
  tile.dataset.identity = track.participantIdentity;
  const badge = document.createElement('span');
  badge.className = 'badge';
  badge.textContent = `${track.participantIdentity} · connecting`;
  tile.append(track.attach(), badge);
  return tile;
}

function onTrack(track) {
  if (track.kind === 'audio') {
    const audio = track.attach();
    audio.muted = state.muted;
    audio.dataset.trackId = track.id;
    document.body.append(audio);
    state.tiles.set(track.id, audio);
    return;
  }
  const tile = tileFor(track);
  tile.dataset.trackId = track.id;
  $('stage').append(tile);
  state.tiles.set(track.id, tile);
}

function onTrackGone(track) {
  track.detach();
  state.tiles.get(track.id)?.remove();
  state.tiles.delete(track.id);
}

async function watch() {
  $('watch').disabled = true;
  $('status').textContent = 'connecting…';
  try {
    const token = await devToken($('room').value, 'audience');
    const room = await LiveRoom.connect(location.origin, token);
    state.room = room;
    room.on('trackSubscribed', onTrack);
    room.on('trackUnsubscribed', onTrackGone);
    room.on('qualityChanged', (track, layer) => {
      const badge = state.tiles.get(track.id)?.querySelector('.badge');
      if (badge) badge.textContent = `${track.participantIdentity} · ${layerName(layer)}`;
    });
    room.on('disconnected', (reason) => {
      $('status').textContent = `disconnected (${reason})`;
      $('watch').disabled = false;
    });
    $('mute').disabled = false;
    $('status').textContent = `watching “${room.roomName}”`;
  } catch (error) {
    $('status').textContent = `failed: ${error.code || ''} ${error.message}`;
    $('watch').disabled = false;
  }
}

$('watch').addEventListener('click', watch);
$('mute').addEventListener('click', () => {
  state.muted = !state.muted;
  for (const el of state.tiles.values()) if (el instanceof HTMLAudioElement) el.muted = state.muted;
  $('mute').textContent = state.muted ? 'Unmute' : 'Mute';
});
