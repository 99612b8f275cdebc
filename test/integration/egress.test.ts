import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EgressInfo } from '../../server/src/egress/EgressInfo.js';
import { publishTestMedia, type TestPublisher } from '../helpers/media.js';
import {
  adminCall,
  assertNoFfmpegLeft,
  endEgressTest,
  ffprobe,
  isRunning,
} from '../helpers/egress.js';
import {
  ADMIN_AUTH,
  eventually,
  startTestServer,
  workerCounts,
  type TestServer,
} from '../helpers/server.js';
import { startWebhookReceiver } from '../helpers/webhookReceiver.js';

/** `#EXT-X-MEDIA-SEQUENCE`, the segments and the discontinuities of a live playlist. */
function parsePlaylist(text: string) {
  const sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? NaN);
  const segments = text.split('\n').filter((line) => line.endsWith('.ts'));
  const discontinuities = text.split('\n').filter((l) => l === '#EXT-X-DISCONTINUITY').length;
  const lastBreak = text.lastIndexOf('#EXT-X-DISCONTINUITY');
  const afterDiscontinuity =
    lastBreak < 0
      ? 0
      : text
          .slice(lastBreak)
          .split('\n')
          .filter((l) => l.endsWith('.ts')).length;
  return {
    sequence,
    segments,
    discontinuities,
    afterDiscontinuity,
    ended: text.includes('#EXT-X-ENDLIST'),
  };
}

/** Any of the answers: an egress, a list of them, or an error. */
type Reply = EgressInfo & { error: { code: string; message: string }; egresses: EgressInfo[] };

