import { ChatPanel } from './chat-panel.js';
import { devToken, roomFromUrl, serverUrls } from './common.js';
import { HostPanels } from './host-panels.js';
import { ReactionCounts } from './reactions-ui.js';
import { StageGrid, speakingIdentities } from './stage-ui.js';

const { LiveRoom } = window.Livestage;
const $ = (id) => document.getElementById(id);
// Guests' video joins the host's preview on the stage; their audio plays (Go live was a click).
const grid = new StageGrid($('stage'), $('remote-audio'), { localTile: $('preview-tile') });
const panels = new HostPanels({
  handQueue: 'hand-queue',
  handCount: 'hand-count',
  onStage: 'on-stage',
  guestCount: 'guest-count',
  audience: 'audience',
  log: 'stage-log',
});
const chat = new ChatPanel(
  {
    list: 'chat-messages',
    form: 'chat-form',
    input: 'chat-input',
    send: 'chat-send',
    status: 'chat-status',
  },
  { moderate: true },
);
const reactions = new ReactionCounts($('reaction-counts'));
const state = { room: null, camera: null, mic: null, screen: null, grid, panels, chat };
window.livestageHost = state; // for tests and the curious

$('room').value = roomFromUrl();

function setStatus(text) {
  $('status').textContent = text;
}

/** The server's count (it follows the whole audience, even where presence is not sent). */
function updateViewerCount() {
  $('viewer-count').textContent = String(state.room ? state.room.viewerCount : 0);
}

function setLive(live) {
  $('go-live').disabled = live;
  $('end').disabled = !live;
  for (const id of ['toggle-camera', 'toggle-mic', 'toggle-screen']) $(id).disabled = !live;
  $('live-badge').textContent = live ? 'LIVE' : 'preview';
  $('live-badge').classList.toggle('live', live);
}

async function goLive() {
  $('go-live').disabled = true;
  setStatus('connecting…');
  try {
    const token = await devToken($('room').value, 'host', 'Host');
    const room = await LiveRoom.connect(serverUrls(), token);
    state.room = room;
    grid.setSelf(room.localParticipant.identity, 'Host');
    grid.update(room.stage);
    room.on('viewerCountChanged', updateViewerCount);
    room.on('qualityReport', showViewerQuality);
    room.on('stageChanged', (stage) => grid.update(stage));
    room.on('trackSubscribed', (track, participant) => grid.addTrack(track, participant));
    room.on('trackUnsubscribed', (track) => grid.removeTrack(track));
    room.on('qualityChanged', (track, layer) => grid.setQuality(track, layer));
    room.on('activeSpeakersChanged', () => grid.setSpeaking(speakingIdentities(room)));
    room.on('error', (error) => panels.say(`error: ${error.message}`));
    room.on('reconnecting', () => setStatus('reconnecting…'));
    room.on('reconnected', () => {
      setStatus(`live in “${room.roomName}”`);
      grid.update(room.stage);
      panels.render();
    });
    room.on('disconnected', (reason) => {
      setStatus(`offline (${reason})`);
      setLive(false);
      grid.update({ members: [], maxGuests: 0 });
      grid.setSpeaking([]);
    });
    panels.attach(room);
    chat.attach(room);
    reactions.attach(room);
    state.camera = await room.publishCamera({ resolution: '720p', simulcast: true });
    state.camera.attach($('preview'));
    state.mic = await room.publishMicrophone();
    updateViewerCount();
    setLive(true);
    setStatus(`live in “${room.roomName}”`);
  } catch (error) {
    setStatus(`failed: ${error.code || ''} ${error.message}`);
    $('go-live').disabled = false;
  }
}

/** Each viewer's video from this host, worst first, from the server's quality report. */
function showViewerQuality(report) {
  const self = state.room?.localParticipant.identity;
  const rows = report.subscriptions
    .filter((s) => s.kind === 'video' && s.publisher === self)
    .sort((a, b) => a.score - b.score);
  const list = $('viewer-quality');
  list.replaceChildren(
    ...rows.map((s) => {
      const item = document.createElement('li');
      item.dataset.identity = s.identity;
      const layer = s.spatialLayer === null ? 'paused' : `layer ${s.spatialLayer}`;
      const rtt = s.rttMs === null ? '' : `, ${Math.round(s.rttMs)} ms`;
      item.textContent = `${s.identity}: ${layer}, ${Math.round(s.bitrate / 1000)} kbit/s, score ${s.score}${rtt}`;
      return item;
    }),
  );
}

async function toggle(kind) {
  const room = state.room;
  if (!room) return;
  if (state[kind]) {
    await room.unpublish(state[kind]);
    state[kind] = null;
    if (kind === 'camera') $('preview').srcObject = null;
  } else if (kind === 'camera') {
    state.camera = await room.publishCamera({ resolution: '720p', simulcast: true });
    state.camera.attach($('preview'));
  } else if (kind === 'mic') {
    state.mic = await room.publishMicrophone();
  } else {
    state.screen = await room.publishScreen();
  }
  $('toggle-camera').textContent = state.camera ? 'Camera off' : 'Camera on';
  $('toggle-mic').textContent = state.mic ? 'Mic off' : 'Mic on';
  $('toggle-screen').textContent = state.screen ? 'Stop sharing' : 'Share screen';
}

$('go-live').addEventListener('click', goLive);
$('end').addEventListener('click', async () => {
  await state.room?.disconnect();
  state.room = null;
});
$('toggle-camera').addEventListener('click', () => toggle('camera'));
$('toggle-mic').addEventListener('click', () => toggle('mic'));
$('toggle-screen').addEventListener('click', () => toggle('screen'));
