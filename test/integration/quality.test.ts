import assert from 'node:assert/strict';
import type { QualityReport } from '@livestage/protocol';
import {
  publishTestMedia,
  watchMedia,
  type TestPublisher,
  type TestViewer,
} from '../helpers/media.js';
import { TEST_KEYS, eventually, startTestServer, type TestServer } from '../helpers/server.js';

// Quality reports from a real room: real RTP from a publisher, a viewer that receives it, and
// the report the host gets, the REST API serves and a listener (webhooks) sees.

describe('quality reports', function () {
  this.timeout(60_000);
  let server: TestServer;
  const peers: (TestPublisher | TestViewer)[] = [];

  before(async function () {
    server = await startTestServer({ QUALITY_REPORT_INTERVAL_MS: '1000' });
  });
  after(async function () {
    await Promise.all(peers.map((peer) => peer.close().catch(() => undefined)));
    await server?.close();
  });

  it("tells the host each track's bitrate and score and each viewer's layer, bitrate and RTT", async function () {
    const room = 'quality';
    const heard: QualityReport[] = [];
    server.quality.onReport((report) => heard.push(report));
    const host = await publishTestMedia({ url: server.url, room, identity: 'host', role: 'host' });
    peers.push(host);
    const toHost: QualityReport[] = [];
    host.signaling.socket.on('qualityReport', (report) => toHost.push(report));
    const viewer = await watchMedia({ url: server.url, room, identity: 'viewer' });
    peers.push(viewer);

    const report = await eventually(
      () => {
        const last = toHost.at(-1);
        assert.ok(last, 'a report reached the host');
        assert.equal(last.viewerCount, 1, 'viewer count');
        const video = last.tracks.find((t) => t.kind === 'video');
        assert.ok(video && video.bitrate > 0, `video bitrate ${video?.bitrate}`);
        assert.equal(video.identity, 'host');
        const watched = last.subscriptions.find(
          (s) => s.identity === 'viewer' && s.kind === 'video',
        );
        assert.ok(watched && watched.bitrate > 0, `viewer's video bitrate ${watched?.bitrate}`);
        assert.equal(watched.publisher, 'host');
        assert.ok(watched.score > 0, 'score');
        return last;
      },
      20_000,
      "the host's report names its viewer and carries real figures",
    );
    assert.equal(report.room, room);
    assert.ok(
      heard.some((r) => r.room === room),
      'listeners (webhooks) get the reports too',
    );

    const auth = Buffer.from(`${TEST_KEYS.apiKey}:${TEST_KEYS.apiSecret}`).toString('base64');
    const response = await fetch(`${server.url}/api/rooms/${room}/quality`, {
      headers: { authorization: `Basic ${auth}` },
    });
    assert.equal(response.status, 200);
    const latest = (await response.json()) as QualityReport;
    assert.equal(latest.room, room);
    assert.ok(latest.subscriptions.length >= 2, 'audio and video of the viewer');
    const refused = await fetch(`${server.url}/api/rooms/${room}/quality`);
    assert.equal(refused.status, 401, 'admin credentials required');
  });
});
