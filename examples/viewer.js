import { ChatPanel } from './chat-panel.js';
import { devToken, paramFromUrl, roomFromUrl, serverUrls } from './common.js';
import { ReactionBar } from './reactions-ui.js';
import {
  StageGrid,
  act,
  errorText,
  formatWait,
  sourcesText,
  speakingIdentities,
} from './stage-ui.js';

const { LiveRoom } = window.Livestage;
const $ = (id) => document.getElementById(id);
const grid = new StageGrid($('stage'), $('remote-audio'), { audioMuted: true });
const chat = new ChatPanel({
  list: 'chat-messages',
  form: 'chat-form',
  input: 'chat-input',
  send: 'chat-send',
  status: 'chat-status',
});
const reactionBar = new ReactionBar($('reactions-bar'), (text) => chat.say(`reaction: ${text}`));
const state = {
  room: null,
  grid,
  chat,
  handRaised: false,
  /** A host approved this viewer's hand; the role change is on its way. */
  comingOnStage: false,
  inviteTimer: undefined,
};
window.livestageViewer = state; // for tests and the curious

$('room').value = roomFromUrl();
$('name').value = paramFromUrl('name');

function say(text) {
  $('stage-status').textContent = text;
}

function showViewerCount(count) {
  $('viewer-count').textContent = `${count} watching`;
  $('viewer-count').hidden = false;
}

function fail(error) {
  say(`failed: ${errorText(error)}`);
}

function localTrack(source) {
  const tracks = state.room ? [...state.room.localParticipant.tracks.values()] : [];
  return tracks.find((track) => track.source === source);
}

function selfMember() {
  const room = state.room;
  return room?.stage.members.find((m) => m.identity === room.localParticipant.identity);
}

/** Shows or hides each stage control for where this viewer is now. */
function updateControls() {
  const room = state.room;
  const connected = Boolean(room?.connected);
  const guest = connected && room.role === 'guest';
  const audience = connected && room.role === 'audience';
  $('raise-hand').disabled = !audience;
  $('raise-hand').hidden = guest || state.handRaised;
  $('lower-hand').hidden = !audience || !state.handRaised;
  $('hand-message').disabled = !audience || state.handRaised;
  $('hand-form').hidden = guest;
  $('leave-stage').hidden = !guest;
  const mutedByHost = Boolean(guest && selfMember()?.mutedByHost.includes('microphone'));
  $('muted-by-host').hidden = !mutedByHost;
  const mic = guest ? localTrack('microphone') : undefined;
  $('toggle-mic').hidden = !mic;
  $('toggle-mic').disabled = mutedByHost;
  $('toggle-mic').textContent = mic?.mutedBySelf || mutedByHost ? 'Unmute mic' : 'Mute mic';
}

/** Shows this viewer's own camera while it is on stage (the SDK publishes it by itself). */
function syncLocalTracks() {
  const room = state.room;
  const guest = Boolean(room?.connected && room.role === 'guest');
  const camera = guest ? localTrack('camera') : undefined;
  if (camera) grid.showLocal(camera);
  else grid.hideLocal();
  updateControls();
}

function onHandLowered({ identity, reason }) {
  if (identity !== state.room.localParticipant.identity) return;
  state.handRaised = false;
  state.comingOnStage = reason === 'approved';
  const text = {
    lowered: 'Hand lowered.',
    approved: 'The host approved your hand: joining the stage…',
    denied: 'Hand declined by the host.',
    expired: 'Your raised hand expired without an answer.',
    left: '',
  }[reason];
  if (text) say(text);
  updateControls();
}

function onRoleChanged(role, event) {
  // On stage, or back from it, this viewer has no raised hand any more.
  state.handRaised = false;
  state.comingOnStage = false;
  if (role === 'guest') {
    say(`You are on stage with your ${sourcesText(event.sources)}.`);
  } else if (role === 'audience') {
    say(
      event.reason === 'removed-by-host'
        ? 'The host took you off the stage.'
        : event.reason === 'left-stage'
          ? 'You left the stage.'
          : 'You are back in the audience.',
    );
  }
  syncLocalTracks();
}

function showInvite(invite) {
  const host = state.room.participants.get(invite.from);
  $('invite-text').textContent =
    `${host ? host.name : 'The host'} invites you on stage with your ${sourcesText(invite.sources)}.`;
  $('invite').hidden = false;
  const tick = () => {
    $('invite-expiry').textContent = `expires in ${formatWait(invite.expiresAt - Date.now())}`;
  };
  tick();
  clearInterval(state.inviteTimer);
  state.inviteTimer = setInterval(tick, 1000);
  $('accept-invite').focus();
}

