import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { eventually, startTestServer } from '../helpers/server.js';
import { hostAndViewers, inPage, PAGE_ROOM, waitForDecodedFrames, watch } from './pages.js';

// Generous ceilings only: the machine may be busy with other suites.
const UI_CEILING_MS = 15_000;
const SPEAKER_CEILING_MS = 30_000;

// In-page code is JavaScript text (see pages.ts). `window.livestageHost` / `livestageViewer` are
// what the example pages expose; `room` is the SDK's LiveRoom.
const APP_ROOM = PAGE_ROOM;

/** From now on, the page keeps the SDK's reactions and data events it hears. */
const RECORD_EVENTS = `() => {
  const room = ${APP_ROOM};
  window.interactionLog = { reactions: [], data: [] };
  room.on('reactions', (counts, windowMs) => window.interactionLog.reactions.push({ counts, windowMs }));
  room.on('dataReceived', (message) => window.interactionLog.data.push(message));
}`;

interface InteractionLog {
  reactions: { counts: Record<string, number>; windowMs: number }[];
  data: { from: string; topic: string; payload: string; to?: string[] }[];
}

/** What the page's SDK says about `identity` speaking (itself or a remote participant). */
const SPEAKING = `(identity) => {
  const room = ${APP_ROOM};
  const participant = identity === room.localParticipant.identity
    ? room.localParticipant
    : room.participants.get(identity);
  return {
    isSpeaking: Boolean(participant && participant.isSpeaking),
    audioLevel: participant ? participant.audioLevel : 0,
    loudest: room.activeSpeakers.length > 0 ? room.activeSpeakers[0].identity : null,
  };
}`;

const SEND_CHAT = `(text) => ${APP_ROOM}.sendChatMessage(text).then(
  (message) => message.id,
  (error) => error.code || String(error),
)`;

const SEND_DATA = `({ payload, topic, to }) => ${APP_ROOM}.sendData(payload, { topic, to }).then(
  () => 'sent',
  (error) => error.code || String(error),
)`;

/** Text that looks like markup: it must show as typed, and nothing of it may run. */
const HTML_LOOKING = '<img src=x onerror="window.chatInjected=1"><b>bold?</b> & <i>still text</i>';

