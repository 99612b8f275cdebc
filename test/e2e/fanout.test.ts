import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { types } from 'mediasoup';
import { launchChromium } from '../helpers/browser.js';
import {
  eventually,
  openRoom,
  startTestServer,
  TEST_KEYS,
  type TestServer,
} from '../helpers/server.js';
import {
  goLive,
  hostCameraSending,
  inPage,
  remoteVideoLayer,
  viewerCountLabel,
  waitForDecodedFrames,
  watch,
  watchInSmallTile,
} from './pages.js';

// Generous ceilings only: two cores run the host's encoder, every viewer's decoder and the SFU.
const MEDIA_CEILING_MS = 40_000;
const LAYER_CEILING_MS = 60_000;
const VIDEO = '#stage video';
const TOP_RID = 'r2';
/** A layer counts as stopped when its bytesSent does not move for this long. */
const STILL_FOR_MS = 3000;

const LARGE = { width: 1280, height: 900 };
const SMALL = { width: 480, height: 400 };

async function identityOf(page: Page): Promise<string> {
  return inPage<string>(
    page,
    `() => (window.livestageHost || window.livestageViewer).room.localParticipant.identity`,
  );
}

async function decodedSize(page: Page): Promise<{ width: number; height: number }> {
  const { width, height } = await waitForDecodedFrames(page, VIDEO, 3);
  return { width, height };
}

