import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publishTestMedia, type TestPublisher } from '../helpers/media.js';
import { assertNoFfmpegLeft, endEgressTest, ffprobe } from '../helpers/egress.js';
import { ADMIN_AUTH, eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { startWebhookReceiver } from '../helpers/webhookReceiver.js';

describe('snapshots: a JPEG of every live video', function () {
  this.timeout(40_000);
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let dataDir: string;
  const publishers: TestPublisher[] = [];
  const seenPids = new Set<number>();

  async function snapshot(
    room: string,
    identity: string,
    authorization: string | null = ADMIN_AUTH,
  ) {
    const response = await fetch(`${server.url}/api/rooms/${room}/snapshots/${identity}.jpg`, {
      headers: authorization ? { authorization } : {},
    });
    return {
      status: response.status,
      type: response.headers.get('content-type'),
      body: Buffer.from(await response.arrayBuffer()),
    };
  }

  before(async function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'livestage-snapshots-test-'));
    receiver = await startWebhookReceiver();
    server = await startTestServer({
      SNAPSHOT_INTERVAL_MS: '1000',
      SNAPSHOT_DIR: path.join(dataDir, 'snapshots'),
      HLS_DIR: path.join(dataDir, 'hls'),
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      WEBHOOK_URLS: receiver.url,
    });
  });

  afterEach(async function () {
    await endEgressTest(server, publishers, seenPids);
  });

  after(async function () {
    await server?.close();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
    assertNoFfmpegLeft(seenPids);
  });

  it("serves the publisher's picture as a JPEG of its size, replaced every interval, with snapshot_taken webhooks", async function () {
    const room = 'snap-room';
    const host = await publishTestMedia({
      url: server.url,
      room,
      identity: 'snap.host',
      role: 'host',
      width: 352,
      height: 288,
    });
    publishers.push(host);
    const first = await eventually(
      async () => {
        const reply = await snapshot(room, 'snap.host');
        assert.equal(reply.status, 200);
        return reply;
      },
      15_000,
      'a snapshot',
    );
    for (const pid of server.egress.pids) seenPids.add(pid);
    assert.equal(first.type, 'image/jpeg');
    assert.deepEqual([...first.body.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic bytes');
    const file = path.join(dataDir, 'first.jpg');
    await import('node:fs/promises').then((fs) => fs.writeFile(file, first.body));
    const [picture, ...others] = (await ffprobe(file)).streams;
    assert.deepEqual(others, []);
    assert.deepEqual(
      { codec: picture?.codec_name, width: picture?.width, height: picture?.height },
      { codec: 'mjpeg', width: 352, height: 288 },
    );

    const taken = await eventually(
      () => {
        const events = receiver.received
          .map((w) => w.event)
          .filter((e) => e.event === 'snapshot_taken' && e.room.name === room);
        assert.ok(events.length >= 2, `${events.length} snapshot_taken`);
        return events;
      },
      10_000,
      'snapshot_taken webhooks',
    );
    assert.equal(taken[0]!.participant?.identity, 'snap.host');
    assert.equal(taken[0]!.track?.sid, host.videoTrackId);
    assert.deepEqual(Object.keys(taken[0]!.snapshot as object).sort(), ['takenAt', 'url']);
    assert.equal(
      (taken[0]!.snapshot as { url: string }).url,
      `/api/rooms/${room}/snapshots/snap.host.jpg`,
    );
    assert.ok(receiver.received.every((w) => w.verified));

    assert.equal((await snapshot(room, 'nobody')).status, 404);
    assert.equal((await snapshot('no-such-room', 'snap.host')).status, 404);
    assert.equal((await snapshot(room, 'snap.host', null)).status, 401);

    // The room finishes: its snapshots go.
    const roomFolder = path.join(dataDir, 'snapshots', room);
    assert.ok(existsSync(roomFolder));
    await host.close();
    await eventually(() => assert.ok(!existsSync(roomFolder), 'folder removed'), 10_000);
    assert.equal((await snapshot(room, 'snap.host')).status, 404);
  });

  it('stops taking snapshots of a paused video and starts again on resume', async function () {
    const room = 'snap-pause';
    const host = await publishTestMedia({
      url: server.url,
      room,
      identity: 'pauser',
      role: 'host',
    });
    publishers.push(host);
    await eventually(
      async () => assert.equal((await snapshot(room, 'pauser')).status, 200),
      15_000,
    );
    await eventually(() => assert.equal(server.egress.pids.length, 1));
    for (const pid of server.egress.pids) seenPids.add(pid);
    await host.signaling.request('pauseTrack', { trackId: host.videoTrackId });
    await eventually(
      () => assert.deepEqual(server.egress.pids, []),
      10_000,
      'snapshot ffmpeg stopped',
    );
    await host.signaling.request('resumeTrack', { trackId: host.videoTrackId });
    await eventually(() => assert.equal(server.egress.pids.length, 1), 10_000, 'started again');
    for (const pid of server.egress.pids) seenPids.add(pid);
  });
});
