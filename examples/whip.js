// Goes live through WHIP (RFC 9725) with @eyevinn/whip-web-client, bundled at /sdk/whip-client.js.
import { devToken, paramFromUrl, roomFromUrl } from './common.js';

const $ = (id) => document.getElementById(id);
/** What a test (or the console) can look at: the client, its peer connection, the identity. */
const state = (window.livestageWhip = {
  client: null,
  pc: null,
  identity: '',
  stream: null,
  /** Whether the server answered (a session to DELETE exists). */
  answered: false,
});

function setStatus(text) {
  $('status').textContent = text;
}

async function start() {
  $('start').disabled = true;
  try {
    const room = $('room').value.trim();
    let token = $('token').value.trim();
    if (!token) token = await devToken(room, 'host', 'WHIP host');
    state.identity = identityOf(token);
    setStatus('starting camera…');
    state.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    $('preview').srcObject = state.stream;
    state.client = new window.WHIP.WHIPClient({
      endpoint: `${location.origin}/whip/${encodeURIComponent(room)}`,
      // No STUN: the server is ICE-lite with public candidates; the default is Google's STUN.
      opts: { authkey: token, iceServers: [] },
      peerConnectionFactory: (configuration) => {
        state.pc = new RTCPeerConnection(configuration);
        state.pc.addEventListener('connectionstatechange', onConnectionState);
        return state.pc;
      },
    });
    setStatus('connecting…');
    await state.client.ingest(state.stream);
    // The client logs a refused offer (4xx/5xx) instead of throwing: no answer means refused.
    if (!state.pc.remoteDescription) throw new Error('the server refused the offer');
    state.answered = true;
    $('stop').disabled = false;
  } catch (error) {
    await stop();
    setStatus(`failed: ${error.message || error}`);
  }
}

function onConnectionState() {
  const connection = state.pc.connectionState;
  if (connection === 'connected') setStatus(`live as ${state.identity}`);
  else if (connection === 'failed') setStatus('connection failed');
  else if (connection !== 'closed') setStatus(connection);
}

async function stop() {
  $('stop').disabled = true;
  const { client, stream, pc, answered } = state;
  Object.assign(state, { client: null, stream: null, answered: false });
  // destroy() DELETEs the session (ends the publication); without a session, just hang up.
  if (client && answered) await client.destroy().catch(() => undefined);
  else if (pc) pc.close();
  if (stream) for (const track of stream.getTracks()) track.stop();
  $('preview').srcObject = null;
  $('start').disabled = false;
  setStatus('offline');
}

/** The token's subject: the identity the room shows this publisher under. */
function identityOf(token) {
  const payload = token.split('.')[1] || '';
  try {
    return JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))).sub || '';
  } catch {
    return '';
  }
}

$('room').value = roomFromUrl();
$('token').value = paramFromUrl('token');
$('start').addEventListener('click', start);
$('stop').addEventListener('click', stop);
