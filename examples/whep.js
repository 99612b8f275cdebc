// A WHEP player (draft-ietf-wish-whep) with a plain RTCPeerConnection: a recvonly offer with an
// audio and a video section, POSTed with the token; the answer's tracks play in one <video>.
import { devToken, paramFromUrl, roomFromUrl } from './common.js';

const $ = (id) => document.getElementById(id);
/** What a test (or the console) can look at: the peer connection and the session's URL. */
const state = (window.livestageWhep = { pc: null, sessionUrl: '', token: '', retryTimer: 0 });

function setStatus(text) {
  $('status').textContent = text;
}

async function play() {
  $('play').disabled = true;
  $('stop').disabled = false;
  try {
    const room = $('room').value.trim();
    state.token = $('token').value.trim() || (await devToken(room, 'audience', 'WHEP viewer'));
    await connect(room);
  } catch (error) {
    await stop();
    setStatus(`failed: ${error.message || error}`);
  }
}

async function connect(room) {
  const pc = (state.pc = new RTCPeerConnection({ iceServers: [] }));
  pc.addTransceiver('audio', { direction: 'recvonly' });
  pc.addTransceiver('video', { direction: 'recvonly' });
  const stream = new MediaStream();
  pc.addEventListener('track', (event) => {
    stream.addTrack(event.track);
    $('player').srcObject = stream;
  });
  pc.addEventListener('connectionstatechange', () => {
    if (pc !== state.pc) return;
    if (pc.connectionState === 'connected') setStatus('playing');
    else if (pc.connectionState === 'failed') setStatus('connection failed');
  });
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  setStatus('connecting…');
  const response = await fetch(`/whep/${encodeURIComponent(room)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/sdp', authorization: `Bearer ${state.token}` },
    body: pc.localDescription.sdp,
  });
  if (response.status === 409) {
    // Nobody publishes yet: ask again when the server says to.
    pc.close();
    const seconds = Number(response.headers.get('retry-after')) || 5;
    setStatus(`nobody is live yet; trying again in ${seconds} s`);
    state.retryTimer = setTimeout(() => connect(room).catch(fail), seconds * 1000);
    return;
  }
  if (response.status !== 201) throw new Error(`${response.status} ${await response.text()}`);
  state.sessionUrl = new URL(response.headers.get('location'), location.href).href;
  await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
}

async function fail(error) {
  await stop();
  setStatus(`failed: ${error.message || error}`);
}

/** All our candidates go in the offer (no trickle); host candidates take a moment at most. */
function gatheringComplete(pc, ceilingMs = 2000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ceilingMs);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState !== 'complete') return;
      clearTimeout(timer);
      resolve();
    });
  });
}

async function stop() {
  clearTimeout(state.retryTimer);
  const { pc, sessionUrl, token } = state;
  Object.assign(state, { pc: null, sessionUrl: '' });
  if (pc) pc.close();
  // Ends the session on the server (its consumers and transport) at once.
  if (sessionUrl) {
    await fetch(sessionUrl, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    }).catch(() => undefined);
  }
  $('player').srcObject = null;
  $('play').disabled = false;
  $('stop').disabled = true;
  setStatus('stopped');
}

$('room').value = roomFromUrl();
$('token').value = paramFromUrl('token');
$('play').addEventListener('click', play);
$('stop').addEventListener('click', stop);
