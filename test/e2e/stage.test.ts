import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import type { Participant } from '../../server/src/rooms/Participant.js';
import { produce } from '../../server/src/signaling/handlers/produce.js';
import { launchChromium } from '../helpers/browser.js';
import { eventually, startTestServer, workerCounts, openRoom } from '../helpers/server.js';
import { hostAndViewers, inPage, PAGE_ROOM, waitForDecodedFrames } from './pages.js';

// Generous ceilings only: the machine may be busy with other suites.
const MEDIA_CEILING_MS = 30_000;
const UI_CEILING_MS = 15_000;

// In-page code is JavaScript text (see pages.ts). `window.livestageHost` / `livestageViewer` are
// what the example pages expose; `room` is the SDK's LiveRoom.
const APP_ROOM = PAGE_ROOM;

/** Records, from now on, what would show a broken connection: participants leaving, a disconnect. */
const RECORD_CONNECTION = `() => {
  const room = ${APP_ROOM};
  window.stageTestLog = { left: [], disconnected: [] };
  room.on('participantLeft', (p) => window.stageTestLog.left.push(p.identity));
  room.on('disconnected', (reason) => window.stageTestLog.disconnected.push(reason));
}`;

const CONNECTION_LOG = `() => ({ ...window.stageTestLog, connected: ${APP_ROOM}.connected })`;

/** What the page's SDK holds for `identity`: remote tracks by kind (or, for itself, local ones). */
const SDK_TRACKS = `(identity) => {
  const room = ${APP_ROOM};
  const self = room.localParticipant;
  const tracks = identity === self.identity
    ? [...self.tracks.values()]
    : [...(room.participants.get(identity)?.tracks.values() ?? [])];
  return { role: identity === self.identity ? room.role : room.participants.get(identity)?.role,
    kinds: tracks.map((t) => t.kind).sort() };
}`;

/** The guest's audio as the host page receives it: RTP packets in, and an element playing it. */
const HOST_AUDIO_FROM = `async (identity) => {
  const participant = window.livestageHost.room.participants.get(identity);
  const track = participant && [...participant.tracks.values()].find((t) => t.kind === 'audio');
  if (!track) return null;
  let packetsReceived = 0;
  (await track.consumer.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') packetsReceived += s.packetsReceived;
  });
  const audio = [...document.querySelectorAll('#remote-audio audio')]
    .find((a) => a.dataset.trackId === track.id);
  const source = audio && audio.srcObject && audio.srcObject.getAudioTracks()[0];
  return {
    packetsReceived,
    playing: Boolean(audio && !audio.paused && !audio.muted),
    currentTime: audio ? audio.currentTime : 0,
    sourceLive: Boolean(source && source.readyState === 'live' && source.id === track.mediaStreamTrack.id),
  };
}`;

const PUBLISH_CAMERA = `() => ${APP_ROOM}.publishCamera().then(
  () => 'published',
  (error) => error.code || String(error),
)`;

interface HostAudio {
  packetsReceived: number;
  playing: boolean;
  currentTime: number;
  sourceLive: boolean;
}

