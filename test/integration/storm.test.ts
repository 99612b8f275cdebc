import assert from 'node:assert/strict';
import { sharedCertificate } from '../../loadtest/certificate.js';
import { Publisher } from '../../loadtest/publisher.js';
import { runViewers } from '../../loadtest/runViewers.js';
import {
  eventually,
  openRoom,
  startTestServer,
  TEST_KEYS,
  type TestServer,
} from '../helpers/server.js';

const ROOM = 'storm';
const HOST = 'storm-host';
const VIEWERS = 60;
const KEYFRAME_REQUEST_DELAY_MS = 500;
/** Requests the throttle may let through beyond one per delay (the first one, timer edges). */
const SLACK = 3;

interface InboundStats {
  type: string;
  pliCount?: number;
  firCount?: number;
  byteCount?: number;
}

/**
 * A storm of viewers joining at once, through the load tester's own client code (real socket.io,
 * real ICE + DTLS to the worker). The publisher is ffmpeg's VP8 with every frame a keyframe: it
 * answers a keyframe request within one frame, as a browser does. Without a throttle every
 * resumed consumer's request that comes after the last keyframe would reach it as a new PLI.
 */
describe('join storm (real worker, real WebRTC viewers)', function () {
  this.timeout(180_000);
  let server: TestServer;
  let publisher: Publisher | undefined;

  before(async function () {
    server = await startTestServer({
      // The publisher sends real RTP: liveness may be checked as in production.
      MEDIA_INACTIVE_AFTER_MS: '5000',
      MEDIA_CLOSE_AFTER_MS: '30000',
      MEDIA_KEYFRAME_REQUEST_DELAY_MS: String(KEYFRAME_REQUEST_DELAY_MS),
    });
  });

  after(async function () {
    await publisher?.stop();
    await server?.close();
  });

  it(`${VIEWERS} viewers joining at once all get video; keyframe requests to the publisher stay throttled`, async function () {
    publisher = await Publisher.start({
      url: server.url,
      room: ROOM,
      identity: HOST,
      credentials: TEST_KEYS,
      certificate: await sharedCertificate(),
      stepTimeoutMs: 20_000,
      tokenTtlSeconds: 600,
      width: 320,
      height: 180,
      fps: 15,
      videoBitrateKbps: 300,
      keyframeIntervalSeconds: 0, // every frame
      audio: false,
    });
    const track = openRoom(server, ROOM)
      .participants.get(HOST)
      ?.tracks.get(publisher.stats.videoTrackId);
    assert.ok(track, 'the host has its video track on the server');
    const inbound = async () => {
      const stats = (await track.producer.getStats()) as InboundStats[];
      const rtp = stats.find((s) => s.type === 'inbound-rtp');
      assert.ok(rtp, 'the video producer has an inbound stream');
      return rtp;
    };
    await eventually(
      async () => assert.ok(((await inbound()).byteCount ?? 0) > 0, 'video reached the server'),
      10_000,
      'publisher video at the server',
    );
    const keyframeRequests = async () => {
      const rtp = await inbound();
      return (rtp.pliCount ?? 0) + (rtp.firCount ?? 0);
    };
    const before = await keyframeRequests();

    const run = await runViewers({
      url: server.url,
      room: ROOM,
      count: VIEWERS,
      rate: 0,
      durationSeconds: 60, // a ceiling: the run ends once every viewer has video
      endWhenAllHaveVideo: true,
      credentials: TEST_KEYS,
      identityPrefix: 'storm-viewer',
    });
    // Requests made by the last resumes go out within one delay.
    await new Promise((resolve) => setTimeout(resolve, KEYFRAME_REQUEST_DELAY_MS + 100));
    const sent = (await keyframeRequests()) - before;

    const withoutVideo = run.results.filter((r) => r.firstVideoMs === undefined);
    assert.deepEqual(
      withoutVideo.map((r) => `${r.identity}: ${r.error ?? r.disconnected ?? 'no video RTP'}`),
      [],
      'every viewer received video RTP',
    );
    const stormMs = run.joinPhaseEndedAt - run.startedAt + KEYFRAME_REQUEST_DELAY_MS + 100;
    const allowed = Math.floor(stormMs / KEYFRAME_REQUEST_DELAY_MS) + SLACK;
    const firstVideo = run.results.map((r) => r.firstVideoMs ?? 0).sort((a, b) => a - b);
    console.log(
      `      storm of ${VIEWERS}: first video p50 ${Math.round(firstVideo[VIEWERS / 2 - 1] ?? 0)} ms, ` +
        `last ${Math.round(firstVideo[VIEWERS - 1] ?? 0)} ms; keyframe requests to the publisher: ` +
        `${sent} in ${Math.round(stormMs)} ms (throttle allows ${allowed})`,
    );
    assert.ok(
      sent <= allowed,
      `${sent} keyframe requests in ${Math.round(stormMs)} ms; a ${KEYFRAME_REQUEST_DELAY_MS} ms throttle allows ${allowed}`,
    );
    assert.ok(sent >= 1, 'the storm asked the publisher for a keyframe at least once');
  });
});
