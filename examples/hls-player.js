// Plays a room's HLS egress with hls.js (served at /vendor/hls/), or natively where the browser
// plays HLS itself (Safari).
import { roomFromUrl } from './common.js';

/** hls.js's UMD build sets window.Hls (undefined where it is not served). */
const Hls = window.Hls;
const $ = (id) => document.getElementById(id);
const RETRY_MS = 3000;
/** What a test (or the console) can look at: the player and every fatal error it reported. */
const state = (window.livestageHls = { hls: null, fatalErrors: [], retryTimer: 0 });

function setStatus(text) {
  $('status').textContent = text;
}

function play() {
  $('play').disabled = true;
  $('stop').disabled = false;
  const source = `/hls/${encodeURIComponent($('room').value.trim())}/index.m3u8`;
  const video = $('player');
  video.addEventListener('playing', () => setStatus('playing'), { once: true });
  if (Hls && Hls.isSupported()) {
    load(source, video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    video.src = source;
    video.play().catch(() => setStatus('press play'));
  } else {
    setStatus('this browser plays no HLS');
  }
}

function load(source, video) {
  setStatus('loading…');
  // Stay close to the live edge: two segments behind, not hls.js's default three.
  const hls = (state.hls = new Hls({ liveSyncDurationCount: 2 }));
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    state.fatalErrors.push(`${data.type}: ${data.details}`);
    hls.destroy();
    state.hls = null;
    // Most often the stream has not started (or has just ended): look again shortly.
    setStatus(`no stream (${data.details}); trying again…`);
    state.retryTimer = setTimeout(() => load(source, video), RETRY_MS);
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => setStatus('press play')));
  hls.loadSource(source);
  hls.attachMedia(video);
}

function stop() {
  clearTimeout(state.retryTimer);
  if (state.hls) state.hls.destroy();
  state.hls = null;
  const video = $('player');
  video.removeAttribute('src');
  video.load();
  $('play').disabled = false;
  $('stop').disabled = true;
  setStatus('stopped');
}

$('room').value = roomFromUrl();
$('play').addEventListener('click', play);
$('stop').addEventListener('click', stop);