describe('e2e: mic-link — viewers come on stage and go back (real Chromium)', function () {
  this.timeout(240_000);
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const room = `stage-${Date.now()}`;
  let host: Page;
  const viewers: Page[] = [];
  const ids: string[] = [];
  let hostId: string;

  before(async function () {
    server = await startTestServer();
    browser = await launchChromium();
    const pages = await hostAndViewers(browser, server.url, room, 3);
    ({ host, hostId } = pages);
    viewers.push(...pages.viewers);
    ids.push(...pages.viewerIds);
    for (const page of [host, ...viewers]) await inPage(page, RECORD_CONNECTION);
    // Everyone watches the host before anything happens on stage.
    for (const page of viewers) await waitForDecodedFrames(page, tileVideo(hostId), 3);
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  const liveRoom = () => openRoom(server, room);

  function participant(identity: string): Participant {
    const found = liveRoom().participants.get(identity);
    assert.ok(found, `participant ${identity} on the server`);
    return found;
  }

  function tile(identity: string): string {
    return `#stage [data-identity="${identity}"]`;
  }

  function tileVideo(identity: string): string {
    return `${tile(identity)} video`;
  }

  async function waitGone(page: Page, selector: string): Promise<void> {
    await page.locator(selector).first().waitFor({ state: 'detached', timeout: UI_CEILING_MS });
  }

  async function stageStatus(page: Page, text: RegExp): Promise<void> {
    await page.locator('#stage-status', { hasText: text }).waitFor({ timeout: UI_CEILING_MS });
  }

  /** Everything that must be true of a viewer that is back in the audience. */
  async function assertOffStage(guestId: string, guestPage: Page): Promise<void> {
    for (const page of [host, ...viewers]) {
      await waitGone(page, tile(guestId));
      await waitGone(page, `#remote-audio [data-identity="${guestId}"]`);
      await eventually(
        async () => {
          const sdk = await inPage<{ role: string; kinds: string[] }>(page, SDK_TRACKS, guestId);
          assert.deepEqual(sdk, { role: 'audience', kinds: [] });
        },
        UI_CEILING_MS,
        'the SDK holds no track of the former guest',
      );
    }
    await guestPage.locator('#leave-stage').waitFor({ state: 'hidden', timeout: UI_CEILING_MS });
    await guestPage.locator('#raise-hand').waitFor({ state: 'visible', timeout: UI_CEILING_MS });

    // The server: no producer, no send transport, and no right to publish anything.
    const guest = participant(guestId);
    assert.equal(guest.role, 'audience');
    assert.equal(guest.tracks.size, 0, 'no tracks left on the server');
    assert.equal(guest.sendTransport, undefined, 'send transport closed');
    await eventually(
      async () => assert.equal((await workerCounts(server)).producers, 2, 'only the host'),
      UI_CEILING_MS,
      'the guest has no producers',
    );

    // Publishing again is refused: by the SDK (no send transport any more)…
    assert.equal(await inPage<string>(guestPage, PUBLISH_CAMERA), 'FORBIDDEN');
    // …and by the server's produce handler itself, asked on behalf of this very participant.
    await assert.rejects(
      produce.handle({ room: liveRoom(), participant: guest, config: server.config }, {
        transportId: 'gone',
        kind: 'video',
        rtpParameters: { codecs: [], encodings: [] },
        source: 'camera',
      } as never),
      { code: 'FORBIDDEN' },
    );
    assert.equal((await workerCounts(server)).producers, 2, 'still only the host');
  }

  async function assertNobodyLeft(): Promise<void> {
    for (const page of [host, ...viewers]) {
      const log = await inPage<{ left: string[]; disconnected: string[]; connected: boolean }>(
        page,
        CONNECTION_LOG,
      );
      assert.deepEqual(log, { left: [], disconnected: [], connected: true });
    }
    const present = [...liveRoom().participants.values()].filter((p) => p.joined && !p.closed);
    assert.deepEqual(present.map((p) => p.identity).sort(), [hostId, ...ids].sort());
  }

  it('a raised hand is approved: all see and hear the guest; removed, its media ends everywhere', async function () {
    const [guestPage, second, third] = viewers as [Page, Page, Page];
    const guestId = ids[0]!;
    const guestBefore = participant(guestId);

    // Viewer 1 raises a hand with a message; the host sees it in the queue.
    await guestPage.fill('#hand-message', 'I have a question about the demo');
    await guestPage.click('#raise-hand');
    await stageStatus(guestPage, /waiting for the host/);
    const request = host.locator(`#hand-queue li[data-identity="${guestId}"]`);
    await request.waitFor({ timeout: UI_CEILING_MS });
    assert.match(await request.innerText(), /Viewer 1/);
    assert.match(await request.innerText(), /I have a question about the demo/);
    assert.match(await request.innerText(), /waiting \d+ s/);

    // Approve (mic + camera): viewers 2 and 3 decode the guest, the host hears it.
    await request.locator('button.approve').click();
    const deadline = Date.now() + MEDIA_CEILING_MS;
    const left = () => Math.max(1, deadline - Date.now());
    await Promise.all([
      waitForDecodedFrames(second, tileVideo(guestId), 5, left()),
      waitForDecodedFrames(third, tileVideo(guestId), 5, left()),
      waitForDecodedFrames(host, tileVideo(guestId), 5, left()),
      waitForDecodedFrames(guestPage, `${tile(guestId)}[data-local] video`, 5, left()),
    ]);
    const first = await eventually(
      async () => {
        const audio = await inPage<HostAudio | null>(host, HOST_AUDIO_FROM, guestId);
        assert.ok(audio && audio.packetsReceived > 0, 'audio packets reach the host');
        return audio;
      },
      left(),
      "the guest's audio at the host",
    );
    await eventually(
      async () => {
        const audio = await inPage<HostAudio>(host, HOST_AUDIO_FROM, guestId);
        assert.ok(audio.packetsReceived > first.packetsReceived, 'more audio packets keep coming');
        assert.ok(audio.currentTime > first.currentTime, 'the audio element advances');
        assert.equal(audio.playing, true, 'the audio element plays, unmuted');
        assert.equal(audio.sourceLive, true, "the element plays the guest's live track");
      },
      left(),
      "the guest's audio keeps playing at the host",
    );
    assert.equal(host.isClosed(), false);
    assert.equal(participant(guestId), guestBefore, 'same server participant: same connection');

    // Server side: camera + microphone from the guest; the host consumes the audio, unpaused.
    const guest = participant(guestId);
    const sources = [...guest.tracks.values()].map((t) => t.source).sort();
    assert.deepEqual(sources, ['camera', 'microphone']);
    const micId = [...guest.tracks.values()].find((t) => t.source === 'microphone')!.producer.id;
    const hostConsumer = [...participant(hostId).subscriptions.values()].find(
      (s) => s.consumer.producerId === micId,
    );
    assert.ok(hostConsumer, "the host consumes the guest's microphone");
    assert.equal(hostConsumer.consumer.paused, false);
    assert.equal(hostConsumer.consumer.producerPaused, false);

    // The UI: the guest is listed on stage at the host; the guest has a Leave stage button.
    await host.locator(`#on-stage li[data-identity="${guestId}"]`).waitFor();
    await guestPage.locator('#leave-stage').waitFor({ state: 'visible' });
    await stageStatus(guestPage, /You are on stage/);
    await waitGone(host, `#hand-queue li[data-identity="${guestId}"]`);

    // Meanwhile viewer 3 raises a hand too (so the host's queue is not empty in the picture).
    await third.fill('#hand-message', 'Could I join after Viewer 1?');
    await third.click('#raise-hand');
    const waiting = host.locator(`#hand-queue li[data-identity="${ids[2]}"]`);
    await waiting.waitFor({ timeout: UI_CEILING_MS });

    fs.mkdirSync('test-results/screenshots', { recursive: true });
    await host.screenshot({ path: 'test-results/screenshots/stage-host.png' });
    await second.screenshot({ path: 'test-results/screenshots/stage-viewer.png' });
    await guestPage.screenshot({ path: 'test-results/screenshots/stage-guest.png' });

    // …and lowers it again: gone from the host's queue.
    await third.click('#lower-hand');
    await stageStatus(third, /Hand lowered/);
    await waiting.waitFor({ state: 'detached', timeout: UI_CEILING_MS });
    await third.locator('#raise-hand').waitFor({ state: 'visible' });

    // Mute from the host pauses the guest's microphone on the server; unmute resumes it.
    const mute = host.locator(`#on-stage li[data-identity="${guestId}"] button.mute`);
    await mute.click();
    await guestPage.locator('#muted-by-host').waitFor({ state: 'visible', timeout: UI_CEILING_MS });
    await eventually(() => assert.equal(guest.tracks.get(micId)?.producer.paused, true));
    await host.locator(`${tile(guestId)} .muted-mark`).waitFor({ state: 'visible' });
    await mute.click();
    await guestPage.locator('#muted-by-host').waitFor({ state: 'hidden', timeout: UI_CEILING_MS });
    await eventually(() => assert.equal(guest.tracks.get(micId)?.producer.paused, false));

    // Remove: the guest's tracks end on every page and it may not publish any more.
    await host.locator(`#on-stage li[data-identity="${guestId}"] button.remove`).click();
    await stageStatus(guestPage, /took you off the stage/);
    await assertOffStage(guestId, guestPage);
    await waitGone(host, `#on-stage li[data-identity="${guestId}"]`);

    // One connection throughout: the same server participant, and nobody saw anyone leave.
    assert.equal(participant(guestId), guestBefore);
    assert.equal(guestBefore.closed, false);
    await assertNobodyLeft();
  });

  it('a denied hand and a declined invitation leave the viewer in the audience', async function () {
    const [, second, third] = viewers as [Page, Page, Page];
    await second.click('#raise-hand');
    const request = host.locator(`#hand-queue li[data-identity="${ids[1]}"]`);
    await request.waitFor({ timeout: UI_CEILING_MS });
    await request.locator('button.deny').click();
    await stageStatus(second, /Hand declined by the host/);
    await waitGone(host, `#hand-queue li[data-identity="${ids[1]}"]`);
    await second.locator('#raise-hand').waitFor({ state: 'visible' });

    await host.locator(`#audience li[data-identity="${ids[2]}"] button.invite`).click();
    await third.locator('#invite', { hasText: /invites you on stage/ }).waitFor();
    await third.click('#decline-invite');
    await host
      .locator('#stage-log', { hasText: /Invitation to Viewer 3: declined/ })
      .waitFor({ timeout: UI_CEILING_MS });
    await third.locator('#invite').waitFor({ state: 'hidden' });
    assert.equal(participant(ids[1]!).role, 'audience');
    assert.equal(participant(ids[2]!).role, 'audience');
    assert.equal((await workerCounts(server)).producers, 2);
    await assertNobodyLeft();
  });

  it('an accepted invitation brings a viewer on stage, and Leave stage takes it back', async function () {
    const [first, second, third] = viewers as [Page, Page, Page];
    const guestId = ids[2]!;
    await host.locator(`#audience li[data-identity="${guestId}"] button.invite`).click();
    await third.locator('#invite', { hasText: /invites you on stage/ }).waitFor();
    await third.click('#accept-invite');
    const deadline = Date.now() + MEDIA_CEILING_MS;
    const left = () => Math.max(1, deadline - Date.now());
    await Promise.all([
      waitForDecodedFrames(first, tileVideo(guestId), 5, left()),
      waitForDecodedFrames(second, tileVideo(guestId), 5, left()),
      waitForDecodedFrames(host, tileVideo(guestId), 5, left()),
      waitForDecodedFrames(third, `${tile(guestId)}[data-local] video`, 5, left()),
    ]);
    await host.locator(`#on-stage li[data-identity="${guestId}"]`).waitFor();

    await third.click('#leave-stage');
    await stageStatus(third, /You left the stage/);
    await assertOffStage(guestId, third);
    await waitGone(host, `#on-stage li[data-identity="${guestId}"]`);
    await assertNobodyLeft();
  });
});
