import { execFileSync } from 'node:child_process';
import type { BrowserContext, Page } from 'playwright-core';
import type { Participant } from '../../server/src/rooms/Participant.js';
import { eventually, type TestServer } from '../helpers/server.js';
import { waitForDecodedFrames, watch } from './pages.js';

// Fault injection for the resilience e2e tests and the recovery benchmark.
// In-page code is plain JavaScript text (tsx would inject helpers that do not exist in the page).
export const RECORD_FRAMES = `(() => {
  const video = document.querySelector('#stage video');
  window.__frames = [];
  const onFrame = () => { window.__frames.push(Date.now()); video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
})()`;

export const RECORD_MEMBERSHIP = `(() => {
  const room = (window.livestageHost || window.livestageViewer).room;
  window.__membership = [];
  room.on('participantJoined', (p) => window.__membership.push('joined ' + p.identity));
  room.on('participantLeft', (p) => window.__membership.push('left ' + p.identity));
})()`;

/** The viewer's media path: the local port of the selected ICE candidate pair. */
export const LOCAL_MEDIA_PORT = `(async () => {
  const room = window.livestageViewer.room;
  for (const participant of room.participants.values()) {
    for (const track of participant.tracks.values()) {
      const report = await track.consumer.getStats();
      const stats = [...report.values()];
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
      const pair = stats.find((s) => s.id === (transport && transport.selectedCandidatePairId));
      const local = pair && stats.find((s) => s.id === pair.localCandidateId);
      if (local) return { port: local.port, protocol: local.protocol };
    }
  }
  return null;
})()`;

const RULE_TAG = ['-m', 'comment', '--comment', 'livestage-e2e'];

function iptables(...args: string[]): void {
  execFileSync('iptables', args, { stdio: 'pipe' });
}

/** Black-holes one UDP port (both directions) and every ICE-TCP connection to the worker. */
export function cutMedia(udpPort: number, workerTcpPort: number): () => void {
  const rules = [
    ['OUTPUT', '-p', 'udp', '--sport', String(udpPort)],
    ['OUTPUT', '-p', 'udp', '--dport', String(udpPort)],
    ['OUTPUT', '-p', 'tcp', '--dport', String(workerTcpPort)],
  ];
  for (const rule of rules) iptables('-I', ...rule, ...RULE_TAG, '-j', 'DROP');
  return () => {
    for (const rule of rules) iptables('-D', ...rule, ...RULE_TAG, '-j', 'DROP');
  };
}

/** A viewer page in its own context, connected and decoding the host's video. */
export async function watchVideo(
  context: BrowserContext,
  url: string,
  room: string,
): Promise<Page> {
  const page = await context.newPage();
  await watch(page, url, room);
  await waitForDecodedFrames(page, '#stage video', 5);
  return page;
}

export const viewerIdentity = (page: Page) =>
  page.evaluate<string>('window.livestageViewer.room.localParticipant.identity');

export interface NetworkCut {
  /** ms from the restore to the next decoded frame. */
  framesAfterMs: number;
  /** ms between the last frame before the restore and the restore (≈ the cut when it bit). */
  silentMs: number;
  /** The server-side participant before the cut, to compare with the one after. */
  participant: Participant;
  suspendedDuringCut: boolean;
}

/**
 * Cuts one viewer's network the way a tunnel or a Wi-Fi switch does: its media black-holed, its
 * page offline and its signaling connection dropped, for `cutMs`; then restores everything and
 * waits for the next decoded frame.
 */
export async function cutNetwork(
  server: TestServer,
  room: string,
  context: BrowserContext,
  viewer: Page,
  cutMs: number,
): Promise<NetworkCut> {
  const identity = await viewerIdentity(viewer);
  const participant = server.rooms.rooms.get(room)?.participants.get(identity);
  if (!participant?.recvTransport) throw new Error(`${identity} is not receiving in ${room}`);
  const media = await viewer.evaluate<{ port: number; protocol: string } | null>(LOCAL_MEDIA_PORT);
  if (!media || media.protocol !== 'udp') throw new Error(`media path: ${JSON.stringify(media)}`);
  const tcp = participant.recvTransport.iceCandidates.find((c) => c.protocol === 'tcp');
  if (!tcp) throw new Error('the worker offers no TCP candidate');
  await viewer.evaluate(RECORD_FRAMES);

  const restoreMedia = cutMedia(media.port, tcp.port);
  let restoredAt: number;
  let suspendedDuringCut: boolean;
  try {
    await context.setOffline(true);
    server.io.sockets.sockets.get(participant.connectionId ?? '')?.conn.close();
    await new Promise((resolve) => setTimeout(resolve, cutMs));
    suspendedDuringCut = participant.suspended;
  } finally {
    restoredAt = Date.now();
    restoreMedia();
    await context.setOffline(false);
  }
  const framesBefore = await viewer.evaluate<number[]>('window.__frames');
  const lastBefore = framesBefore.filter((t) => t <= restoredAt).at(-1) ?? 0;
  const firstAfter = await eventually(
    async () => {
      const frames = await viewer.evaluate<number[]>('window.__frames');
      const next = frames.find((t) => t > restoredAt);
      if (next === undefined) throw new Error('no frame yet');
      return next;
    },
    30_000,
    'frames after the restore',
  );
  return {
    framesAfterMs: firstAfter - restoredAt,
    silentMs: restoredAt - lastBefore,
    participant,
    suspendedDuringCut,
  };
}

/** SIGKILLs the (only) media worker; resolves when every viewer decodes a new video track. */
export async function killWorkerAndWait(server: TestServer, viewers: Page[]): Promise<number> {
  const oldTracks = await Promise.all(
    viewers.map((v) => v.getAttribute('#stage .tile[data-track-id]', 'data-track-id')),
  );
  const killedAt = Date.now();
  const worker = server.pool.workers[0];
  if (!worker) throw new Error('no media worker');
  process.kill(worker.worker.pid, 'SIGKILL');
  await Promise.all(
    viewers.map((viewer, i) =>
      waitForDecodedFrames(
        viewer,
        `#stage .tile[data-track-id]:not([data-track-id="${oldTracks[i]}"]) video`,
        5,
        60_000,
      ),
    ),
  );
  return Date.now() - killedAt;
}
