// Turns one viewer's page timeline and the server's trace of its join into named milestones (ms
// since LiveRoom.connect() was called), and summarizes them over all viewers.
import { fmt, printTable, round, stats, type Stats } from './report.js';
import type { ServerJoinTrace, ServerTracer } from './serverTrace.js';
import type { PeerConnectionEvent, ViewerTiming } from './viewerPage.js';

/** Milestones in the order a join usually reaches them. */
export const MILESTONES = [
  'socket open',
  'welcome',
  'device loaded',
  'join sent',
  'recv transport made (server)',
  'join answered',
  'connect() resolved',
  'newConsumer audio',
  'newConsumer video',
  'connectTransport sent',
  'connectTransport answered',
  'ICE gathering (page)',
  'first local candidate (page)',
  'ICE checking (page)',
  'ICE connected (server)',
  'ICE connected (page)',
  'DTLS connected (server)',
  'DTLS connected (page)',
  'audio consumer made',
  'audio resume answered',
  'video consumer made',
  'video trackSubscribed',
  'video attached (page)',
  'attach() returned (page)',
  'video resume sent',
  'video resumed (server)',
  'video resume answered',
  'keyframe asked of host',
  'keyframe from host',
  'keyframe out to viewer',
  'first frame received',
  'first frame shown',
] as const;

export type Milestone = (typeof MILESTONES)[number];
export type Timeline = Partial<Record<Milestone, number>>;

/** The critical path of a first frame, one segment after another. */
export const SEGMENTS: [label: string, from: Milestone, to: Milestone][] = [
  ['connect → socket open', 'socket open', 'socket open'],
  ['socket open → welcome', 'socket open', 'welcome'],
  ['welcome → device loaded', 'welcome', 'device loaded'],
  ['device loaded → join answered', 'device loaded', 'join answered'],
  ['join answered → newConsumer video', 'join answered', 'newConsumer video'],
  ['newConsumer video → video consumer made', 'newConsumer video', 'video consumer made'],
  ['video consumer made → trackSubscribed', 'video consumer made', 'video trackSubscribed'],
  ['trackSubscribed → attached (page)', 'video trackSubscribed', 'video attached (page)'],
  ['attached → resume sent', 'video attached (page)', 'video resume sent'],
  ['resume sent → resumed (server)', 'video resume sent', 'video resumed (server)'],
  ['resumed → keyframe asked of host', 'video resumed (server)', 'keyframe asked of host'],
  ['keyframe asked → keyframe from host', 'keyframe asked of host', 'keyframe from host'],
  ['keyframe from host → out to viewer', 'keyframe from host', 'keyframe out to viewer'],
  ['keyframe out → first frame received', 'keyframe out to viewer', 'first frame received'],
  ['first frame received → shown', 'first frame received', 'first frame shown'],
];

/** The transport's own path, which the first keyframe request waits for as well. */
export const SIDE_SEGMENTS: [label: string, from: Milestone, to: Milestone][] = [
  ['newConsumer video → connectTransport sent', 'newConsumer video', 'connectTransport sent'],
  ['connectTransport sent → answered', 'connectTransport sent', 'connectTransport answered'],
  ['video consumer made → ICE checking (page)', 'video consumer made', 'ICE checking (page)'],
  ['video consumer made → ICE connected (server)', 'video consumer made', 'ICE connected (server)'],
  ['ICE → DTLS connected (server)', 'ICE connected (server)', 'DTLS connected (server)'],
  ['DTLS connected (server) → keyframe asked', 'DTLS connected (server)', 'keyframe asked of host'],
  ['video resumed (server) → keyframe asked', 'video resumed (server)', 'keyframe asked of host'],
];

function firstMark(
  timing: ViewerTiming,
  step: string,
  kind?: 'audio' | 'video',
): number | undefined {
  return timing.marks.find((m) => m.step === step && (kind === undefined || m.kind === kind))?.at;
}

