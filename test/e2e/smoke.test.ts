import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { eventually, startTestServer, workerCounts } from '../helpers/server.js';
import { goLive, waitForDecodedFrames } from './pages.js';

describe('e2e smoke: host page publishes, viewer page decodes (real Chromium)', function () {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;

  before(async function () {
    server = await startTestServer();
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  it('a viewer receives decoded frames of the host camera, and nothing is left after both leave', async function () {
    const room = `smoke-${Date.now()}`;
    const hostPage = await browser.newPage();
    await goLive(hostPage, server.url, room);

    const viewerPage = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await viewerPage.goto(`${server.url}/viewer.html?room=${room}`);
    await viewerPage.click('#watch');
    const decoded = await waitForDecodedFrames(viewerPage, '#stage video', 10);
    assert.ok(decoded.width > 0 && decoded.height > 0, 'decoded frames have a size');

    await hostPage.screenshot({ path: 'test-results/screenshots/host.png' });
    await viewerPage.screenshot({ path: 'test-results/screenshots/viewer.png' });

    const live = await workerCounts(server);
    assert.equal(live.producers, 2, 'camera and microphone producers on the server');
    assert.equal(live.consumers, 2, 'the viewer consumes both');

    await viewerPage.click('#mute');
    await hostPage.click('#end');
    await viewerPage.close();
    await hostPage.close();
    await eventually(
      async () => {
        const counts = await workerCounts(server);
        assert.deepEqual(counts, { routers: 0, transports: 0, producers: 0, consumers: 0 });
      },
      10_000,
      'everything closed',
    );
  });
});