describe('e2e: chat, reactions, active speaker and data messages on the example pages (real Chromium)', function () {
  this.timeout(240_000);
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let browser: Browser;
  const room = `interaction-${Date.now()}`;
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
    for (const page of [host, ...viewers]) await inPage(page, RECORD_EVENTS);
  });

  after(async function () {
    await browser?.close();
    await server?.close();
  });

  /** The chat list items of a page, as their text parts (each message rendered as text). */
  async function chatTexts(page: Page): Promise<string[]> {
    return page.locator('#chat-messages li[data-id] .text').allTextContents();
  }

  async function sendTyped(page: Page, text: string): Promise<void> {
    await page.fill('#chat-input', text);
    await page.click('#chat-send');
    // The input empties once the server accepted the message.
    await eventually(
      async () => assert.equal(await page.inputValue('#chat-input'), ''),
      UI_CEILING_MS,
      'message sent',
    );
  }

  async function waitForMessage(page: Page, text: string): Promise<void> {
    await eventually(
      async () => assert.ok((await chatTexts(page)).includes(text), `"${text}" on the page`),
      UI_CEILING_MS,
      `"${text}" arrives`,
    );
  }

  it('viewers chat with the host: typed messages appear on the other pages, as text', async function () {
    const [first, second, third] = viewers as [Page, Page, Page];

    await sendTyped(host, 'Welcome, everyone!');
    for (const page of viewers) await waitForMessage(page, 'Welcome, everyone!');
    const fromHost = first.locator('#chat-messages li[data-id]').first();
    assert.match(await fromHost.locator('.name').innerText(), /^Host$/);

    await sendTyped(second, 'Hello from the second row');
    await waitForMessage(host, 'Hello from the second row');
    await waitForMessage(first, 'Hello from the second row');
    assert.match(
      await second.locator('#chat-messages li.mine .name').last().innerText(),
      /Viewer 2 \(you\)/,
    );

    // Markup stays text: the host sees exactly what was typed, and no element was made of it.
    await sendTyped(first, HTML_LOOKING);
    for (const page of [host, second, third]) {
      await waitForMessage(page, HTML_LOOKING);
      const item = page.locator(`#chat-messages li[data-from="${ids[0]}"]`).last();
      assert.equal(await item.locator('.text').textContent(), HTML_LOOKING);
      assert.equal(await item.locator('img, b, i').count(), 0, 'no element from the message');
      assert.equal(await inPage(page, `() => window.chatInjected ?? null`), null);
    }

    // Each page shows each message once, in the same order (the sender's own included).
    const expected = ['Welcome, everyone!', 'Hello from the second row', HTML_LOOKING];
    for (const page of [host, ...viewers]) assert.deepEqual(await chatTexts(page), expected);
  });

  it('a newcomer gets the history on join; the host deletes a message and mutes a chatter', async function () {
    const [first, second, third] = viewers as [Page, Page, Page];
    await sendTyped(third, 'buy cheap followers!!!');
    await waitForMessage(host, 'buy cheap followers!!!');

    const late = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await watch(late, server.url, room, 'Late viewer');
    assert.deepEqual(await chatTexts(late), [
      'Welcome, everyone!',
      'Hello from the second row',
      HTML_LOOKING,
      'buy cheap followers!!!',
    ]);

    // Delete from the host's panel: the message leaves every page and the SDK's history.
    const spam = host.locator('#chat-messages li', { hasText: 'buy cheap followers' });
    await spam.locator('button.delete').click();
    for (const page of [host, ...viewers, late]) {
      await eventually(
        async () => assert.ok(!(await chatTexts(page)).includes('buy cheap followers!!!')),
        UI_CEILING_MS,
        'deleted message gone',
      );
    }
    const history = await inPage<string[]>(
      late,
      `() => ${APP_ROOM}.chatHistory.map((message) => message.text)`,
    );
    assert.ok(!history.includes('buy cheap followers!!!'), 'gone from chatHistory');
    await late.close();

    // Mute the third viewer's chat from its message: its input closes, the server refuses it.
    const fromThird = host.locator(`#chat-messages li[data-from="${ids[2]}"]`);
    assert.equal(await fromThird.count(), 0, 'its only message was deleted');
    await sendTyped(third, 'one more thing');
    await host.locator(`#chat-messages li[data-from="${ids[2]}"] button.mute-chat`).click();
    await third.locator('#chat-input:disabled').waitFor({ timeout: UI_CEILING_MS });
    assert.equal(await inPage(third, `() => ${APP_ROOM}.chatMuted`), true);
    assert.equal(await inPage<string>(third, SEND_CHAT, 'let me speak'), 'FORBIDDEN');
    await host
      .locator(`#chat-messages li[data-from="${ids[2]}"] button.mute-chat`, { hasText: 'Unmute' })
      .click();
    await third.locator('#chat-input:enabled').waitFor({ timeout: UI_CEILING_MS });
    assert.equal(await inPage(third, `() => ${APP_ROOM}.chatMuted`), false);
    for (const page of [first, second]) await waitForMessage(page, 'one more thing');
  });

  it('reactions sent by three viewers arrive at the host as counts', async function () {
    for (const page of viewers) await page.click('#reactions-bar button[data-emoji="❤️"]');
    await viewers[0]!.click('#reactions-bar button[data-emoji="👏"]');

    const count = (emoji: string) =>
      host.locator(`#reaction-counts li[data-emoji="${emoji}"] .count`).textContent();
    await eventually(
      async () => {
        assert.equal(await count('❤️'), '3');
        assert.equal(await count('👏'), '1');
      },
      UI_CEILING_MS,
      'the host page shows the counts',
    );
    // The SDK's events: counts per window (about a second), adding up to what was sent.
    const log = await inPage<InteractionLog>(host, `() => window.interactionLog`);
    const total = (emoji: string) =>
      log.reactions.reduce((sum, event) => sum + (event.counts[emoji] ?? 0), 0);
    assert.equal(total('❤️'), 3);
    assert.equal(total('👏'), 1);
    for (const event of log.reactions) assert.ok(event.windowMs > 0, 'a window length');
  });

  it('data messages reach the participants named, with sender and topic', async function () {
    const [first, second] = viewers as [Page, Page];
    const payload = JSON.stringify({ gift: 'rose', count: 3 });
    assert.equal(await inPage(first, SEND_DATA, { payload, topic: 'gift', to: [hostId] }), 'sent');
    assert.equal(await inPage(host, SEND_DATA, { payload: 'cue:applause', topic: 'cue' }), 'sent');
    await eventually(
      async () => {
        const log = await inPage<InteractionLog>(host, `() => window.interactionLog`);
        assert.deepEqual(log.data, [{ from: ids[0], topic: 'gift', payload, to: [hostId] }]);
      },
      UI_CEILING_MS,
      'the host gets the gift',
    );
    await eventually(
      async () => {
        const log = await inPage<InteractionLog>(second, `() => window.interactionLog`);
        assert.deepEqual(log.data, [{ from: hostId, topic: 'cue', payload: 'cue:applause' }]);
      },
      UI_CEILING_MS,
      'the room gets the cue, and nobody else the gift',
    );
  });

  it('the host speaks (the fake microphone): the active speaker, highlighted on a viewer page', async function () {
    const viewer = viewers[1]!;
    await waitForDecodedFrames(viewer, `#stage [data-identity="${hostId}"] video`, 3);
    const hostTile = viewer.locator(`#stage .tile.speaking[data-identity="${hostId}"]`);
    await hostTile.waitFor({ timeout: SPEAKER_CEILING_MS });
    await eventually(
      async () => {
        const speaking = await inPage<{ isSpeaking: boolean; audioLevel: number; loudest: string }>(
          viewer,
          SPEAKING,
          hostId,
        );
        assert.equal(speaking.isSpeaking, true);
        assert.ok(
          speaking.audioLevel > 0 && speaking.audioLevel <= 1,
          `level ${speaking.audioLevel}`,
        );
        assert.equal(speaking.loudest, hostId);
      },
      SPEAKER_CEILING_MS,
      'the viewer SDK reports the host speaking',
    );
    // The host sees itself speak too; no viewer (all silent) is highlighted anywhere.
    await host.locator('#preview-tile.speaking').waitFor({ timeout: SPEAKER_CEILING_MS });
    for (const page of viewers) {
      for (const identity of ids) {
        const speaking = await inPage<{ isSpeaking: boolean }>(page, SPEAKING, identity);
        assert.equal(speaking.isSpeaking, false, `${identity} is silent`);
      }
    }

    fs.mkdirSync('test-results/screenshots', { recursive: true });
    await hostTile.waitFor({ timeout: SPEAKER_CEILING_MS });
    await viewer.screenshot({ path: 'test-results/screenshots/interaction-viewer.png' });
    await host.locator('#preview-tile.speaking').waitFor({ timeout: SPEAKER_CEILING_MS });
    await host.screenshot({ path: 'test-results/screenshots/interaction-host.png' });

    // The microphone goes: the host falls silent and its tile is no longer highlighted.
    await host.click('#toggle-mic');
    await host.locator('#toggle-mic', { hasText: 'Mic on' }).waitFor({ timeout: UI_CEILING_MS });
    await viewer
      .locator(`#stage .tile.speaking[data-identity="${hostId}"]`)
      .waitFor({ state: 'detached', timeout: SPEAKER_CEILING_MS });
    await eventually(
      async () => {
        const speaking = await inPage<{ isSpeaking: boolean; loudest: string | null }>(
          viewer,
          SPEAKING,
          hostId,
        );
        assert.deepEqual(
          { isSpeaking: speaking.isSpeaking, loudest: speaking.loudest },
          { isSpeaking: false, loudest: null },
        );
      },
      SPEAKER_CEILING_MS,
      'nobody speaks',
    );
  });
});
