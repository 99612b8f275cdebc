// The in-page side of the ingest latency benchmark (bench/ingestLatency.ts). In-page code is plain
// JavaScript text: tsx's transform would otherwise inject helpers (such as __name) that do not
// exist inside the page. Times are epoch ms (performance.timeOrigin + performance.now()): every
// page of one browser reads the same clock.

/** Installs window.__now, __whip (publish a stream), __whipStop and __whep (play the room). */
export const PEER_HELPERS = `(() => {
  window.__now = () => performance.timeOrigin + performance.now();
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve();
    });
  });
  // RFC 9725 without trickle: the offer goes out once ICE gathering has completed.
  const exchange = async (pc, url, token) => {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const tPost = window.__now();
    const response = await fetch(url, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    const answer = await response.text();
    if (response.status !== 201) throw new Error(url + ': ' + response.status + ' ' + answer);
    const tAnswer = window.__now();
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    const session = new URL(response.headers.get('location'), location.href).href;
    return { tPost, tAnswer, session };
  };
  window.__sessions = {};
  window.__whip = async ({ url, token, stream }) => {
    const pc = new RTCPeerConnection();
    for (const track of window[stream].getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
    const result = await exchange(pc, url, token);
    window.__sessions[token] = { pc, session: result.session };
    return { tPost: result.tPost, tAnswer: result.tAnswer };
  };
  window.__stop = async (token) => {
    const entry = window.__sessions[token];
    delete window.__sessions[token];
    const response = await fetch(entry.session, {
      method: 'DELETE',
      headers: { authorization: 'Bearer ' + token },
    });
    entry.pc.close();
    return response.status;
  };
  // A WHEP viewer: its first decoded frame, measured from just before the POST.
  window.__whep = async ({ url, token, timeoutMs }) => {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const video = document.createElement('video');
    video.muted = true;
    video.autoplay = true;
    document.body.append(video);
    const firstFrame = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('WHEP: no frame within ' + timeoutMs + ' ms')), timeoutMs);
      pc.addEventListener('track', (event) => {
        if (event.track.kind !== 'video') return;
        video.srcObject = new MediaStream([event.track]);
        video.requestVideoFrameCallback((_now, meta) => {
          clearTimeout(timer);
          resolve({ at: window.__now(), width: meta.width, height: meta.height });
        });
      });
    });
    const result = await exchange(pc, url, token);
    window.__sessions[token] = { pc, session: result.session };
    const frame = await firstFrame;
    video.remove();
    return { tPost: result.tPost, tAnswer: result.tAnswer, ...frame };
  };
})()`;

/** An SDK viewer in the room: window.__firstFrames gets the time of every new video's first frame. */
export const SDK_VIEWER = `async ({ room }) => {
  const response = await fetch('/api/dev/token?room=' + encodeURIComponent(room) + '&role=audience');
  const body = await response.json();
  if (!response.ok) throw new Error('token: ' + JSON.stringify(body));
  window.__firstFrames = [];
  const liveRoom = await window.Livestage.LiveRoom.connect(location.origin, body.token);
  window.__viewerRoom = liveRoom;
  liveRoom.on('trackSubscribed', (track, participant) => {
    if (track.kind !== 'video') return;
    const video = document.createElement('video');
    video.muted = true;
    document.body.append(video);
    video.requestVideoFrameCallback((_now, meta) => {
      window.__firstFrames.push({
        identity: participant.identity,
        at: window.__now(),
        width: meta.width,
        height: meta.height,
      });
    });
    track.attach(video);
  });
  liveRoom.on('trackUnsubscribed', (track) => {
    for (const element of track.detach ? track.detach() : []) element.remove();
  });
}`;

/** The fake camera as window.__camera (the browser runs with --use-fake-device-for-media-stream). */
export const FAKE_CAMERA = `async ({ width, height, fps }) => {
  window.__camera = await navigator.mediaDevices.getUserMedia({
    video: { width, height, frameRate: fps },
    audio: true,
  });
}`;

/**
 * A canvas showing Date.now() as a barcode, captured as window.__barcode: COLUMNS x ROWS blocks,
 * the low 32 bits of the time (most significant first) and an 8-bit check (xor of its bytes and
 * 0xa5), white = 1. Blocks this big survive the encoders and the scaling into the composite.
 */
export const BARCODE_COLUMNS = 8;
export const BARCODE_ROWS = 5;

