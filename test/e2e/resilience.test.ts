import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.js';
import { eventually, startTestServer, workerCounts, type TestServer } from '../helpers/server.js';
import {
  cutNetwork,
  killWorkerAndWait,
  RECORD_MEMBERSHIP,
  viewerIdentity,
  watchVideo,
} from './faults.js';
import { goLive, waitForDecodedFrames, watch } from './pages.js';

describe('resilience in real Chromium', function () {
  this.timeout(120_000);
  let browser: Browser;

  before(async function () {
    browser = await launchChromium();
  });
  after(async function () {
    await browser?.close();
  });

  describe('with an in-process server', function () {
    let server: TestServer;
    beforeEach(async function () {
      server = await startTestServer({ MEDIA_WORKERS: '1', RECONNECT_GRACE_MS: '20000' });
    });
    afterEach(async function () {
      for (const context of browser.contexts()) await context.close();
      await server.close();
    });

    it('network cut for 5 s: the same viewer resumes and frames flow again; nobody sees it leave', async function () {
      const room = 'cut';
      const host = await browser.newPage();
      await goLive(host, server.url, room);
      const viewerContext = await browser.newContext();
      const viewer = await watchVideo(viewerContext, server.url, room);
      await host.evaluate(RECORD_MEMBERSHIP);
      const cut = await cutNetwork(server, room, viewerContext, viewer, 5000);
      assert.ok(cut.suspendedDuringCut, 'the server saw the connection drop');
      assert.ok(cut.silentMs > 2000, `frames really stopped during the cut (${cut.silentMs} ms)`);
      assert.equal(cut.participant.suspended, false);
      const identity = await viewerIdentity(viewer);
      assert.equal(server.rooms.rooms.get(room)!.participants.get(identity), cut.participant);
      assert.deepEqual(await host.evaluate('window.__membership'), []);
      console.log(`      network restored → frames flowing again: ${cut.framesAfterMs} ms`);
    });

    it('worker SIGKILL during a live room: host and viewers get media back by themselves', async function () {
      const room = 'kill';
      const host = await browser.newPage();
      await goLive(host, server.url, room);
      const viewers = [
        await watchVideo(await browser.newContext(), server.url, room),
        await watchVideo(await browser.newContext(), server.url, room),
      ];
      await host.evaluate(RECORD_MEMBERSHIP);
      const backAfter = await killWorkerAndWait(server, viewers);
      const counts = await workerCounts(server);
      assert.equal(counts.producers, 2, 'the host publishes camera and microphone again');
      assert.deepEqual(await host.evaluate('window.__membership'), []);
      console.log(`      worker SIGKILL → media back on every viewer: ${backAfter} ms`);
    });
  });

  describe('with two media workers', function () {
    let server: TestServer;
    beforeEach(async function () {
      server = await startTestServer({ MEDIA_WORKERS: '2', RECONNECT_GRACE_MS: '20000' });
    });
    afterEach(async function () {
      for (const context of browser.contexts()) await context.close();
      await server.close();
    });

    it('the worker a room moves to dies too: two resets in a row, the host republishes once, the viewer decodes', async function () {
      const room = 'double-reset';
      const host = await browser.newPage();
      await goLive(host, server.url, room);
      const viewer = await watchVideo(await browser.newContext(), server.url, room);
      const oldTrack = await viewer.getAttribute('#stage .tile[data-track-id]', 'data-track-id');
      const moving = server.rooms.rooms.get(room)!;
      const first = moving.media.index;
      process.kill(moving.media.worker.pid, 'SIGKILL');
      await eventually(() => assert.notEqual(moving.media.index, first), 15_000, 'moved once');
      process.kill(moving.media.worker.pid, 'SIGKILL');
      await waitForDecodedFrames(
        viewer,
        `#stage .tile[data-track-id]:not([data-track-id="${oldTrack}"]) video`,
        5,
        60_000,
      );
      await eventually(
        async () => {
          const counts = await workerCounts(server);
          assert.equal(counts.producers, 2, 'camera and microphone, each once');
        },
        20_000,
        'host republished',
      );
    });
  });

  describe('SIGTERM on a real server process', function () {
    let child: ChildProcess | undefined;
    afterEach(async function () {
      for (const context of browser.contexts()) await context.close();
      child?.kill('SIGKILL');
      child = undefined;
    });

    it('drains: health says draining, viewers are told, new joins are refused, exit 0 once empty', async function () {
      const { process: proc, url } = await startServerProcess({ DRAIN_TIMEOUT_MS: '30000' });
      child = proc;
      const viewer = await (await browser.newContext()).newPage();
      await watch(viewer, url, 'drain');
      await viewer.evaluate(
        `window.livestageViewer.room.on('serverDraining', (ms) => { window.__draining = ms; })`,
      );
      const exited = exitOf(proc);
      proc.kill('SIGTERM');
      await eventually(async () => {
        const health = await fetch(`${url}/healthz`);
        assert.equal(health.status, 503);
        assert.equal(((await health.json()) as { status: string }).status, 'draining');
      });
      await eventually(async () => assert.ok(await viewer.evaluate('window.__draining > 0')));

      const late = await (await browser.newContext()).newPage();
      await late.goto(`${url}/viewer.html?room=drain`).catch(() => undefined);
      await late.click('#watch');
      await late.locator('#status', { hasText: /UNAVAILABLE/ }).waitFor({ timeout: 10_000 });

      const emptiedAt = Date.now();
      await viewer.close({ runBeforeUnload: true });
      const code = await exited;
      assert.equal(code, 0);
      assert.ok(Date.now() - emptiedAt < 15_000, 'exits soon after the last viewer left');
    });

    it('a second signal exits at once, even with viewers still in', async function () {
      const { process: proc, url } = await startServerProcess({ DRAIN_TIMEOUT_MS: '60000' });
      child = proc;
      await watch(await (await browser.newContext()).newPage(), url, 'drain-twice');
      const exited = exitOf(proc);
      proc.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = Date.now();
      proc.kill('SIGTERM');
      assert.equal(await exited, 1);
      assert.ok(Date.now() - second < 5000);
    });
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** `npm start`'s server, as its own process, on a free port. */
async function startServerProcess(
  env: Record<string, string>,
): Promise<{ process: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/src/index.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: String(port),
      MEDIA_WORKERS: '1',
      MEDIA_PORT_BASE: '0',
      LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`server exited (${code}):\n${output}`)));
  });
  return { process: proc, url: `http://127.0.0.1:${port}` };
}

function exitOf(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
}
