import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { Participant } from '../../server/src/rooms/Participant.js';
import { launchChromium } from '../helpers/browser.js';
import { eventually, openRoom, startTestServer, type TestServer } from '../helpers/server.js';
import { RECORD_MEMBERSHIP } from './faults.js';
import { goLive, inPage, waitForDecodedFrames, watch } from './pages.js';

// Generous ceilings only: the machine may be busy with other suites.
const MEDIA_CEILING_MS = 30_000;
const GRACE_MS = 3000;

// In-page code is JavaScript text (see pages.ts).
const IDENTITY = `() => (window.livestageHost || window.livestageViewer).room.localParticipant.identity`;

/**
 * Installed before the page's scripts: while `__holdProduce` is set, the page's socket.io
 * 'produce' requests are held back instead of sent; `__releaseAt(at)` sends them at wall-clock
 * time `at`. Pages share the clock, so two hosts' requests reach the server at the same instant
 * however long each browser took to capture and negotiate.
 */
const PRODUCE_GATE = `{
  window.__held = [];
  window.__holdProduce = false;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (window.__holdProduce && typeof data === 'string' && /^42\\d*\\["produce"/.test(data)) {
      window.__held.push(() => send.call(this, data));
      return;
    }
    return send.call(this, data);
  };
  window.__releaseAt = (at) => setTimeout(() => {
    window.__holdProduce = false;
    for (const release of window.__held.splice(0)) release();
  }, Math.max(0, at - Date.now()));
}`;

const HOLD_PRODUCE = `() => { window.__holdProduce = true; }`;
const HELD = `() => window.__held.length`;
const RELEASE_AT = `(at) => window.__releaseAt(at)`;

const GO_LIVE = `() => { document.querySelector('#go-live').click(); }`;

const PUBLISH_CAMERA = `async () => {
  const state = window.livestageHost;
  state.camera = await state.room.publishCamera({ resolution: '720p', simulcast: true });
  state.camera.attach(document.querySelector('#preview'));
  return state.camera.id;
}`;

const UNPUBLISH_CAMERA = `async () => {
  const state = window.livestageHost;
  await state.room.unpublish(state.camera);
  state.camera = null;
}`;

/** What the host page's SDK says about its connection, from now on. */
const RECORD_CONNECTION = `() => {
  const room = window.livestageHost.room;
  window.__connection = [];
  room.on('reconnecting', () => window.__connection.push('reconnecting'));
  room.on('reconnected', (how) => window.__connection.push('reconnected ' + how));
  room.on('disconnected', (reason) => window.__connection.push('disconnected ' + reason));
  room.on('error', (error) => window.__connection.push('error ' + error.message));
}`;

const LOCAL_TRACK_IDS = `() => [...window.livestageHost.room.localParticipant.tracks.values()].map((t) => t.id).sort()`;

function tileVideo(identity: string): string {
  return `#stage [data-identity="${identity}"] video`;
}

/** The track ids of the page's video tiles (the local preview has none). */
async function videoTiles(page: Page): Promise<string[]> {
  const ids = await page
    .locator('#stage .tile[data-track-id]:has(video)')
    .evaluateAll((tiles) => tiles.map((tile) => (tile as HTMLElement).dataset.trackId ?? ''));
  return ids.sort();
}

function trackVideo(trackId: string): string {
  return `#stage [data-track-id="${trackId}"] video`;
}

/** Lets the held 'produce' request of every page go at one instant, once each page has one. */
async function releaseTogether(pages: Page[]): Promise<void> {
  await eventually(
    async () => {
      for (const page of pages) assert.equal(await inPage(page, HELD), 1);
    },
    MEDIA_CEILING_MS,
    "each host's produce request is ready",
  );
  const at = Date.now() + 200;
  await Promise.all(pages.map((page) => inPage(page, RELEASE_AT, at)));
}

/** Waits until the host page is live, or fails with what the page says instead. */
async function waitLive(page: Page): Promise<void> {
  const status = page.locator('#status', { hasText: /^(live|failed|offline)/ });
  await status.waitFor({ timeout: MEDIA_CEILING_MS });
  const text = await status.innerText();
  // A TIMEOUT here is what two publishers waiting on each other's request queue look like.
  assert.match(text, /^live/, `host page status: ${text}`);
}

