import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { EgressInfo } from '../../server/src/egress/EgressInfo.js';
import { launchChromium } from '../helpers/browser.js';
import { adminCall, ffprobe } from '../helpers/egress.js';
import {
  ADMIN_AUTH,
  eventually,
  openRoom,
  startTestServer,
  type TestServer,
} from '../helpers/server.js';
import { goLive, inPage, PAGE_ROOM, waitForDecodedFrames, watch } from './pages.js';

// Generous ceilings only: the machine may be busy with other suites.
const MEDIA_CEILING_MS = 30_000;
const UI_CEILING_MS = 15_000;

/** Any of the egress answers: one egress, or the list of them. */
type Reply = EgressInfo & { egresses?: EgressInfo[] };

// In-page code is JavaScript text (see pages.ts).

/** The WHEP page's peer connection, as its browser reports it. */
const WHEP_RECEIVED = `async () => {
  const pc = window.livestageWhep.pc;
  const received = { connection: pc ? pc.connectionState : 'none', framesDecoded: 0, frameWidth: 0,
    audioPackets: 0 };
  if (!pc) return received;
  (await pc.getStats()).forEach((s) => {
    if (s.type !== 'inbound-rtp') return;
    if (s.kind === 'video') {
      received.framesDecoded += s.framesDecoded || 0;
      received.frameWidth = Math.max(received.frameWidth, s.frameWidth || 0);
    } else if (s.kind === 'audio') received.audioPackets += s.packetsReceived || 0;
  });
  return received;
}`;

/** The HLS page's player: position, presented frames (for `ms`), size and fatal hls.js errors. */
const HLS_PLAYING = `(ms) => new Promise((resolve) => {
  const video = document.querySelector('#player');
  const startTime = video.currentTime;
  let presented = 0;
  const onFrame = () => { presented += 1; video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
  setTimeout(() => resolve({
    advanced: video.currentTime - startTime,
    presented,
    totalVideoFrames: video.getVideoPlaybackQuality().totalVideoFrames,
    width: video.videoWidth,
    height: video.videoHeight,
    fatalErrors: window.livestageHls.fatalErrors,
  }), ms);
})`;

/**
 * The HLS picture as a coarse grid: the mean brightness (0-255) of each of `columns` x `rows`
 * cells, row by row, drawn from the <video> into a canvas.
 */
const HLS_PICTURE = `({ columns, rows }) => {
  const video = document.querySelector('#player');
  const canvas = document.createElement('canvas');
  canvas.width = columns * 8;
  canvas.height = rows * 8;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  const cells = new Array(columns * rows).fill(0);
  for (let y = 0; y < canvas.height; y += 1) {
    for (let x = 0; x < canvas.width; x += 1) {
      const i = (y * canvas.width + x) * 4;
      const cell = Math.floor(y / 8) * columns + Math.floor(x / 8);
      cells[cell] += (data[i] + data[i + 1] + data[i + 2]) / 3 / 64;
    }
  }
  return cells.map(Math.round);
}`;

/**
 * The sizes of the simulcast layers the host page's camera sends (outbound-rtp). Which one the
 * snapshot gets depends on the layers dynacast lets the host encode at that moment.
 */
const HOST_SENT_SIZES = `async () => {
  const sizes = [];
  (await window.livestageHost.camera.producer.getStats()).forEach((s) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video' && s.frameWidth) {
      sizes.push(s.frameWidth + 'x' + s.frameHeight);
    }
  });
  return sizes;
}`;

const IDENTITY = `() => ${PAGE_ROOM}.localParticipant.identity`;

