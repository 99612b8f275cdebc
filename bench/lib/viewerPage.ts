// The in-page side of the join benchmark. In-page code is kept as plain JavaScript text: tsx's
// transform would otherwise inject helpers (such as __name) that do not exist inside the page.

/** A step the SDK reported through ConnectOptions.onTiming (times: page performance.now()). */
export interface SdkMark {
  step: string;
  at: number;
  kind?: 'audio' | 'video';
}

/** A state change of one of the page's RTCPeerConnections. */
export interface PeerConnectionEvent {
  pc: number;
  what: 'ice' | 'connection' | 'track' | 'gathering' | 'signaling' | 'candidate';
  state?: string;
  at: number;
}

/** What the viewer's video receiver reported (inbound-rtp) once the first frame was shown. */
export interface InboundVideoStats {
  framesDecoded?: number;
  keyFramesDecoded?: number;
  framesReceived?: number;
  packetsReceived?: number;
  pliCount?: number;
  firCount?: number;
  nackCount?: number;
  totalDecodeTime?: number;
  jitterBufferDelay?: number;
  jitterBufferEmittedCount?: number;
  decoderImplementation?: string;
}

/** What one viewer page reports; all times are ms on the page's own performance.now() clock. */
export interface ViewerTiming {
  identity: string;
  /** performance.timeOrigin of the page (epoch ms), to compare with the server's clock. */
  timeOrigin: number;
  t0: number;
  tJoined: number;
  tSubscribed: number;
  tAttached: number;
  /** When RemoteTrack.attach() returned (forced layout, if any, included). */
  tAttachReturned: number;
  tFirstFrame: number;
  /** When the last packet of the first frame arrived (WebRTC frame metadata), if reported. */
  tFirstFrameReceived: number | null;
  /** Decode time of the first frame (frame metadata processingDuration, ms), if reported. */
  firstFrameDecodeMs: number | null;
  /** The video track was already subscribed when connect() returned. */
  subscribedBeforeJoined: boolean;
  frameWidth: number;
  frameHeight: number;
  marks: SdkMark[];
  peerConnectionEvents: PeerConnectionEvent[];
  inbound: InboundVideoStats | null;
}

/** Runs before the page's own scripts: records what every RTCPeerConnection goes through. */
export const RECORD_PEER_CONNECTIONS = `(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__benchPeerConnectionEvents) return;
  const events = [];
  let count = 0;
  window.__benchPeerConnectionEvents = events;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      const pc = ++count;
      const record = (what, state) => events.push({ pc, what, state, at: performance.now() });
      this.addEventListener('iceconnectionstatechange', () => record('ice', this.iceConnectionState));
      this.addEventListener('connectionstatechange', () => record('connection', this.connectionState));
      this.addEventListener('track', () => record('track'));
      this.addEventListener('icegatheringstatechange', () => record('gathering', this.iceGatheringState));
      this.addEventListener('signalingstatechange', () => record('signaling', this.signalingState));
      this.addEventListener('icecandidate', (event) =>
        record('candidate', event.candidate ? event.candidate.type || 'candidate' : 'end'));
    }
  };
})()`;

/**
 * Joins with the SDK (the page must have loaded /sdk/livestage.js) and resolves with the
 * timeline of the join up to the first decoded video frame. The token is fetched before the
 * clock starts; the room is kept on window so that the viewer stays until its page closes.
 * With `prepareMs` (a number), the page calls LiveRoom.prepare() (if the SDK has it) and waits
 * that long before it fetches the token.
 */
export const MEASURE_JOIN = `async ({ room, timeoutMs, prepareMs }) => {
  const { LiveRoom } = window.Livestage;
  // A page that has been open a moment before its viewer clicks Watch (as the examples do).
  if (prepareMs !== null) {
    if (typeof LiveRoom.prepare === 'function') LiveRoom.prepare();
    await new Promise((resolve) => setTimeout(resolve, prepareMs));
  }
  const response = await fetch('/api/dev/token?room=' + encodeURIComponent(room) + '&role=audience');
  const body = await response.json();
  if (!response.ok) throw new Error('token: ' + (body.error ? body.error.message : response.status));
  const token = body.token;

  let phase = 'connect';
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out after ' + timeoutMs + ' ms in phase: ' + phase)), timeoutMs);
  });
  const marks = [];
  const onTiming = (mark) => marks.push({ step: mark.step, at: mark.at, kind: mark.kind });

  const inboundVideo = async (track) => {
    const report = await track.consumer.getStats();
    for (const s of report.values()) {
      if (s.type !== 'inbound-rtp' || s.kind !== 'video') continue;
      return {
        framesDecoded: s.framesDecoded,
        keyFramesDecoded: s.keyFramesDecoded,
        framesReceived: s.framesReceived,
        packetsReceived: s.packetsReceived,
        pliCount: s.pliCount,
        firCount: s.firCount,
        nackCount: s.nackCount,
        totalDecodeTime: s.totalDecodeTime,
        jitterBufferDelay: s.jitterBufferDelay,
        jitterBufferEmittedCount: s.jitterBufferEmittedCount,
        decoderImplementation: s.decoderImplementation,
      };
    }
    return null;
  };

  const measure = async () => {
    const t0 = performance.now();
    const liveRoom = await LiveRoom.connect(location.origin, token, { onTiming });
    const tJoined = performance.now();
    window.__benchRoom = liveRoom;
    phase = 'subscribe';

    let subscribedBeforeJoined = false;
    const subscribed = new Promise((resolve) => {
      liveRoom.on('trackSubscribed', (track) => {
        if (track.kind === 'video') resolve({ track, at: performance.now() });
      });
      // A track that is already there must not make the page wait forever.
      for (const participant of liveRoom.participants.values()) {
        for (const track of participant.tracks.values()) {
          if (track.kind === 'video') {
            subscribedBeforeJoined = true;
            resolve({ track, at: tJoined });
          }
        }
      }
    });
    const { track, at: tSubscribed } = await subscribed;
    phase = 'first frame';

    const video = document.createElement('video');
    video.muted = true;
    video.style.width = '640px';
    video.style.height = '360px';
    video.style.display = 'block';
    const first = new Promise((resolve) => {
      video.requestVideoFrameCallback((_now, metadata) => {
        resolve({
          tFirstFrame: performance.now(),
          tFirstFrameReceived: typeof metadata.receiveTime === 'number' ? metadata.receiveTime : null,
          firstFrameDecodeMs:
            typeof metadata.processingDuration === 'number' ? metadata.processingDuration * 1000 : null,
          frameWidth: metadata.width,
          frameHeight: metadata.height,
        });
      });
    });
    document.body.append(video);
    const tAttached = performance.now();
    track.attach(video);
    const tAttachReturned = performance.now();
    const frame = await first;
    const inbound = await inboundVideo(track).catch(() => null);
    return {
      identity: liveRoom.localParticipant.identity,
      timeOrigin: performance.timeOrigin,
      t0,
      tJoined,
      tSubscribed,
      tAttached,
      tAttachReturned,
      subscribedBeforeJoined,
      ...frame,
      marks,
      peerConnectionEvents: window.__benchPeerConnectionEvents || [],
      inbound,
    };
  };
  try {
    return await Promise.race([measure(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}`;