async function capBitrate(
  server: TestServer,
  room: string,
  identity: string,
  maxOutgoingBitrate: number | null,
): Promise<void> {
  const auth = Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64');
  const response = await fetch(`${server.url}/api/rooms/${room}/participants/${identity}`, {
    method: 'PATCH',
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
    body: JSON.stringify({ maxOutgoingBitrate }),
  });
  assert.equal(response.status, 200, await response.text());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many bytes the host's browser sent on `rid` during the next `ms`. */
async function hostSentOn(host: Page, rid: string, ms: number): Promise<number> {
  const before = (await hostCameraSending(host)).bytesSentByRid[rid] ?? 0;
  await sleep(ms);
  const after = (await hostCameraSending(host)).bytesSentByRid[rid] ?? 0;
  return after - before;
}

describe('e2e: one room over two media workers (real Chromium)', function () {
  this.timeout(300_000);
  let server: TestServer;
  let browser: Browser;
  let host: Page;
  const room = `fanout-${Date.now()}`;
  const viewers: Page[] = [];

  before(async function () {
    server = await startTestServer({
      MEDIA_WORKERS: '2',
      MEDIA_WORKER_MAX_CONSUMERS: '1',
      ROOM_VIEWER_COUNT_INTERVAL_MS: '500',
    });
    browser = await launchChromium();
    host = await browser.newPage();
    await goLive(host, server.url, room);
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  it('a viewer on a non-origin worker decodes the host at 1280x720, and drops a layer under a REST bitrate cap', async function () {
    const liveRoom = openRoom(server, room);
    let edgeViewer: { page: Page; identity: string } | undefined;
    for (let i = 0; i < 4 && !edgeViewer; i += 1) {
      const page = await browser.newPage({ viewport: LARGE });
      await watch(page, server.url, room);
      viewers.push(page);
      const identity = await identityOf(page);
      const worker = await eventually(
        () => {
          const index = liveRoom.workerIndexOf(identity);
          assert.ok(index !== undefined, `${identity} has a receiving transport`);
          return index;
        },
        10_000,
        'viewer placed on a worker',
      );
      if (worker !== liveRoom.originWorkerIndex) edgeViewer = { page, identity };
      // Viewers on the origin only fill its budget: not decoding them spares the CPU.
      else await page.evaluate("document.getElementById('stage').style.display = 'none'");
    }
    assert.ok(
      edgeViewer,
      `one of ${viewers.length} viewers lands off the origin worker ${liveRoom.originWorkerIndex}`,
    );
    const { page, identity } = edgeViewer;

    await eventually(
      async () => {
        const { width, height } = await decodedSize(page);
        assert.equal(`${width}x${height}`, '1280x720', 'decoded size');
      },
      LAYER_CEILING_MS,
      'viewer on the non-origin worker at 1280x720',
    );

    await capBitrate(server, room, identity, 250_000);
    await eventually(
      async () => {
        const layer = await remoteVideoLayer(page);
        assert.ok(layer !== null && layer < 2, `forwarded layer ${layer} below the top`);
        const { width } = await decodedSize(page);
        assert.ok(width < 1280, `decoded width ${width} shrank`);
      },
      LAYER_CEILING_MS,
      'capped viewer drops a layer',
    );

    await capBitrate(server, room, identity, null);
    await eventually(
      async () => {
        assert.equal(await remoteVideoLayer(page), 2, 'top layer forwarded again');
        const { width, height } = await decodedSize(page);
        assert.equal(`${width}x${height}`, '1280x720', 'decoded size');
      },
      LAYER_CEILING_MS,
      'uncapped viewer back at 1280x720',
    );
  });

  it('every viewer and the host show how many watch', async function () {
    const expected = `${viewers.length} watching`;
    for (const page of viewers) {
      await eventually(
        async () => assert.equal(await viewerCountLabel(page), expected, 'viewer label'),
        15_000,
        'viewer count on a viewer page',
      );
    }
    await eventually(
      async () => assert.equal(await viewerCountLabel(host), String(viewers.length), 'host label'),
      15_000,
      'viewer count on the host page',
    );
    await viewers.pop()!.close();
    const after = `${viewers.length} watching`;
    await eventually(
      async () => {
        assert.equal(await viewerCountLabel(viewers[0]!), after, 'viewer label');
        assert.equal(await viewerCountLabel(host), String(viewers.length), 'host label');
      },
      15_000,
      'viewer count follows a leave',
    );
  });
});

describe('e2e: dynacast, the host encodes only the layers someone watches (real Chromium)', function () {
  this.timeout(300_000);
  let server: TestServer;
  let browser: Browser;
  let host: Page;
  const room = `dynacast-${Date.now()}`;
  const smallViewers: Page[] = [];

  before(async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    browser = await launchChromium();
    host = await browser.newPage();
    await goLive(host, server.url, room);
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  /** The host's camera producer on the server and its bytes received on `rid` over the next `ms`. */
  async function serverReceivedOn(rid: string, ms: number): Promise<number> {
    const hostIdentity = await identityOf(host);
    const producer = cameraProducer(hostIdentity);
    const bytes = async () =>
      ((await producer.getStats()) as { rid?: string; byteCount: number }[])
        .filter((s) => s.rid === rid)
        .reduce((sum, s) => sum + s.byteCount, 0);
    const before = await bytes();
    await sleep(ms);
    return (await bytes()) - before;
  }

  /** The server's dynacast decision for the host's camera: encode layers 0..this. */
  async function serverLayersNeeded(): Promise<number | undefined> {
    const producer = cameraProducer(await identityOf(host));
    return openRoom(server, room).layersNeeded(producer.id);
  }

  function cameraProducer(identity: string): types.Producer {
    const participant = openRoom(server, room).participants.get(identity);
    for (const track of participant?.tracks.values() ?? []) {
      if (track.source === 'camera') return track.producer;
    }
    throw new Error('no camera producer');
  }

  it('with only small viewers the host stops sending its top layer; they still get video', async function () {
    for (let i = 0; i < 2; i += 1) {
      const page = await browser.newPage({ viewport: SMALL });
      await watchInSmallTile(page, server.url, room);
      smallViewers.push(page);
    }
    for (const page of smallViewers) {
      await eventually(
        async () => assert.equal(await remoteVideoLayer(page), 0, 'small viewer on layer 0'),
        MEDIA_CEILING_MS,
        'small viewer forwarded layer 0',
      );
    }
    await eventually(
      async () => {
        const sending = await hostCameraSending(host);
        assert.ok(
          sending.maxSpatialLayer !== null && sending.maxSpatialLayer < 2,
          `host told to cap its layers (max ${sending.maxSpatialLayer})`,
        );
        assert.equal(await hostSentOn(host, TOP_RID, STILL_FOR_MS), 0, `${TOP_RID} bytes sent`);
      },
      LAYER_CEILING_MS,
      'host stops sending its top layer',
    );
    assert.equal(await serverLayersNeeded(), 0, 'the server needs layer 0 only');
    assert.equal(
      await serverReceivedOn(TOP_RID, STILL_FOR_MS),
      0,
      `the server receives nothing on ${TOP_RID}`,
    );
    for (const page of smallViewers) await decodedSize(page);
  });

  it('a large viewer arrives: the host sends its top layer again and the viewer decodes 1280x720', async function () {
    const large = await browser.newPage({ viewport: LARGE });
    await watch(large, server.url, room);
    await eventually(
      async () => {
        assert.equal(await serverLayersNeeded(), 2, 'the server needs every layer');
        assert.equal((await hostCameraSending(host)).maxSpatialLayer, 2, 'all layers wanted');
        assert.ok((await hostSentOn(host, TOP_RID, 1000)) > 0, `${TOP_RID} bytes sent`);
      },
      LAYER_CEILING_MS,
      'host sends its top layer again',
    );
    await eventually(
      async () => {
        const { width, height } = await decodedSize(large);
        assert.equal(`${width}x${height}`, '1280x720', 'decoded size');
      },
      LAYER_CEILING_MS,
      'large viewer at 1280x720',
    );

    // And off again once nobody needs it.
    await large.close();
    await eventually(
      async () =>
        assert.equal(await hostSentOn(host, TOP_RID, STILL_FOR_MS), 0, `${TOP_RID} bytes sent`),
      LAYER_CEILING_MS,
      'host stops its top layer when the large viewer leaves',
    );
    for (const page of smallViewers) await decodedSize(page);
    // Every layer change went through without an error reported to the app.
    assert.doesNotMatch((await host.locator('#stage-log').textContent()) ?? '', /error/);
  });
});
