import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { goLive, inPage, watch } from './pages.js';

// A host sees how its viewers receive it: the quality report reaches the host page's SDK and
// the page lists the viewer with its layer, bitrate and score.

describe('e2e: quality reports reach the host (real Chromium)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let browser: Browser;

  before(async function () {
    server = await startTestServer({ QUALITY_REPORT_INTERVAL_MS: '1000' });
    browser = await launchChromium();
  });
  after(async function () {
    await browser?.close();
    await server?.close();
  });

  it("the host page's qualityReport names its viewer, and the page shows it", async function () {
    const host = await browser.newPage();
    await goLive(host, server.url, 'quality-e2e');
    await host.evaluate(`(() => {
      window.reports = [];
      window.livestageHost.room.on('qualityReport', (r) => window.reports.push(r));
    })()`);
    const viewer = await browser.newPage();
    await watch(viewer, server.url, 'quality-e2e');
    const viewerIdentity = await inPage<string>(
      viewer,
      `() => window.livestageViewer.room.localParticipant.identity`,
    );
    await eventually(
      async () => {
        const named = await inPage<boolean>(
          host,
          `(identity) => window.reports.some((r) => r.subscriptions.some((s) => s.identity === identity && s.kind === 'video' && s.bitrate > 0))`,
          viewerIdentity,
        );
        assert.ok(named, 'a report names the viewer with a video bitrate');
        const shown = await host
          .locator(`#viewer-quality li[data-identity="${viewerIdentity}"]`)
          .textContent();
        assert.match(shown ?? '', /kbit\/s, score \d+/, `the page shows it: ${shown}`);
      },
      40_000,
      'the host sees its viewer in the quality report',
    );
  });
});
