import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { TEST_KEYS, startTestServer, type TestServer } from '../helpers/server.js';
import { goLive, inPage, watch } from './pages.js';

// What an operator's admin calls look like to the people in the room: the SDK ends with the
// reason the operator gave.

describe('e2e: admin API seen from the SDK (real Chromium)', function () {
  this.timeout(120_000);
  let server: TestServer;
  let browser: Browser;
  const auth = `Basic ${Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64')}`;

  before(async function () {
    server = await startTestServer();
    browser = await launchChromium();
  });
  after(async function () {
    await browser?.close();
    await server?.close();
  });

  it("a removed viewer's SDK says disconnected('removed'); closing the room says 'room-closed'", async function () {
    const room = 'admin-e2e';
    const host = await browser.newPage();
    await goLive(host, server.url, room);
    const viewer = await browser.newPage();
    await watch(viewer, server.url, room);
    const identity = await inPage<string>(
      viewer,
      `() => window.livestageViewer.room.localParticipant.identity`,
    );
    const removed = await fetch(`${server.url}/api/rooms/${room}/participants/${identity}`, {
      method: 'DELETE',
      headers: { authorization: auth },
    });
    assert.ok(removed.ok, `DELETE participant: ${removed.status}`);
    await viewer
      .locator('#status', { hasText: 'disconnected (removed)' })
      .waitFor({ timeout: 20_000 });

    const closed = await fetch(`${server.url}/api/rooms/${room}`, {
      method: 'DELETE',
      headers: { authorization: auth },
    });
    assert.ok(closed.ok, `DELETE room: ${closed.status}`);
    await host
      .locator('#status', { hasText: 'offline (room-closed)' })
      .waitFor({ timeout: 20_000 });
  });
});
