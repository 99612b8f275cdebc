import assert from 'node:assert/strict';
import type { ProduceResponse } from '@livestage/protocol';
import { joinRaw, produceVideo, request, tokenFor, type JoinedClient } from '../helpers/client.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';
import { startWebhookReceiver, type ReceivedWebhook } from '../helpers/webhookReceiver.js';

// Webhooks from a real server (real worker, real socket.io) to real HTTP receivers in the test.
// ROOM_EMPTY_GRACE_MS=0 (the test default): a room finishes as soon as it is empty.

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

/** "event identity" for each accepted delivery, the way a reader of the log would list them. */
function timeline(webhooks: readonly ReceivedWebhook[]): string[] {
  return webhooks.map(({ event }) =>
    [event.event, event.participant?.identity].filter(Boolean).join(' '),
  );
}

describe('webhooks', function () {
  let server: TestServer | undefined;
  let receiver: Receiver | undefined;
  const clients: JoinedClient[] = [];

  async function start(
    respond: Parameters<typeof startWebhookReceiver>[0],
    env: Record<string, string> = {},
  ) {
    receiver = await startWebhookReceiver(respond);
    server = await startTestServer({ WEBHOOK_URLS: receiver.url, ...env });
    return { receiver, server };
  }

  async function join(room: string, identity: string, role: 'host' | 'audience') {
    const client = await joinRaw(server!.url, tokenFor(room, identity, role));
    clients.push(client);
    return client;
  }

  afterEach(async function () {
    for (const client of clients.splice(0)) client.socket.disconnect();
    await server?.close();
    await receiver?.close();
    server = undefined;
    receiver = undefined;
  });

  it('a receiver verifies every signature and sees a room live and end, in order', async function () {
    const { receiver, server } = await start(undefined);
    const startedAt = Math.floor(Date.now() / 1000);
    const upTo = (count: number, what: string) =>
      eventually(
        () =>
          assert.equal(receiver.accepted().length, count, timeline(receiver.accepted()).join(', ')),
        5000,
        what,
      );

    const host = await join('life', 'host-1', 'host');
    await upTo(2, 'room_started, participant_joined host');
    const produced = await produceVideo(host.socket, host.join.sendTransport!.id);
    assert.ok(produced.ok, JSON.stringify(produced));
    const { trackId } = produced.data as ProduceResponse;
    await upTo(3, 'track_published');
    const viewer = await join('life', 'viewer-1', 'audience');
    await upTo(4, 'participant_joined viewer');
    assert.ok((await request(viewer.socket, 'raiseHand', { message: 'me please' })).ok);
    await upTo(5, 'hand_raised');
    assert.ok((await request(host.socket, 'approveHand', { identity: 'viewer-1' })).ok);
    await upTo(6, 'stage_joined');
    assert.ok((await request(viewer.socket, 'leaveStage', {})).ok);
    await upTo(7, 'stage_left');
    viewer.socket.disconnect();
    await upTo(8, 'participant_left viewer');
    assert.ok((await request(host.socket, 'closeTrack', { trackId })).ok);
    await upTo(9, 'track_unpublished');
    host.socket.disconnect();
    await upTo(11, 'participant_left host, room_finished');

    const accepted = receiver.accepted();
    assert.deepEqual(timeline(accepted), [
      'room_started',
      'participant_joined host-1',
      'track_published host-1',
      'participant_joined viewer-1',
      'hand_raised viewer-1',
      'stage_joined viewer-1',
      'stage_left viewer-1',
      'participant_left viewer-1',
      'track_unpublished host-1',
      'participant_left host-1',
      'room_finished',
    ]);
    for (const { verified, verifyError, contentType, event } of receiver.received) {
      assert.ok(verified, `${event.event}: signature verified (${verifyError})`);
      assert.equal(contentType, 'application/webhook+json', `${event.event}: content type`);
      assert.equal(event.room.name, 'life', `${event.event}: names its room`);
      assert.match(event.id, /^EV_/, `${event.event}: has an id`);
      assert.ok(
        event.createdAt >= startedAt && event.createdAt <= Date.now() / 1000 + 1,
        `${event.event}: createdAt in seconds (${event.createdAt})`,
      );
    }
    assert.equal(new Set(accepted.map((w) => w.event.id)).size, 11, 'every event its own id');
    assert.equal(receiver.received.length, 11, 'each delivered once');
    const byName = (name: string) => accepted.find((w) => w.event.event === name)!.event;
    assert.deepEqual(
      { ...byName('participant_joined').participant, tracks: undefined },
      { identity: 'host-1', name: 'host-1', role: 'host', metadata: '', tracks: undefined },
    );
    for (const name of ['track_published', 'track_unpublished']) {
      assert.deepEqual(
        byName(name).track,
        {
          sid: trackId,
          type: 'VIDEO',
          source: 'CAMERA',
          muted: false,
          simulcast: false,
          spatialLayers: 1,
        },
        `${name} describes the track`,
      );
    }
    const hand = byName('hand_raised').hand as { message: string; expiresAt: number };
    assert.equal(hand.message, 'me please', 'hand_raised carries the message');
    assert.ok(hand.expiresAt > Date.now(), 'and when the hand lapses (epoch ms)');
    assert.equal(server.webhooks.dropped, 0);
    assert.equal(server.webhooks.delivered, 11);
  });

  it('quality reports go out as quality_report, after the events of their room', async function () {
    const { receiver, server } = await start(undefined, { QUALITY_REPORT_INTERVAL_MS: '0' });
    const host = await join('quality', 'host-1', 'host');
    const produced = await produceVideo(host.socket, host.join.sendTransport!.id);
    assert.ok(produced.ok, JSON.stringify(produced));
    const { trackId } = produced.data as ProduceResponse;
    await server.quality.collectNow();
    await eventually(
      () =>
        assert.deepEqual(timeline(receiver.accepted()), [
          'room_started',
          'participant_joined host-1',
          'track_published host-1',
          'quality_report',
        ]),
      5000,
      'quality_report delivered after track_published',
    );
    const { event, verified } = receiver.accepted()[3]!;
    assert.ok(verified, 'signed');
    assert.equal(event.room.name, 'quality');
    const report = event.qualityReport as {
      room: string;
      tracks: { trackId?: string; id?: string }[];
    };
    assert.equal(report.room, 'quality', 'the report itself');
    assert.ok(JSON.stringify(report.tracks).includes(trackId), 'names the published track');
  });

  it('a receiver that never answers delays no join; its deliveries are retried, then dropped', async function () {
    this.timeout(40_000);
    // If a join waited on a delivery it would take at least WEBHOOK_TIMEOUT_MS.
    const { receiver, server } = await start(() => undefined, {
      WEBHOOK_TIMEOUT_MS: '4000',
      WEBHOOK_ATTEMPTS: '2',
      WEBHOOK_RETRY_BASE_MS: '100',
    });
    await join('hang', 'host-1', 'host');
    const [roomStarted] = await eventually(
      () => {
        const open = receiver.open();
        assert.equal(open.length, 1, 'room_started hangs at the receiver');
        return open;
      },
      5000,
      'the first delivery hangs',
    );
    assert.equal(roomStarted!.event.event, 'room_started');

    const before = Date.now();
    await join('hang', 'viewer-1', 'audience');
    const joinMs = Date.now() - before;
    assert.ok(joinMs < 3000, `the join was acknowledged in ${joinMs} ms, within the ceiling`);
    assert.ok(!roomStarted!.done, 'and room_started was still hanging when it was');
    assert.equal(server.webhooks.dropped, 0, 'nothing given up yet');

    await eventually(
      () => {
        const attempts = receiver.received.filter((w) => w.event.id === roomStarted!.event.id);
        assert.equal(attempts.length, 2, 'room_started attempted twice');
      },
      15_000,
      'the retry',
    );
    await eventually(
      () => assert.ok(server.webhooks.dropped >= 1, `dropped: ${server.webhooks.dropped}`),
      15_000,
      'room_started dropped after its last attempt',
    );
    assert.ok(
      receiver.received.every((w) => w.verified),
      'every attempt signed',
    );
  });

  it('a receiver that fails twice, then answers, gets every event in order', async function () {
    const { receiver, server } = await start(
      (webhook, response) => {
        const attempt = receiver.received.filter((w) => w.event.id === webhook.event.id).length;
        response.statusCode = attempt <= 2 ? 503 : 204;
        response.end();
      },
      { WEBHOOK_ATTEMPTS: '4', WEBHOOK_RETRY_BASE_MS: '50' },
    );
    const host = await join('flaky', 'host-1', 'host');
    host.socket.disconnect();
    await eventually(
      () =>
        assert.deepEqual(timeline(receiver.accepted()), [
          'room_started',
          'participant_joined host-1',
          'participant_left host-1',
          'room_finished',
        ]),
      10_000,
      'all four events accepted',
    );
    assert.equal(receiver.received.length, 12, 'each event: two failures, then success');
    assert.equal(server.webhooks.dropped, 0);
  });
});
