import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { eventually, openRoom, startTestServer, TEST_KEYS } from '../helpers/server.js';
import { goLive, inPage, watch } from './pages.js';

const SCREENSHOT = 'test-results/screenshots/dashboard.png';

interface ChartSeries {
  trackId: string;
  kind: string;
  bitrate: { at: number; value: number }[];
}

// In-page code as JavaScript text (see pages.ts): the charts the dashboard draws, per track.
const CHARTS = `() => [...window.livestageDashboard.cards.values()].map((card) => ({
  trackId: card.trackId,
  kind: card.kind,
  bitrate: card.bitrate.points.map((p) => ({ at: p.at, value: p.value })),
}))`;

async function videoBitrateSeries(page: Page): Promise<ChartSeries> {
  const charts = await inPage<ChartSeries[]>(page, CHARTS);
  const video = charts.find((chart) => chart.kind === 'video');
  assert.ok(video, `a video track chart among ${charts.length}`);
  return video;
}

async function signIn(page: Page, apiKey: string, apiSecret: string): Promise<void> {
  await page.fill('#api-key', apiKey);
  await page.fill('#api-secret', apiSecret);
  await page.click('#sign-in');
}

describe('e2e dashboard: rooms, participants and live bitrate charts (real Chromium)', function () {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;

  before(async function () {
    server = await startTestServer({ QUALITY_REPORT_INTERVAL_MS: '1000' });
    browser = await launchChromium();
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  it('refuses wrong credentials, then shows the live room with a moving bitrate chart', async function () {
    const room = `dash-${Date.now()}`;
    const host = await browser.newPage();
    await goLive(host, server.url, room);
    const viewer = await browser.newPage();
    await watch(viewer, server.url, room);
    const participants = [...openRoom(server, room).participants.values()];
    const identities = participants.map((p) => p.identity);
    assert.equal(identities.length, 2, 'host and viewer are in the room');
    const hostIdentity = participants.find((p) => p.role === 'host')?.identity;
    assert.ok(hostIdentity, 'the host is in the room');

    const dashboard = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await dashboard.goto(`${server.url}/dashboard.html`);

    await signIn(dashboard, TEST_KEYS.apiKey, 'not-the-secret');
    await dashboard
      .locator('#error', { hasText: /wrong api key or secret/i })
      .waitFor({ timeout: 10_000 });
    assert.equal(await dashboard.isVisible('#dashboard'), false, 'nothing shown without access');

    await signIn(dashboard, TEST_KEYS.apiKey, TEST_KEYS.apiSecret);
    const roomButton = dashboard.locator(`#rooms [data-room="${room}"]`);
    await roomButton.waitFor({ timeout: 10_000 });
    assert.equal(await dashboard.isVisible('#error'), false, 'the error is gone once signed in');
    assert.match((await roomButton.textContent()) ?? '', /2 in room/, 'room listed with 2 people');
    await roomButton.click();

    for (const identity of identities) {
      await dashboard
        .locator(`#participants tr[data-identity="${identity}"]`)
        .waitFor({ timeout: 15_000 });
    }
    // 'host' from GET /api/rooms/{room}/participants; 'publisher' when derived from the report.
    assert.match(
      (await dashboard.textContent(`#participants tr[data-identity="${hostIdentity}"] .role`)) ??
        '',
      /^(host|publisher)$/,
      'the host has its role',
    );
    assert.match(
      (await dashboard.textContent('#stage-summary')) ?? '',
      new RegExp(hostIdentity),
      'the host is on stage',
    );
    await dashboard
      .locator('#subscriptions tr[data-identity]', { hasText: 'video' })
      .first()
      .waitFor({ timeout: 15_000 });

    // Reports come every second and the page polls every two: the chart must gain points.
    const first = await eventually(
      async () => {
        const series = await videoBitrateSeries(dashboard);
        assert.ok(series.bitrate.length >= 1, 'a first point on the video chart');
        return series;
      },
      15_000,
      'the video bitrate chart has a point',
    );
    const moved = await eventually(
      async () => {
        const series = await videoBitrateSeries(dashboard);
        // Three more points at least, so that the screenshot shows a line, not a dot.
        assert.ok(
          series.bitrate.length >= first.bitrate.length + 3,
          `chart grew from ${first.bitrate.length} to ${series.bitrate.length} points`,
        );
        const latest = series.bitrate[series.bitrate.length - 1]!;
        assert.ok(latest.value > 0, `latest video bitrate ${latest.value} kbit/s is above 0`);
        return series;
      },
      30_000,
      'the video bitrate chart moves',
    );
    const times = moved.bitrate.map((p) => p.at);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
      'points in time order',
    );
    assert.equal(new Set(times).size, times.length, 'each report drawn once');

    fs.mkdirSync('test-results/screenshots', { recursive: true });
    await dashboard.screenshot({ path: SCREENSHOT, fullPage: true });

    // The credentials last the browser tab (sessionStorage): a reload stays signed in.
    await dashboard.reload();
    await dashboard.locator(`#rooms [data-room="${room}"].selected`).waitFor({ timeout: 10_000 });
    assert.equal(await dashboard.isVisible('#login'), false, 'no login form after a reload');

    await dashboard.click('#sign-out');
    await dashboard.locator('#login').waitFor({ state: 'visible', timeout: 5_000 });
    await dashboard.reload();
    await dashboard.locator('#login').waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await dashboard.isVisible('#dashboard'), false, 'signed out stays signed out');
    await viewer.close();
    await host.close();
    await dashboard.close();
  });
});