describe('egress: HLS and recordings of the stage', function () {
  this.timeout(60_000);
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let dataDir: string;
  const publishers: TestPublisher[] = [];
  /** Every ffmpeg pid the server ran for these tests: none may outlive them. */
  const seenPids = new Set<number>();

  const call = (method: string, url: string, body?: unknown) =>
    adminCall<Reply>(server, method, url, body);

  async function publish(room: string, identity: string, role: 'host' | 'guest' = 'host') {
    const publisher = await publishTestMedia({ url: server.url, room, identity, role });
    publishers.push(publisher);
    return publisher;
  }

  function notePids(): number[] {
    for (const pid of server.egress.pids) seenPids.add(pid);
    return server.egress.pids;
  }

  async function playlist(room: string) {
    const response = await fetch(`${server.url}/hls/${room}/index.m3u8`);
    assert.equal(response.status, 200, 'the playlist is served');
    return { response, ...parsePlaylist(await response.text()) };
  }

  before(async function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'livestage-egress-test-'));
    receiver = await startWebhookReceiver();
    server = await startTestServer({
      HLS_DIR: path.join(dataDir, 'hls'),
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      SNAPSHOT_DIR: path.join(dataDir, 'snapshots'),
      HLS_SEGMENT_SECONDS: '1',
      HLS_LIST_SIZE: '4',
      EGRESS_MAX: '2',
      EGRESS_VIDEO_BITRATE: '800000',
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

  it('refuses bad input with 400/404/409/503 and starts nothing', async function () {
    await publish('egress-bad', 'bad-host');
    const transportsBefore = (await workerCounts(server)).transports;
    assert.equal(
      (await call('POST', '/api/rooms/no-such-room/egress', { type: 'hls' })).status,
      404,
    );
    const badType = await call('POST', '/api/rooms/egress-bad/egress', { type: 'rtmp' });
    assert.equal(badType.status, 400);
    assert.equal(badType.body.error.code, 'INVALID_PAYLOAD');
    const extra = await call('POST', '/api/rooms/egress-bad/egress', { type: 'hls', x: 1 });
    assert.equal(extra.status, 400);
    assert.equal((await call('DELETE', '/api/rooms/egress-bad/egress/EG_nope')).status, 404);
    assert.equal((await call('GET', '/api/rooms/no-such-room/egress')).status, 404);
    const noAuth = await fetch(`${server.url}/api/rooms/egress-bad/egress`, { method: 'POST' });
    assert.equal(noAuth.status, 401);
    assert.deepEqual((await call('GET', '/api/rooms/egress-bad/egress')).body, { egresses: [] });
    assert.deepEqual(server.egress.pids, [], 'no ffmpeg was started');
    assert.equal((await workerCounts(server)).transports, transportsBefore, 'no transport made');
    assert.ok(!existsSync(path.join(dataDir, 'hls', 'egress-bad')), 'no HLS folder');

    // One of each type per room, and EGRESS_MAX (2) on the node.
    const first = await call('POST', '/api/rooms/egress-bad/egress', { type: 'hls' });
    assert.equal(first.status, 201);
    const again = await call('POST', '/api/rooms/egress-bad/egress', { type: 'hls' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'INVALID_STATE');
    assert.equal(
      (await call('POST', '/api/rooms/egress-bad/egress', { type: 'record' })).status,
      201,
    );
    await publish('egress-bad-2', 'other-host');
    const full = await call('POST', '/api/rooms/egress-bad-2/egress', { type: 'hls' });
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, 'UNAVAILABLE');
    assert.equal((await call('GET', '/api/rooms/egress-bad/egress')).body.egresses.length, 2);
    assert.deepEqual((await call('GET', '/api/rooms/egress-bad-2/egress')).body.egresses, []);
    notePids();
  });

  it('HLS: the host at 1280x720 H.264 + AAC, re-laid out when a guest joins, restarted after a crash', async function () {
    const room = 'egress-hls';
    await publish(room, 'hls-host');
    const started = await call('POST', `/api/rooms/${room}/egress`, { type: 'hls' });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const info = started.body as EgressInfo;
    assert.equal(info.playlistUrl, `/hls/${room}/index.m3u8`);
    assert.deepEqual(info.layout.videos, ['hls-host']);

    const first = await eventually(
      async () => {
        const list = await playlist(room);
        assert.ok(list.segments.length >= 1, 'a segment');
        return list;
      },
      20_000,
      'first segment',
    );
    assert.equal(first.response.headers.get('access-control-allow-origin'), '*');
    assert.match(first.response.headers.get('cache-control') ?? '', /no-cache/);
    assert.equal(first.ended, false, 'a live playlist');
    assert.equal(first.discontinuities, 0);
    const segment = path.join(dataDir, 'hls', room, first.segments[0]!);
    const probe = await ffprobe(segment);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    assert.deepEqual(
      { codec: video?.codec_name, width: video?.width, height: video?.height },
      { codec: 'h264', width: 1280, height: 720 },
    );
    assert.equal(probe.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    const segmentResponse = await fetch(`${server.url}/hls/${room}/${first.segments[0]}`);
    assert.equal(segmentResponse.status, 200);
    assert.equal(segmentResponse.headers.get('content-type'), 'video/mp2t');
    assert.equal((await fetch(`${server.url}/hls/${room}/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    const listed = await call('GET', `/api/rooms/${room}/egress`);
    assert.deepEqual(
      listed.body.egresses.map(({ id, status }) => ({ id, status })),
      [{ id: info.id, status: 'active' }],
    );
    const soloPid = server.egress.pidOf(info.id)!;
    seenPids.add(soloPid);

    // A guest comes on stage: a new ffmpeg with two videos, the playlist goes on after a discontinuity.
    await publish(room, 'hls-guest', 'guest');
    await eventually(
      async () => {
        const list = await playlist(room);
        assert.ok(list.discontinuities >= 1, 'a discontinuity');
        assert.ok(list.afterDiscontinuity >= 1, 'a segment of the new layout');
      },
      20_000,
      're-layout',
    );
    const duoPid = server.egress.pidOf(info.id);
    assert.ok(duoPid && duoPid !== soloPid, 'a new ffmpeg');
    seenPids.add(duoPid);
    assert.ok(!isRunning(soloPid), 'the old ffmpeg has exited');
    const commandLine = readFileSync(`/proc/${duoPid}/cmdline`, 'utf8');
    assert.match(commandLine, /\[0:v:1\]/, 'two video inputs');
    assert.match(commandLine, /xstack=inputs=2/);
    const relaid = (await call('GET', `/api/rooms/${room}/egress`)).body.egresses[0] as EgressInfo;
    assert.deepEqual(relaid.layout, { videos: ['hls-host', 'hls-guest'], audios: 2 });

    // ffmpeg dies: it is restarted and the playlist goes on.
    const before = await eventually(async () => {
      const list = await playlist(room);
      assert.ok(list.sequence + list.segments.length > first.sequence + first.segments.length);
      return list;
    }, 20_000);
    process.kill(duoPid, 'SIGKILL');
    const restartedPid = await eventually(
      () => {
        const pid = server.egress.pidOf(info.id);
        assert.ok(pid && pid !== duoPid, 'a new ffmpeg');
        return pid;
      },
      10_000,
      'restart',
    );
    seenPids.add(restartedPid);
    await eventually(
      async () => {
        const list = await playlist(room);
        assert.ok(
          list.sequence + list.segments.length >= before.sequence + before.segments.length + 2,
          `segments after the restart (${list.sequence}+${list.segments.length})`,
        );
        assert.ok(list.discontinuities >= 1);
      },
      20_000,
      'playlist continues',
    );

    // The host's camera pauses: it leaves the picture (a paused input would stall the grid).
    const host = publishers.find((p) => p.identity === 'hls-host')!;
    await host.signaling.request('pauseTrack', { trackId: host.videoTrackId });
    await eventually(
      async () => {
        const [now] = (await call('GET', `/api/rooms/${room}/egress`)).body.egresses;
        assert.deepEqual(now?.layout, { videos: ['hls-guest'], audios: 2 });
        const pid = server.egress.pidOf(info.id);
        assert.ok(pid);
        seenPids.add(pid);
        assert.doesNotMatch(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /xstack/);
      },
      10_000,
      'the paused camera left out',
    );

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^livestage_egresses\{type="hls"\} 1$/m);
    assert.match(
      metrics,
      /^livestage_egress_ffmpeg_restarts_total\{type="hls",reason="crash"\} 1$/m,
    );
    assert.match(
      metrics,
      /^livestage_egress_ffmpeg_restarts_total\{type="hls",reason="relayout"\} [1-9]/m,
    );

    const stopped = await call('DELETE', `/api/rooms/${room}/egress/${info.id}`);
    assert.equal(stopped.status, 200);
    assert.equal(stopped.body.status, 'complete');
    assert.ok(stopped.body.restarts >= 3, `restarts: ${stopped.body.restarts}`);
    assert.deepEqual(server.egress.pids, [], 'ffmpeg stopped');
    assert.equal((await playlist(room)).ended, true, 'the playlist says it ended');
    assert.deepEqual((await call('GET', `/api/rooms/${room}/egress`)).body.egresses, []);
    assert.equal((await call('DELETE', `/api/rooms/${room}/egress/${info.id}`)).status, 404);
    await eventually(() => {
      const names = receiver.received
        .filter((w) => w.event.room.name === room && w.event.event.startsWith('egress_'))
        .map((w) => w.event.event);
      assert.deepEqual(names, ['egress_started', 'egress_ended']);
    });
    const ended = receiver.received.find(
      (w) => w.event.event === 'egress_ended' && w.event.room.name === room,
    )!.event;
    assert.deepEqual(
      { id: (ended.egressInfo as EgressInfo).id, status: (ended.egressInfo as EgressInfo).status },
      { id: info.id, status: 'complete' },
    );
    assert.ok(receiver.received.every((w) => w.verified));
  });

  it('record: stopped, then one MP4 with audio and video about as long as it ran', async function () {
    const room = 'egress-record';
    await publish(room, 'rec-host');
    const started = await call('POST', `/api/rooms/${room}/egress`, { type: 'record' });
    assert.equal(started.status, 201);
    const info = started.body as EgressInfo;
    const startedAt = Date.now();
    // A re-layout in the middle cuts the recording in two pieces, joined at the end.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await publish(room, 'rec-guest', 'guest');
    await eventually(() => {
      const pid = server.egress.pidOf(info.id);
      assert.ok(pid);
      assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /xstack=inputs=2/);
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    notePids();
    const stopped = await call('DELETE', `/api/rooms/${room}/egress/${info.id}`);
    const wallSeconds = (Date.now() - startedAt) / 1000;
    assert.equal(stopped.status, 200, JSON.stringify(stopped.body));
    const final = stopped.body as EgressInfo;
    assert.equal(final.status, 'complete');
    assert.ok(final.file && existsSync(final.file), 'the file exists');
    assert.ok(final.file.endsWith('.mp4'));
    const probe = await ffprobe(final.file);
    assert.deepEqual(probe.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    const duration = Number(probe.format.duration);
    // Startup and the re-layout cost a few seconds of the wall time; generous bounds.
    assert.ok(
      duration > wallSeconds * 0.3 && duration < wallSeconds + 2,
      `${duration} s of ${wallSeconds} s`,
    );
    assert.ok(Math.abs((final.durationSeconds ?? 0) - duration) < 1, 'the reported duration');
    assert.deepEqual(
      readdirSync(path.dirname(final.file)).filter((name) => name.startsWith('.')),
      [],
      'the pieces are gone',
    );
  });

  it('record: the room ending finalises the recording (egress_ended with its file)', async function () {
    const room = 'egress-room-end';
    const host = await publish(room, 'end-host');
    const started = await call('POST', `/api/rooms/${room}/egress`, { type: 'record' });
    assert.equal(started.status, 201);
    const info = started.body as EgressInfo;
    await eventually(async () => {
      const [egress] = (await call('GET', `/api/rooms/${room}/egress`)).body
        .egresses as EgressInfo[];
      assert.equal(egress?.status, 'active');
    }, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    notePids();
    await host.close();
    const ended = await eventually(
      () => {
        const webhook = receiver.received.find(
          (w) => w.event.event === 'egress_ended' && w.event.room.name === room,
        );
        assert.ok(webhook, 'egress_ended');
        return webhook.event.egressInfo as EgressInfo;
      },
      15_000,
      'egress_ended',
    );
    assert.equal(ended.id, info.id);
    assert.equal(ended.status, 'complete');
    assert.ok(ended.file && existsSync(ended.file));
    const probe = await ffprobe(ended.file);
    assert.deepEqual(probe.streams.map((s) => s.codec_type).sort(), ['audio', 'video']);
    assert.ok(Number(probe.format.duration) > 0.5, `duration ${probe.format.duration}`);
    assert.ok(
      receiver.received.some(
        (w) => w.event.event === 'egress_started' && w.event.room.name === room,
      ),
    );
  });
});

describe('egress: an ffmpeg that cannot run', function () {
  this.timeout(40_000);
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let dataDir: string;
  let publisher: TestPublisher | undefined;

  before(async function () {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'livestage-egress-fail-'));
    receiver = await startWebhookReceiver();
    server = await startTestServer({
      FFMPEG_PATH: path.join(dataDir, 'no-such-ffmpeg'),
      HLS_DIR: path.join(dataDir, 'hls'),
      RECORDINGS_DIR: path.join(dataDir, 'recordings'),
      WEBHOOK_URLS: receiver.url,
    });
  });

  after(async function () {
    await publisher?.close();
    await server?.close();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is retried with backoff, then the egress ends failed (egress_ended, failure metric)', async function () {
    publisher = await publishTestMedia({
      url: server.url,
      room: 'egress-fail',
      identity: 'fail-host',
      role: 'host',
    });
    const transportsBefore = (await workerCounts(server)).transports;
    const response = await fetch(`${server.url}/api/rooms/egress-fail/egress`, {
      method: 'POST',
      headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'hls' }),
    });
    assert.equal(response.status, 201);
    const ended = await eventually(
      () => {
        const webhook = receiver.received.find((w) => w.event.event === 'egress_ended');
        assert.ok(webhook, 'egress_ended');
        return webhook.event.egressInfo as EgressInfo;
      },
      30_000,
      'the egress gives up',
    );
    assert.equal(ended.status, 'failed');
    assert.match(ended.error ?? '', /failed 6 times in a row/);
    assert.equal(ended.restarts, 5);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^livestage_egress_failures_total\{type="hls"\} 1$/m);
    assert.match(metrics, /^livestage_egresses\{type="hls"\} 0$/m);
    assert.equal((await workerCounts(server)).transports, transportsBefore, 'consumers released');
  });
});
