import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import type { PublishedTrack } from '../../server/src/rooms/Participant.js';
import { launchChromium } from '../helpers/browser.js';
import { eventually, openRoom, startTestServer, type TestServer } from '../helpers/server.js';
import { goLive, inPage, waitForDecodedFrames, watch } from './pages.js';

const MEDIA_CEILING_MS = 30_000;

// In-page code is JavaScript text (see pages.ts).
const APP_ROOM = `(window.livestageHost || window.livestageViewer).room`;

/** Installed before any page script: what the SDK reports, and what nobody handled. */
const RECORD_FAILURES = `
  window.__unhandled = [];
  window.addEventListener('unhandledrejection', (event) => {
    window.__unhandled.push(String(event.reason && event.reason.message || event.reason));
  });`;

const RECORD_ERRORS = `() => {
  window.__errors = [];
  ${APP_ROOM}.on('error', (error) => window.__errors.push(error.message));
}`;

/** Calls `room[method](hostState[source])`; answers 'ok' or the error code. */
const CALL = `({ method, source }) => window.livestageHost.room[method](window.livestageHost[source])
  .then(() => 'ok', (error) => error.code || String(error))`;

/** What the host's SDK says about one of its tracks. */
const LOCAL_STATE = `(source) => {
  const track = window.livestageHost[source];
  return {
    mutedBySelf: track.mutedBySelf,
    paused: track.producer.paused,
    published: window.livestageHost.room.localParticipant.tracks.get(track.id) === track,
    captureEnded: track.mediaStreamTrack.readyState === 'ended',
  };
}`;

const PUBLISH_CAMERA = `async () => {
  const state = window.livestageHost;
  state.camera = await state.room.publishCamera({ resolution: '360p', simulcast: true });
  return state.camera.id;
}`;

/** The ids of the tracks the viewer's SDK holds for `identity`. */
const REMOTE_TRACK_IDS = `(identity) =>
  [...(${APP_ROOM}.participants.get(identity)?.tracks.keys() ?? [])].sort()`;

describe('e2e: the SDK after a refused request (real Chromium)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let server: TestServer;

  before(async function () {
    browser = await launchChromium();
    server = await startTestServer({ MEDIA_WORKERS: '1' });
  });
  after(async function () {
    await browser?.close();
    await server?.close();
  });
  afterEach(async function () {
    for (const context of browser.contexts()) await context.close();
  });

  async function page(): Promise<Page> {
    const created = await browser.newPage();
    await created.addInitScript(RECORD_FAILURES);
    return created;
  }

  function hostTrack(room: string, identity: string, source: string): PublishedTrack {
    const participant = openRoom(server, room).participants.get(identity);
    const track = [...(participant?.tracks.values() ?? [])].find((t) => t.source === source);
    assert.ok(track, `${identity} publishes ${source} on the server`);
    return track;
  }

  it('a refused mute, unmute or unpublish leaves the local track as the server has it', async function () {
    const room = `refused-${Date.now()}`;
    const host = await page();
    await goLive(host, server.url, room);
    const hostId = await inPage<string>(host, `() => ${APP_ROOM}.localParticipant.identity`);
    const state = (source: string) => inPage(host, LOCAL_STATE, source);

    // Accepted: muted here and on the server.
    const camera = hostTrack(room, hostId, 'camera');
    assert.equal(await inPage(host, CALL, { method: 'muteTrack', source: 'camera' }), 'ok');
    assert.equal(camera.producer.paused, true);
    assert.deepEqual(await state('camera'), {
      mutedBySelf: true,
      paused: true,
      published: true,
      captureEnded: false,
    });

    // The server drops the camera behind the SDK's back: unmuting is refused, it stays muted.
    camera.producer.close();
    assert.equal(
      await inPage(host, CALL, { method: 'unmuteTrack', source: 'camera' }),
      'NOT_FOUND',
    );
    assert.deepEqual(await state('camera'), {
      mutedBySelf: true,
      paused: true,
      published: true,
      captureEnded: false,
    });

    // A mute of a producer the server no longer has (as in a media reset, whose republish
    // then carries it over) stays on here: privacy first.
    hostTrack(room, hostId, 'microphone').producer.close();
    assert.equal(await inPage(host, CALL, { method: 'muteTrack', source: 'mic' }), 'NOT_FOUND');
    assert.deepEqual(await state('mic'), {
      mutedBySelf: true,
      paused: true,
      published: true,
      captureEnded: false,
    });

    // Unpublishing a track the server no longer has succeeds: it is gone on both sides.
    assert.equal(await inPage(host, CALL, { method: 'unpublish', source: 'camera' }), 'ok');
    assert.deepEqual(await state('camera'), {
      mutedBySelf: true,
      paused: true,
      published: false,
      captureEnded: true,
    });
    assert.deepEqual(await host.evaluate('window.__unhandled'), []);
  });

  it('a consumer that cannot be set up is reported, and the next track still arrives', async function () {
    const room = `bad-consumer-${Date.now()}`;
    const host = await page();
    await goLive(host, server.url, room);
    const hostId = await inPage<string>(host, `() => ${APP_ROOM}.localParticipant.identity`);
    const viewer = await page();
    await watch(viewer, server.url, room);
    await waitForDecodedFrames(viewer, `#stage [data-identity="${hostId}"] video`, 3);
    await inPage(viewer, RECORD_ERRORS);
    const viewerId = await inPage<string>(viewer, `() => ${APP_ROOM}.localParticipant.identity`);

    // A consumer the browser cannot receive: setting it up fails inside the SDK.
    openRoom(server, room)
      .participants.get(viewerId)
      ?.emit('newConsumer', {
        consumerId: 'no-such-consumer',
        trackId: 'no-such-track',
        identity: hostId,
        kind: 'video',
        source: 'camera',
        rtpParameters: { codecs: [], encodings: [], headerExtensions: [], rtcp: {} },
        producerPaused: false,
      });
    await eventually(
      async () => assert.equal((await viewer.evaluate<string[]>('window.__errors')).length, 1),
      10_000,
      "the failure reaches the viewer's 'error' listeners",
    );

    // The consumers after it are set up as usual.
    assert.equal(await inPage(host, CALL, { method: 'unpublish', source: 'camera' }), 'ok');
    const cameraId = await inPage<string>(host, PUBLISH_CAMERA);
    await waitForDecodedFrames(
      viewer,
      `#stage [data-track-id="${cameraId}"] video`,
      5,
      MEDIA_CEILING_MS,
    );
    await eventually(async () => {
      const onServer = [...(openRoom(server, room).participants.get(hostId)?.tracks.keys() ?? [])];
      assert.deepEqual(await inPage(viewer, REMOTE_TRACK_IDS, hostId), onServer.sort());
    });
    assert.deepEqual(await viewer.evaluate('window.__unhandled'), []);
  });
});