function hideInvite() {
  clearInterval(state.inviteTimer);
  $('invite').hidden = true;
}

function onInviteEnded({ identity, reason }) {
  if (identity !== state.room.localParticipant.identity) return;
  hideInvite();
  if (reason === 'expired') say('The invitation expired.');
  // Approving a raised hand also cancels an invitation: then the approval is what counts.
  if (reason === 'cancelled' && state.room.role === 'audience' && !state.comingOnStage) {
    say('The host withdrew the invitation.');
  }
}

function onMutedByHost(source, muted) {
  if (source === 'microphone') {
    say(muted ? 'The host muted your microphone.' : 'The host unmuted your microphone.');
  }
  updateControls();
}

async function watch() {
  $('watch').disabled = true;
  $('status').textContent = 'connecting…';
  try {
    const token = await devToken($('room').value, 'audience', $('name').value.trim());
    const room = await LiveRoom.connect(serverUrls(), token);
    state.room = room;
    const self = room.localParticipant.identity;
    grid.setSelf(self, $('name').value.trim() || self);
    room.on('trackSubscribed', (track, participant) => grid.addTrack(track, participant));
    room.on('trackUnsubscribed', (track) => grid.removeTrack(track));
    room.on('qualityChanged', (track, layer) => grid.setQuality(track, layer));
    room.on('activeSpeakersChanged', () => grid.setSpeaking(speakingIdentities(room)));
    room.on('stageChanged', (stage) => {
      grid.update(stage);
      updateControls();
    });
    room.on('handLowered', onHandLowered);
    room.on('roleChanged', onRoleChanged);
    room.on('inviteReceived', showInvite);
    room.on('inviteEnded', onInviteEnded);
    room.on('mutedByHost', onMutedByHost);
    room.on('error', fail);
    room.on('viewerCountChanged', showViewerCount);
    showViewerCount(room.viewerCount);
    room.on('localTrackPublished', () => syncLocalTracks());
    room.on('reconnecting', () => {
      $('status').textContent = 'reconnecting…';
    });
    room.on('reconnected', () => {
      $('status').textContent = `watching “${room.roomName}”`;
      grid.update(room.stage);
      syncLocalTracks();
    });
    room.on('disconnected', (reason) => {
      $('status').textContent = `disconnected (${reason})`;
      $('viewer-count').hidden = true;
      $('watch').disabled = false;
      state.handRaised = false;
      hideInvite();
      grid.update({ members: [], maxGuests: 0 });
      grid.setSpeaking([]);
      syncLocalTracks();
    });
    chat.attach(room);
    reactionBar.attach(room);
    grid.update(room.stage);
    $('mute').disabled = false;
    $('status').textContent = `watching “${room.roomName}”`;
    updateControls();
  } catch (error) {
    $('status').textContent = `failed: ${error.code || ''} ${error.message}`;
    $('watch').disabled = false;
  }
}

$('watch').addEventListener('click', watch);
$('mute').addEventListener('click', () => {
  grid.audioMuted = !grid.audioMuted;
  $('mute').textContent = grid.audioMuted ? 'Unmute' : 'Mute';
});
/** Runs a stage action from a button; the controls are brought up to date afterwards. */
function run(button, action) {
  return act(button, action, fail).then(updateControls);
}

$('hand-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const message = $('hand-message').value.trim();
  void run($('raise-hand'), async () => {
    await state.room.raiseHand(message || undefined);
    state.handRaised = true;
    say('Hand raised: waiting for the host.');
  });
});
$('lower-hand').addEventListener('click', () => run($('lower-hand'), () => state.room.lowerHand()));
$('leave-stage').addEventListener('click', () =>
  run($('leave-stage'), () => state.room.leaveStage()),
);
$('toggle-mic').addEventListener('click', () =>
  run($('toggle-mic'), async () => {
    const mic = localTrack('microphone');
    if (!mic) return;
    if (mic.mutedBySelf) await state.room.unmuteTrack(mic);
    else await state.room.muteTrack(mic);
  }),
);
$('accept-invite').addEventListener('click', () =>
  run($('accept-invite'), async () => {
    hideInvite();
    say('Joining the stage…');
    await state.room.acceptInvite();
  }),
);
$('decline-invite').addEventListener('click', () =>
  run($('decline-invite'), async () => {
    hideInvite();
    await state.room.declineInvite();
    say('Invitation declined.');
  }),
);