describe('e2e: concurrency and rejoin (real Chromium)', function () {
  this.timeout(180_000);
  let browser: Browser;
  let server: TestServer;

  before(async function () {
    browser = await launchChromium();
  });
  after(async function () {
    await browser?.close();
  });
  beforeEach(async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1', RECONNECT_GRACE_MS: String(GRACE_MS) });
  });
  afterEach(async function () {
    for (const context of browser.contexts()) await context.close();
    await server?.close();
  });

  function participant(room: string, identity: string): Participant {
    const found = openRoom(server, room).participants.get(identity);
    assert.ok(found, `${identity} is in ${room} on the server`);
    return found;
  }

  /** Every viewer and host holds exactly one consumer per track of every other host. */
  async function assertSubscriptions(room: string, hosts: string[], viewers: string[]) {
    await eventually(
      () => {
        const tracksOf = (id: string) => [...participant(room, id).tracks.keys()];
        for (const subscriber of [...hosts, ...viewers]) {
          const expected = hosts.filter((h) => h !== subscriber).flatMap(tracksOf);
          const consumed = [...participant(room, subscriber).subscriptions.values()].map(
            (s) => s.consumer.producerId,
          );
          assert.deepEqual(consumed.sort(), expected.sort(), `consumers of ${subscriber}`);
        }
      },
      MEDIA_CEILING_MS,
      'one consumer per track for everyone',
    );
  }

  async function hostPage(): Promise<Page> {
    const page = await browser.newPage();
    await page.addInitScript(PRODUCE_GATE);
    return page;
  }

  async function openViewers(room: string, count: number): Promise<Page[]> {
    const viewers: Page[] = [];
    for (let i = 1; i <= count; i += 1) {
      const page = await browser.newPage();
      await watch(page, server.url, room, `Viewer ${i}`);
      viewers.push(page);
    }
    return viewers;
  }

  it('two hosts go live at the same instant: every viewer decodes both, each host the other', async function () {
    const room = `two-hosts-${Date.now()}`;
    const viewers = await openViewers(room, 2);
    const hosts = [await hostPage(), await hostPage()];
    await Promise.all(hosts.map((page) => page.goto(`${server.url}/host.html?room=${room}`)));

    // Both press Go live; their cameras' produce requests reach the server together.
    for (const page of hosts) await inPage(page, HOLD_PRODUCE);
    await Promise.all(hosts.map((page) => inPage(page, GO_LIVE)));
    await releaseTogether(hosts);
    await Promise.all(hosts.map(waitLive));

    const hostIds = await Promise.all(hosts.map((page) => inPage<string>(page, IDENTITY)));
    const viewerIds = await Promise.all(viewers.map((page) => inPage<string>(page, IDENTITY)));
    const deadline = Date.now() + MEDIA_CEILING_MS;
    const left = () => Math.max(1, deadline - Date.now());
    await Promise.all([
      ...viewers.flatMap((page) =>
        hostIds.map((id) => waitForDecodedFrames(page, tileVideo(id), 5, left())),
      ),
      waitForDecodedFrames(hosts[0]!, tileVideo(hostIds[1]!), 5, left()),
      waitForDecodedFrames(hosts[1]!, tileVideo(hostIds[0]!), 5, left()),
    ]);
    for (const id of hostIds) {
      const sources = [...participant(room, id).tracks.values()].map((t) => t.source).sort();
      assert.deepEqual(sources, ['camera', 'microphone'], `what ${id} publishes`);
    }
    await assertSubscriptions(room, hostIds, viewerIds);
  });

  it('two live hosts publish a new camera at the same instant, three times over', async function () {
    const room = `republish-${Date.now()}`;
    const hosts = [await hostPage(), await hostPage()];
    for (const page of hosts) await goLive(page, server.url, room);
    const viewers = await openViewers(room, 2);
    const hostIds = await Promise.all(hosts.map((page) => inPage<string>(page, IDENTITY)));
    const viewerIds = await Promise.all(viewers.map((page) => inPage<string>(page, IDENTITY)));

    for (let round = 1; round <= 3; round += 1) {
      await Promise.all(hosts.map((page) => inPage(page, UNPUBLISH_CAMERA)));
      for (const page of hosts) await inPage(page, HOLD_PRODUCE);
      const [cameras] = await Promise.all([
        Promise.all(hosts.map((page) => inPage<string>(page, PUBLISH_CAMERA))),
        releaseTogether(hosts),
      ]);
      const deadline = Date.now() + MEDIA_CEILING_MS;
      const left = () => Math.max(1, deadline - Date.now());
      await Promise.all([
        ...viewers.flatMap((page) =>
          cameras.map((id) => waitForDecodedFrames(page, trackVideo(id), 5, left())),
        ),
        waitForDecodedFrames(hosts[0]!, trackVideo(cameras[1]!), 5, left()),
        waitForDecodedFrames(hosts[1]!, trackVideo(cameras[0]!), 5, left()),
      ]);
      await assertSubscriptions(room, hostIds, viewerIds);
      // The cameras of the round before are gone from every page: one tile per live camera.
      await eventually(
        async () => {
          for (const [i, page] of hosts.entries())
            assert.deepEqual(await videoTiles(page), [cameras[1 - i]], `round ${round}: host`);
          for (const page of viewers)
            assert.deepEqual(await videoTiles(page), [...cameras].sort(), `round ${round}: viewer`);
        },
        10_000,
        'old tiles removed',
      );
    }
  });

  it('resume refused after the grace period: the host rejoins, republishes, the viewer decodes it', async function () {
    const room = `rejoin-${Date.now()}`;
    const hostContext = await browser.newContext();
    const host = await hostContext.newPage();
    await goLive(host, server.url, room);
    const hostId = await inPage<string>(host, IDENTITY);
    const [viewer] = (await openViewers(room, 1)) as [Page];
    await waitForDecodedFrames(viewer, tileVideo(hostId), 5, MEDIA_CEILING_MS);
    await inPage(host, RECORD_CONNECTION);
    await viewer.evaluate(RECORD_MEMBERSHIP);
    const before = participant(room, hostId);
    const tracksBefore = [...before.tracks.keys()];

    // Offline for longer than the grace: every reconnect attempt fails until the server has
    // let the participant go, so the next one presents a resume credential nobody knows.
    await hostContext.setOffline(true);
    try {
      server.io.sockets.sockets.get(before.connectionId ?? '')?.conn.close();
      await eventually(
        () => assert.equal(before.closed, true),
        GRACE_MS + 15_000,
        'the server let the host go',
      );
      await eventually(
        async () =>
          assert.deepEqual(await viewer.evaluate('window.__membership'), [`left ${hostId}`]),
        10_000,
        'the viewer saw the host leave',
      );
      assert.deepEqual(await inPage(host, `() => window.__connection`), ['reconnecting']);
    } finally {
      await hostContext.setOffline(false);
    }

    await eventually(
      async () =>
        assert.deepEqual(await inPage(host, `() => window.__connection`), [
          'reconnecting',
          'reconnected rejoined',
        ]),
      MEDIA_CEILING_MS,
      "the host's SDK rejoined",
    );
    const after = participant(room, hostId);
    assert.notEqual(after, before, 'a new participant on the server');
    const camera = await eventually(
      () => {
        const track = [...after.tracks.values()].find((t) => t.source === 'camera');
        assert.ok(track, 'the camera is published again');
        assert.equal(after.tracks.size, 2, 'camera and microphone');
        return track.producer.id;
      },
      MEDIA_CEILING_MS,
      'republished',
    );
    assert.ok(!tracksBefore.includes(camera), 'a new producer');
    await waitForDecodedFrames(viewer, trackVideo(camera), 5, MEDIA_CEILING_MS);
    assert.deepEqual(await viewer.evaluate('window.__membership'), [
      `left ${hostId}`,
      `joined ${hostId}`,
    ]);
    // The SDK's own view matches the server: the same two tracks, under their new ids.
    assert.deepEqual(await inPage(host, LOCAL_TRACK_IDS), [...after.tracks.keys()].sort());
    await host.locator('#status', { hasText: /^live/ }).waitFor({ timeout: 5000 });
  });
});