/** Milestones of one viewer, in ms since its connect() call. */
export function timelineOf(
  timing: ViewerTiming,
  server: ServerJoinTrace,
  tracer: ServerTracer,
): Timeline {
  const page = (at: number | undefined | null): number | undefined =>
    at === undefined || at === null ? undefined : at - timing.t0;
  const epoch = (at: number | undefined): number | undefined =>
    at === undefined ? undefined : at - timing.timeOrigin - timing.t0;
  // The transport that received the tracks is the recv transport's RTCPeerConnection.
  const recvPc = timing.peerConnectionEvents.find((e) => e.what === 'track')?.pc;
  const pcEvent = (what: PeerConnectionEvent['what'], state?: string): number | undefined =>
    timing.peerConnectionEvents.find(
      (e) => e.pc === recvPc && e.what === what && (state === undefined || e.state === state),
    )?.at;
  const resumed = server.videoConsumerResumed;
  const host =
    server.videoKeyframeOut !== undefined && resumed !== undefined
      ? tracer.hostKeyframeFor(server.videoKeyframeOut, resumed, server.firstSpatialLayer)
      : {};
  const timeline: Timeline = {
    'socket open': page(firstMark(timing, 'socketConnected')),
    welcome: page(firstMark(timing, 'welcome')),
    'device loaded': page(firstMark(timing, 'deviceLoaded')),
    'join sent': page(firstMark(timing, 'joinSent')),
    'recv transport made (server)': epoch(server.recvTransportCreated),
    'join answered': page(firstMark(timing, 'joinAnswered')),
    'connect() resolved': page(timing.tJoined),
    'newConsumer audio': page(firstMark(timing, 'consumerAnnounced', 'audio')),
    'newConsumer video': page(firstMark(timing, 'consumerAnnounced', 'video')),
    'connectTransport sent': page(firstMark(timing, 'transportConnectSent')),
    'connectTransport answered': page(firstMark(timing, 'transportConnectAnswered')),
    'ICE gathering (page)': page(pcEvent('gathering', 'gathering')),
    'first local candidate (page)': page(pcEvent('candidate')),
    'ICE checking (page)': page(pcEvent('ice', 'checking')),
    'ICE connected (server)': epoch(server.iceConnected),
    'ICE connected (page)': page(pcEvent('ice', 'connected')),
    'DTLS connected (server)': epoch(server.dtlsConnected),
    'DTLS connected (page)': page(pcEvent('connection', 'connected')),
    'audio consumer made': page(firstMark(timing, 'consumerCreated', 'audio')),
    'audio resume answered': page(firstMark(timing, 'resumeAnswered', 'audio')),
    'video consumer made': page(firstMark(timing, 'consumerCreated', 'video')),
    'video trackSubscribed': page(timing.tSubscribed),
    'video attached (page)': page(timing.tAttached),
    'attach() returned (page)': page(timing.tAttachReturned),
    'video resume sent': page(firstMark(timing, 'resumeSent', 'video')),
    'video resumed (server)': epoch(resumed),
    'video resume answered': page(firstMark(timing, 'resumeAnswered', 'video')),
    'keyframe asked of host': epoch(host.requested),
    'keyframe from host': epoch(host.arrived),
    'keyframe out to viewer': epoch(server.videoKeyframeOut),
    'first frame received': page(timing.tFirstFrameReceived),
    'first frame shown': page(timing.tFirstFrame),
  };
  return Object.fromEntries(
    Object.entries(timeline).filter(([, value]) => value !== undefined),
  ) as Timeline;
}

function segmentValues(timelines: Timeline[], from: Milestone, to: Milestone): number[] {
  return timelines.flatMap((t) => {
    const end = t[to];
    const start = from === to ? 0 : t[from];
    return end === undefined || start === undefined ? [] : [end - start];
  });
}

export interface BreakdownSummary {
  milestones: Partial<Record<Milestone, Stats>>;
  segments: Record<string, Stats>;
}

export function summarize(timelines: Timeline[]): BreakdownSummary {
  const milestones: Partial<Record<Milestone, Stats>> = {};
  for (const name of MILESTONES) {
    const values = timelines.flatMap((t) => (t[name] === undefined ? [] : [t[name]]));
    if (values.length > 0) milestones[name] = stats(values);
  }
  const segments: Record<string, Stats> = {};
  for (const [label, from, to] of [...SEGMENTS, ...SIDE_SEGMENTS]) {
    const values = segmentValues(timelines, from, to);
    if (values.length > 0) segments[label] = stats(values);
  }
  return { milestones, segments };
}

const cell = (s: Stats | undefined, n: number): string[] =>
  s ? [fmt(s.p50), fmt(s.p95), s.n === n ? '' : `n=${s.n}`] : ['—', '—', ''];

export function printBreakdown(summary: BreakdownSummary, viewers: number): void {
  console.log('');
  console.log('milestones, ms since LiveRoom.connect() (sorted by p50):');
  const sorted = MILESTONES.filter((name) => summary.milestones[name]).sort(
    (a, b) => (summary.milestones[a]?.p50 ?? 0) - (summary.milestones[b]?.p50 ?? 0),
  );
  printTable([
    ['', 'p50', 'p95', ''],
    ...sorted.map((name) => [name, ...cell(summary.milestones[name], viewers)]),
  ]);
  console.log('');
  console.log('critical path, ms per step (p50/p95 of each step on its own):');
  printTable([
    ['', 'p50', 'p95', ''],
    ...SEGMENTS.map(([label]) => [label, ...cell(summary.segments[label], viewers)]),
  ]);
  console.log('');
  console.log('the transport meanwhile, ms per step:');
  printTable([
    ['', 'p50', 'p95', ''],
    ...SIDE_SEGMENTS.map(([label]) => [label, ...cell(summary.segments[label], viewers)]),
  ]);
}

export function roundTimeline(timeline: Timeline): Timeline {
  return Object.fromEntries(
    Object.entries(timeline).map(([name, value]) => [name, round(value)]),
  ) as Timeline;
}
