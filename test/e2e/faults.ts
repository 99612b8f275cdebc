import { execFileSync } from 'node:child_process';
import type { BrowserContext, Page } from 'playwright-core';
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