describe('e2e: WHIP in, WHEP and HLS out, recordings and snapshots (real Chromium)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let browser: Browser;
  let dataDir: string;
  const pages: Page[] = [];
  const egresses: { room: string; id: string }[] = [];

  async function newPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    pages.push(page);
    return page;
  }

  const admin = (method: string, url: string, body?: unknown) =>
    adminCall<Reply>(server, method, url, body);

  async function startEgress(room: string, type: 'hls' | 'record'): Promise<EgressInfo> {
    const started = await admin('POST', `/api/rooms/${room}/egress`, { type });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    egresses.push({ room, id: started.body.id });
    return started.body;
  }

  async function stopEgress(room: string, id: string): Promise<EgressInfo> {
    const index = egresses.findIndex((egress) => egress.id === id);
    if (index >= 0) egresses.splice(index, 1);
    const stopped = await admin('DELETE', `/api/rooms/${room}/egress/${id}`);
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    return stopped.body;
  }

  /** A host page live in `room`, and its identity. */
  async function liveHost(room: string): Promise<{ host: Page; hostId: string }> {
    const host = await newPage();
    await goLive(host, server.url, room);
    return { host, hostId: await inPage<string>(host, IDENTITY) };
  }

  before(async function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'livestage-e2e-ingest-'));
    server = await startTestServer({
      HLS_DIR: path.join(dataDir, 'hls'),
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      SNAPSHOT_DIR: path.join(dataDir, 'snapshots'),
      SNAPSHOT_INTERVAL_MS: '1000',
      HLS_SEGMENT_SECONDS: '1',
    });
    browser = await launchChromium();
  });

  afterEach(async function () {
    for (const { room, id } of egresses.splice(0)) {
      await admin('DELETE', `/api/rooms/${room}/egress/${id}`);
    }
    for (const page of pages.splice(0)) await page.close();
    await eventually(() => assert.deepEqual(server.egress.pids, []), 15_000, 'no ffmpeg left');
    await eventually(
      () => assert.equal(server.rooms.rooms.size, 0, 'rooms open'),
      15_000,
      'every room closed',
    );
  });

  after(async function () {
    await browser?.close();
    await server?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('a browser goes live through the eyevinn WHIP client; an SDK viewer decodes it', async function () {
    const room = `whip-${Date.now()}`;
    const publisher = await newPage();
    await publisher.goto(`${server.url}/whip.html?room=${room}`);
    await publisher.click('#start');
    await publisher
      .locator('#status', { hasText: /^live as / })
      .waitFor({ timeout: UI_CEILING_MS });
    const publisherId = await inPage<string>(publisher, '() => window.livestageWhip.identity');
    assert.ok(publisherId, 'the page knows its identity');
    assert.equal(server.ingest.count('whip'), 1, 'one WHIP session on the server');

    const viewer = await newPage();
    await watch(viewer, server.url, room);
    const decoded = await waitForDecodedFrames(
      viewer,
      `#stage [data-identity="${publisherId}"] video`,
      5,
      MEDIA_CEILING_MS,
    );
    assert.ok(decoded.width > 0 && decoded.height > 0, 'decoded frames have a size');

    // Stop DELETEs the session: the publisher leaves the room at once.
    await publisher.click('#stop');
    await publisher
      .locator('#status', { hasText: /^offline$/ })
      .waitFor({ timeout: UI_CEILING_MS });
    await eventually(
      () => {
        assert.equal(server.ingest.count('whip'), 0, 'WHIP sessions');
        assert.equal(openRoom(server, room).participants.has(publisherId), false, 'publisher left');
      },
      UI_CEILING_MS,
      'the WHIP session ended',
    );
  });

  it('a plain RTCPeerConnection plays the host through WHEP: video decoded, audio received', async function () {
    const room = `whep-${Date.now()}`;
    await liveHost(room);
    const player = await newPage();
    await player.goto(`${server.url}/whep.html?room=${room}`);
    await player.click('#play');
    await player.locator('#status', { hasText: /^playing$/ }).waitFor({ timeout: UI_CEILING_MS });
    const received = await eventually(
      async () => {
        const stats = await inPage<{
          framesDecoded: number;
          frameWidth: number;
          audioPackets: number;
        }>(player, WHEP_RECEIVED);
        assert.ok(stats.framesDecoded > 0, `frames decoded: ${JSON.stringify(stats)}`);
        assert.ok(stats.frameWidth > 0, 'frames have a size');
        assert.ok(stats.audioPackets > 0, 'audio packets received');
        return stats;
      },
      MEDIA_CEILING_MS,
      'WHEP media',
    );
    const decoded = await waitForDecodedFrames(player, '#player', 5, MEDIA_CEILING_MS);
    assert.equal(decoded.width, received.frameWidth, 'the <video> shows what was decoded');
    assert.equal(server.ingest.count('whep'), 1, 'one WHEP session on the server');

    await player.click('#stop');
    await eventually(
      () => assert.equal(server.ingest.count('whep'), 0, 'WHEP sessions'),
      UI_CEILING_MS,
      'the DELETE ended the WHEP session',
    );
  });

  it('hls.js plays the HLS egress; the composite re-lays itself when a guest comes on stage', async function () {
    const room = `hls-${Date.now()}`;
    const { host, hostId } = await liveHost(room);
    const egress = await startEgress(room, 'hls');
    assert.equal(egress.playlistUrl, `/hls/${room}/index.m3u8`);
    await eventually(
      async () => {
        const playlist = await (await fetch(`${server.url}${egress.playlistUrl}`)).text();
        assert.ok(playlist.split('\n').filter((line) => line.endsWith('.ts')).length >= 2);
      },
      MEDIA_CEILING_MS,
      'two HLS segments',
    );
    const [single] = (await admin('GET', `/api/rooms/${room}/egress`)).body.egresses ?? [];
    assert.deepEqual(single?.layout.videos, [hostId]);

    const player = await newPage();
    await player.goto(`${server.url}/hls.html?room=${room}`);
    await player.click('#play');
    await player
      .locator('#status', { hasText: /^playing$/ })
      .waitFor({ timeout: MEDIA_CEILING_MS });
    const playing = await eventually(
      async () => {
        const state = await inPage<HlsPlaying>(player, HLS_PLAYING, 2000);
        assert.deepEqual(state.fatalErrors, [], 'no fatal hls.js error');
        assert.ok(state.advanced > 0, `currentTime advances: ${JSON.stringify(state)}`);
        assert.ok(state.presented > 0, 'frames presented');
        return state;
      },
      MEDIA_CEILING_MS,
      'HLS playback',
    );
    assert.deepEqual([playing.width, playing.height], [1280, 720], 'the composite canvas');
    const before = await inPage<number[]>(player, HLS_PICTURE, GRID);
    await player.screenshot({ path: 'test-results/screenshots/hls-host.png' });

    // A viewer raises a hand; the host approves: the stage has two videos.
    const guest = await newPage();
    await watch(guest, server.url, room, 'Guest');
    const guestId = await inPage<string>(guest, IDENTITY);
    await guest.click('#raise-hand');
    await host.locator(`#hand-queue li[data-identity="${guestId}"] button.approve`).click({
      timeout: UI_CEILING_MS,
    });
    await eventually(
      async () => {
        const [relaid] = (await admin('GET', `/api/rooms/${room}/egress`)).body.egresses ?? [];
        assert.deepEqual(relaid?.layout.videos, [hostId, guestId]);
      },
      MEDIA_CEILING_MS,
      'the egress shows the guest',
    );
    // The player reaches the new layout a few segments later: side by side, letterboxed.
    await eventually(
      async () => {
        const after = await inPage<number[]>(player, HLS_PICTURE, GRID);
        assert.ok(sideBySide(before, after), `picture ${JSON.stringify(after)}`);
      },
      MEDIA_CEILING_MS,
      'the two-video layout in the HLS picture',
    );
    await player.screenshot({ path: 'test-results/screenshots/hls-stage.png' });
    const still = await inPage<HlsPlaying>(player, HLS_PLAYING, 1000);
    assert.deepEqual(still.fatalErrors, [], 'no fatal hls.js error');
    assert.ok(still.advanced > 0, 'still playing');
  });

  it('records the stage to an MP4: one H.264 and one AAC stream, as long as it ran', async function () {
    const room = `record-${Date.now()}`;
    await liveHost(room);
    const started = await startEgress(room, 'record');
    const startedAt = Date.now();
    await eventually(
      async () => {
        const [info] = (await admin('GET', `/api/rooms/${room}/egress`)).body.egresses ?? [];
        assert.equal(info?.status, 'active');
      },
      MEDIA_CEILING_MS,
      'the recording writes',
    );
    await new Promise((resolve) => setTimeout(resolve, 6000));
    const final = await stopEgress(room, started.id);
    const wallSeconds = (Date.now() - startedAt) / 1000;
    assert.equal(final.status, 'complete');
    assert.ok(final.file, 'the file');

    const probe = await ffprobe(final.file);
    const kinds = probe.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort();
    assert.deepEqual(kinds, ['audio:aac', 'video:h264']);
    const duration = Number(probe.format.duration);
    // Startup costs a few seconds of the wall time: generous bounds.
    assert.ok(duration > 2 && duration < wallSeconds + 2, `${duration} s of ${wallSeconds} s`);
    assert.ok(Math.abs((final.durationSeconds ?? 0) - duration) < 1, 'the reported duration');
  });

  it("serves a JPEG snapshot of the host's video at the size of a layer it publishes", async function () {
    const room = `snapshot-${Date.now()}`;
    const { host, hostId } = await liveHost(room);
    const url = `/api/rooms/${room}/snapshots/${hostId}.jpg`;
    const file = path.join(dataDir, 'host-snapshot.jpg');
    await eventually(
      async () => {
        const response = await fetch(`${server.url}${url}`, {
          headers: { authorization: ADMIN_AUTH },
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'image/jpeg');
        const jpeg = Buffer.from(await response.arrayBuffer());
        assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic bytes');
        writeFileSync(file, jpeg);
        const [picture] = (await ffprobe(file)).streams;
        const sent = await inPage<string[]>(host, HOST_SENT_SIZES);
        const size = `${picture?.width ?? 0}x${picture?.height ?? 0}`;
        assert.ok(
          sent.includes(size),
          `the snapshot (${size}) has the size of a layer sent: ${sent.join(', ')}`,
        );
      },
      MEDIA_CEILING_MS,
      'a snapshot of the published size',
    );
    const unauthorized = await fetch(`${server.url}${url}`);
    assert.equal(unauthorized.status, 401, 'snapshots need the API key');
  });
});

interface HlsPlaying {
  advanced: number;
  presented: number;
  totalVideoFrames: number;
  width: number;
  height: number;
  fatalErrors: string[];
}

const GRID = { columns: 16, rows: 9 };

/**
 * Whether `after` shows the two-video grid where `before` showed the host alone: two 16:9 tiles
 * side by side on the 16:9 canvas are letterboxed, so the top and bottom rows turn black where
 * the single video filled them.
 */
function sideBySide(before: number[], after: number[]): boolean {
  const rowMean = (cells: number[], row: number) =>
    cells.slice(row * GRID.columns, (row + 1) * GRID.columns).reduce((a, b) => a + b, 0) /
    GRID.columns;
  const edges = [0, GRID.rows - 1];
  const blackNow = edges.every((row) => rowMean(after, row) < 16);
  const filledBefore = edges.some((row) => rowMean(before, row) >= 16);
  return blackNow && filledBefore;
}