const BARCODE_BITS = `
  const COLUMNS = ${BARCODE_COLUMNS};
  const ROWS = ${BARCODE_ROWS};
  const checkOf = (v) => ((v >>> 24) ^ (v >>> 16) ^ (v >>> 8) ^ v ^ 0xa5) & 255;
  const bitsOf = (t) => {
    const v = t % 4294967296;
    const bits = [];
    for (let i = 31; i >= 0; i -= 1) bits.push((v >>> i) & 1);
    const check = checkOf(v);
    for (let i = 7; i >= 0; i -= 1) bits.push((check >>> i) & 1);
    return bits;
  };
  const valueOf = (bits) => {
    let v = 0;
    for (let i = 0; i < 32; i += 1) v = v * 2 + bits[i];
    let check = 0;
    for (let i = 32; i < 40; i += 1) check = check * 2 + bits[i];
    return checkOf(v) === check ? v : null;
  };
`;

export const BARCODE_CAMERA = `({ width, height, fps }) => {
  ${BARCODE_BITS}
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  document.body.append(canvas);
  const ctx = canvas.getContext('2d');
  const draw = () => {
    const bits = bitsOf(Date.now());
    const w = width / COLUMNS;
    const h = height / ROWS;
    bits.forEach((bit, i) => {
      ctx.fillStyle = bit ? '#fff' : '#000';
      ctx.fillRect((i % COLUMNS) * w, Math.floor(i / COLUMNS) * h, w, h);
    });
  };
  draw();
  setInterval(draw, 1000 / fps);
  window.__barcode = canvas.captureStream(fps);
}`;

/**
 * Plays `src` with hls.js (window.Hls) and `config`; once the first frame is shown and `settleMs`
 * passed, every `sampleMs` for `durationMs` draws the video into a canvas, reads the barcode
 * (the whole picture: one stage member fills the composite) and records Date.now() minus it.
 */
export const HLS_LATENCY = `async ({ src, config, settleMs, sampleMs, durationMs, timeoutMs }) => {
  ${BARCODE_BITS}
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const video = document.createElement('video');
  video.muted = true;
  document.body.append(video);
  const hls = new window.Hls(config);
  let fatal = null;
  hls.on(window.Hls.Events.ERROR, (_event, data) => {
    if (data.fatal) fatal = data.type + '/' + data.details;
  });
  hls.on(window.Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
  const tLoad = Date.now();
  hls.loadSource(src);
  hls.attachMedia(video);
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('hls.js: no frame within ' + timeoutMs + ' ms' + (fatal ? ' (' + fatal + ')' : ''))),
        timeoutMs,
      );
      video.requestVideoFrameCallback(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    const startupMs = Date.now() - tLoad;
    await sleep(settleMs);
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const latencies = [];
    const hlsLatencies = [];
    let unreadable = 0;
    const stalls = { count: 0 };
    video.addEventListener('waiting', () => (stalls.count += 1));
    const end = Date.now() + durationMs;
    while (Date.now() < end) {
      if (fatal) throw new Error('hls.js: ' + fatal);
      const w = video.videoWidth;
      const h = video.videoHeight;
      if (canvas.width !== w || canvas.height !== h) {
        canvas.width = w;
        canvas.height = h;
      }
      ctx.drawImage(video, 0, 0, w, h);
      const now = Date.now();
      const pixels = ctx.getImageData(0, 0, w, h).data;
      const bits = [];
      for (let i = 0; i < COLUMNS * ROWS; i += 1) {
        const x = Math.floor(((i % COLUMNS) + 0.5) * (w / COLUMNS));
        const y = Math.floor((Math.floor(i / COLUMNS) + 0.5) * (h / ROWS));
        const o = (y * w + x) * 4;
        const luma = 0.299 * pixels[o] + 0.587 * pixels[o + 1] + 0.114 * pixels[o + 2];
        bits.push(luma > 128 ? 1 : 0);
      }
      const shown = valueOf(bits);
      if (shown === null) unreadable += 1;
      else latencies.push((now % 4294967296) - shown);
      if (typeof hls.latency === 'number' && Number.isFinite(hls.latency)) hlsLatencies.push(hls.latency * 1000);
      await sleep(sampleMs);
    }
    return { startupMs, latencies, unreadable, hlsLatencies, stalls: stalls.count, width: video.videoWidth, height: video.videoHeight };
  } finally {
    hls.destroy();
    video.remove();
  }
}`;
