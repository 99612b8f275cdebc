import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { types } from 'mediasoup';
import { launchChromium } from '../helpers/browser.js';
import {
  eventually,
  startTestServer,
  TEST_KEYS,
  workerCounts,
  openRoom,
} from '../helpers/server.js';
import { goLive, waitForDecodedFrames } from './pages.js';

const VIDEO = '#stage video';

describe('e2e: simulcast chosen by bandwidth and element size (real Chromium)', function () {
  this.timeout(180_000);
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const room = `simulcast-${Date.now()}`;
  const viewers: Page[] = [];
  let host: Page;

  before(async function () {
    server = await startTestServer();
    browser = await launchChromium();
    host = await browser.newPage();
    await goLive(host, server.url, room);
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  const liveRoom = () => openRoom(server, room);

  function cameraProducer(): types.Producer {
    for (const participant of liveRoom().participants.values()) {
      for (const track of participant.tracks.values()) {
        if (track.source === 'camera') return track.producer;
      }
    }
    throw new Error('no camera producer yet');
  }

  async function identityOf(page: Page): Promise<string> {
    return page.evaluate(
      'window.livestageViewer.room.localParticipant.identity',
    ) as Promise<string>;
  }

  function videoConsumerOf(identity: string): types.Consumer {
    const participant = liveRoom().participants.get(identity);
    assert.ok(participant, `participant ${identity}`);
    for (const { consumer } of participant.subscriptions.values()) {
      if (consumer.kind === 'video') return consumer;
    }
    throw new Error('no video consumer');
  }

  async function decodedSize(page: Page): Promise<string> {
    const { width, height } = await waitForDecodedFrames(page, VIDEO, 3);
    return `${width}x${height}`;
  }

  async function openViewer(viewport: { width: number; height: number }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    await page.goto(`${server.url}/viewer.html?room=${room}`);
    await page.click('#watch');
    await page.locator('#status', { hasText: /^watching/ }).waitFor({ timeout: 20_000 });
    viewers.push(page);
    return page;
  }

  async function capBitrate(identity: string, maxOutgoingBitrate: number | null): Promise<void> {
    const auth = Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64');
    const response = await fetch(`${server.url}/api/rooms/${room}/participants/${identity}`, {
      method: 'PATCH',
      headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
      body: JSON.stringify({ maxOutgoingBitrate }),
    });
    assert.equal(response.status, 200, await response.text());
  }

  it('the host publishes three simulcast layers and three viewers each decode 1280x720', async function () {
    await eventually(
      async () => {
        const stats = (await cameraProducer().getStats()) as { rid?: string; byteCount: number }[];
        const rids = stats.filter((s) => s.byteCount > 0).map((s) => s.rid);
        assert.deepEqual([...rids].sort(), ['r0', 'r1', 'r2']);
      },
      20_000,
      'three layers arriving',
    );
    for (let i = 0; i < 3; i += 1) await openViewer({ width: 1280, height: 900 });
    for (const page of viewers) {
      await eventually(
        async () => assert.equal(await decodedSize(page), '1280x720'),
        40_000,
        'viewer at 1280x720',
      );
    }
  });

  it('a capped viewer drops to a lower layer and its decoded size shrinks; uncapped, it comes back', async function () {
    const page = viewers[0]!;
    const identity = await identityOf(page);
    await capBitrate(identity, 250_000);
    await eventually(
      async () => {
        assert.ok(
          (videoConsumerOf(identity).currentLayers?.spatialLayer ?? 2) < 2,
          'lower spatial layer',
        );
        const [width] = (await decodedSize(page)).split('x').map(Number);
        assert.ok(width! < 1280, `decoded width ${width} shrank`);
      },
      40_000,
      'capped viewer drops a layer',
    );
    // The others are untouched by one viewer's weak link.
    assert.equal(videoConsumerOf(await identityOf(viewers[1]!)).currentLayers?.spatialLayer, 2);

    await capBitrate(identity, null);
    await eventually(
      async () => {
        assert.equal(videoConsumerOf(identity).currentLayers?.spatialLayer, 2);
        assert.equal(await decodedSize(page), '1280x720');
      },
      60_000,
      'uncapped viewer back at the top layer',
    );
  });

  it('a viewer in a small element gets a lower layer than one in a large element', async function () {
    const small = await openViewer({ width: 360, height: 400 });
    const smallIdentity = await identityOf(small);
    const largeIdentity = await identityOf(viewers[1]!);
    await eventually(
      async () => {
        const smallLayer = videoConsumerOf(smallIdentity).currentLayers?.spatialLayer;
        const largeLayer = videoConsumerOf(largeIdentity).currentLayers?.spatialLayer;
        assert.ok(smallLayer !== undefined && largeLayer !== undefined);
        assert.ok(smallLayer < largeLayer, `small ${smallLayer} < large ${largeLayer}`);
        const [width] = (await decodedSize(small)).split('x').map(Number);
        assert.ok(width! < 1280);
      },
      40_000,
      'small element on a lower layer',
    );
  });

  it('a hidden video is paused on the server and resumes when shown again', async function () {
    const page = viewers[2]!;
    const identity = await identityOf(page);
    await page.evaluate("document.getElementById('stage').style.display = 'none'");
    await eventually(() => assert.equal(videoConsumerOf(identity).paused, true), 10_000, 'paused');
    await page.evaluate("document.getElementById('stage').style.display = ''");
    await eventually(
      () => assert.equal(videoConsumerOf(identity).paused, false),
      10_000,
      'resumed',
    );
    await waitForDecodedFrames(page, VIDEO, 3);
  });

  it('viewers leaving or reloading leave no transports or consumers behind', async function () {
    await viewers[1]!.reload();
    await viewers[1]!.click('#watch');
    await waitForDecodedFrames(viewers[1]!, VIDEO, 3);
    for (const page of viewers.splice(0)) await page.close();
    await host.click('#end');
    await eventually(
      async () =>
        assert.deepEqual(await workerCounts(server), {
          routers: 0,
          transports: 0,
          producers: 0,
          consumers: 0,
        }),
      15_000,
      'everything closed',
    );
  });
});
