import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/server.js';
import { waitForDecodedFrames } from './pages.js';

// One room over three node processes: the host on A, a viewer on B and one on C, each page
// given every node's URL. Killing the host's node sends the host's SDK to another node, where it
// republishes; the viewers, still on their nodes, get the host's video back through the relay.
// A node that drains (SIGTERM) sends its clients to another node without them noticing: no
// reconnecting, no disconnected, no leave and join, chat going on as before.

const VIDEO = '#stage video';
const MEDIA_CEILING_MS = 60_000;
const LARGE = { width: 1280, height: 900 };

describe('e2e: one room across three nodes', function () {
  this.timeout(300_000);
  let cluster: TestCluster | undefined;
  let browser: Browser | undefined;

  before(async function () {
    cluster = await startCluster(3, {
      env: { MEDIA_WORKERS: '1', MEDIA_INACTIVE_AFTER_MS: '5000', MEDIA_CLOSE_AFTER_MS: '30000' },
    });
    browser = await launchChromium();
  });
  after(async function () {
    await browser?.close();
    await cluster?.stop();
  });

  /** The page at `nodeUrl`, told of every node (the SDK fails over along the list). */
  async function open(
    page: Page,
    nodeUrl: string,
    name: 'host' | 'viewer',
    room: string,
    urls: string[],
  ) {
    const nodes = urls.filter((url) => url !== nodeUrl).join(',');
    await page.goto(`${nodeUrl}/${name}.html?${new URLSearchParams({ room, nodes })}`);
    await page.click(name === 'host' ? '#go-live' : '#watch');
    await page
      .locator('#status', { hasText: name === 'host' ? /^live/ : /^watching/ })
      .waitFor({ timeout: 30_000 });
  }

  async function decodedSize(page: Page): Promise<string> {
    const { width, height } = await waitForDecodedFrames(page, VIDEO, 3);
    return `${width}x${height}`;
  }

  it('viewers on B and C decode the host on A at 1280x720, and again after A is killed', async function () {
    const [a, b, c] = cluster!.nodes as [
      TestCluster['nodes'][0],
      TestCluster['nodes'][0],
      TestCluster['nodes'][0],
    ];
    const urls = [a.url, b.url, c.url];
    const room = 'e2e-cluster';
    const host = await browser!.newPage();
    await open(host, a.url, 'host', room, urls);
    const viewers: Page[] = [];
    for (const node of [b, c]) {
      const page = await browser!.newPage({ viewport: LARGE });
      await open(page, node.url, 'viewer', room, urls);
      viewers.push(page);
    }
    for (const [i, page] of viewers.entries()) {
      await eventually(
        async () => assert.equal(await decodedSize(page), '1280x720', 'decoded size'),
        MEDIA_CEILING_MS,
        `viewer ${i + 1} decodes the relayed host at 1280x720`,
      );
    }

    await a.kill('SIGKILL');
    await eventually(
      async () => {
        const status = await host.locator('#status').textContent();
        assert.match(status ?? '', /^live/, `host page status: ${status}`);
        const published = await host.evaluate(
          `window.livestageHost.room.localParticipant.tracks.size`,
        );
        assert.ok(Number(published) >= 1, 'the host publishes again');
      },
      MEDIA_CEILING_MS,
      'the host page is live again on another node',
    );
    for (const [i, page] of viewers.entries()) {
      await eventually(
        async () => assert.equal(await decodedSize(page), '1280x720', 'decoded size'),
        MEDIA_CEILING_MS,
        `viewer ${i + 1} decodes the host again after its node died`,
      );
    }
  });

  it('a draining node moves the host to another without a reconnect; viewers and chat go on', async function () {
    // A is dead after the first test; the host goes live on B, the viewer watches on C.
    const [, b, c] = cluster!.nodes as [
      TestCluster['nodes'][0],
      TestCluster['nodes'][0],
      TestCluster['nodes'][0],
    ];
    const urls = [b.url, c.url];
    const room = 'e2e-drain';
    const host = await browser!.newPage();
    await open(host, b.url, 'host', room, urls);
    await host.evaluate(`(() => {
      const room = window.livestageHost.room;
      window.seen = [];
      for (const event of ['reconnecting', 'disconnected', 'serverDraining', 'participantLeft', 'participantJoined'])
        room.on(event, () => window.seen.push(event));
      window.chat = [];
      room.on('chatMessage', (message) => window.chat.push(message.text));
    })()`);
    const viewer = await browser!.newPage({ viewport: LARGE });
    await open(viewer, c.url, 'viewer', room, urls);
    await eventually(
      async () => assert.equal(await decodedSize(viewer), '1280x720', 'decoded size'),
      MEDIA_CEILING_MS,
      'the viewer on C decodes the host on B',
    );
    const seenBefore = (await host.evaluate('window.seen')) as string[];

    await b.kill('SIGTERM');
    await eventually(
      async () => {
        const seen = (await host.evaluate('window.seen')) as string[];
        assert.ok(seen.includes('serverDraining'), `host events: ${seen.join(' ')}`);
        const moved = await host.evaluate(`window.livestageHost.room.connected`);
        assert.equal(moved, true, 'the host is connected');
        const published = await host.evaluate(
          `window.livestageHost.room.localParticipant.tracks.size`,
        );
        assert.ok(Number(published) >= 1, 'the host publishes');
      },
      MEDIA_CEILING_MS,
      'the host page moved off the draining node',
    );
    await eventually(
      async () => assert.equal(await decodedSize(viewer), '1280x720', 'decoded size'),
      MEDIA_CEILING_MS,
      'the viewer decodes the host after its move',
    );
    await viewer.evaluate(`window.livestageViewer.room.sendChatMessage('still here?')`);
    await eventually(
      async () => assert.deepEqual(await host.evaluate('window.chat'), ['still here?']),
      MEDIA_CEILING_MS,
      "the host gets the viewer's chat after the move",
    );
    const seen = ((await host.evaluate('window.seen')) as string[]).slice(seenBefore.length);
    assert.deepEqual(
      seen.filter((event) => event !== 'serverDraining'),
      [],
      'no reconnecting, disconnected, leave or join on the host during the move',
    );
  });
});
