import assert from 'node:assert/strict';
import type { JoinResponse, Welcome } from '@livestage/protocol';
import {
  connectRaw,
  produceVideo,
  errorCode,
  request,
  tokenFor,
  vp8RtpParameters,
} from '../helpers/client.js';
import { eventually, useTestServer, workerCounts } from '../helpers/server.js';

describe('signaling with a real worker and real socket.io', function () {
  const suite = useTestServer();
  const { sockets } = suite;

  async function joined(room: string, identity: string, role: 'host' | 'guest' | 'audience') {
    const { socket, welcome } = await connectRaw(suite.server.url, tokenFor(room, identity, role));
    sockets.push(socket);
    const ack = await request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
    assert.ok(ack.ok, `join failed: ${JSON.stringify(ack)}`);
    return { socket, welcome, join: ack.data as JoinResponse };
  }

  it('refuses a bad token at the handshake with UNAUTHORIZED', async function () {
    await assert.rejects(
      connectRaw(suite.server.url, 'not-a-token'),
      (error: { data?: { code: string } }) => {
        assert.equal(error.data?.code, 'UNAUTHORIZED');
        return true;
      },
    );
    await assert.rejects(
      connectRaw(suite.server.url, ''),
      (error: { data?: { code: string } }) => error.data?.code === 'UNAUTHORIZED',
    );
  });

  it('welcomes with router capabilities; join gives transports according to grants', async function () {
    const host = await joined('caps', 'host-1', 'host');
    assert.equal((host.welcome as Welcome).role, 'host');
    assert.ok(host.welcome.routerRtpCapabilities.codecs?.some((c) => c.mimeType === 'video/VP8'));
    assert.ok(host.join.sendTransport && host.join.recvTransport);
    const viewer = await joined('caps', 'viewer-1', 'audience');
    assert.equal(viewer.join.sendTransport, null);
    assert.ok(viewer.join.recvTransport);
    assert.deepEqual(
      viewer.join.participants.map((p) => p.identity),
      ['host-1'],
    );
    assert.equal((await workerCounts(suite.server)).transports, 3);
  });

  it('an audience token cannot produce, even naming a real transport: FORBIDDEN, nothing created', async function () {
    const host = await joined('forbid', 'host-2', 'host');
    const viewer = await joined('forbid', 'viewer-2', 'audience');
    for (const transportId of [host.join.sendTransport!.id, viewer.join.recvTransport!.id]) {
      const ack = await produceVideo(viewer.socket, transportId);
      assert.equal(errorCode(ack), 'FORBIDDEN');
    }
    assert.equal((await workerCounts(suite.server)).producers, 0);
  });

  it("naming another participant's transport is NOT_FOUND and changes nothing", async function () {
    const host = await joined('steal', 'host-3', 'host');
    const guest = await joined('steal', 'guest-3', 'guest');
    const before = await workerCounts(suite.server);
    const produce = await produceVideo(guest.socket, host.join.sendTransport!.id);
    assert.equal(errorCode(produce), 'NOT_FOUND');
    const connect = await request(guest.socket, 'connectTransport', {
      transportId: host.join.recvTransport!.id,
      dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB' }] },
    });
    assert.equal(errorCode(connect), 'NOT_FOUND');
    assert.deepEqual(await workerCounts(suite.server), before);
  });

  it('a published track is pushed to viewers as a paused consumer they can resume', async function () {
    const host = await joined('push', 'host-4', 'host');
    const viewer = await joined('push', 'viewer-4', 'audience');
    const pushed = new Promise<{ consumerId: string; trackId: string }>((resolve) =>
      viewer.socket.once('newConsumer', resolve),
    );
    const produce = await produceVideo(host.socket, host.join.sendTransport!.id);
    assert.ok(produce.ok, JSON.stringify(produce));
    const consumer = await pushed;
    assert.equal(consumer.trackId, (produce.data as { trackId: string }).trackId);
    assert.ok(
      suite.server.rooms.rooms
        .get('push')
        ?.participants.get('viewer-4')
        ?.subscription(consumer.consumerId).consumer.paused,
    );
    assert.ok(
      (await request(viewer.socket, 'resumeConsumer', { consumerId: consumer.consumerId })).ok,
    );
    assert.equal(
      suite.server.rooms.rooms
        .get('push')
        ?.participants.get('viewer-4')
        ?.subscription(consumer.consumerId).consumer.paused,
      false,
    );

    // A latecomer gets the live track pushed right after joining.
    const late = await connectRaw(suite.server.url, tokenFor('push', 'viewer-5', 'audience'));
    sockets.push(late.socket);
    const latePush = new Promise((resolve) => late.socket.once('newConsumer', resolve));
    await request(late.socket, 'join', { rtpCapabilities: late.welcome.routerRtpCapabilities });
    await latePush;
    assert.deepEqual(await workerCounts(suite.server), {
      routers: 1,
      transports: 4,
      producers: 1,
      consumers: 2,
    });
  });

  it('answers malformed payloads with INVALID_PAYLOAD and ignores requests without an ack', async function () {
    const host = await joined('garbage', 'host-6', 'host');
    const before = await workerCounts(suite.server);
    const cases: [string, unknown][] = [
      ['produce', null],
      ['produce', { transportId: 5 }],
      [
        'produce',
        {
          transportId: host.join.sendTransport!.id,
          kind: 'video',
          rtpParameters: { codecs: [] },
          source: 'camera',
        },
      ],
      [
        'produce',
        {
          transportId: host.join.sendTransport!.id,
          kind: 'audio',
          rtpParameters: vp8RtpParameters(),
          source: 'camera',
        },
      ],
      ['connectTransport', { transportId: 'x', dtlsParameters: 'nope' }],
      ['resumeConsumer', { consumerId: 'x', extra: true }],
      ['setConsumerPreferences', { consumerId: 'x', quality: 'ultra' }],
      ['join', { rtpCapabilities: {} }],
    ];
    for (const [event, payload] of cases) {
      const ack = await request(host.socket, event, payload);
      assert.ok(
        ['INVALID_PAYLOAD', 'INVALID_STATE'].includes(errorCode(ack) ?? ''),
        `${event} ${JSON.stringify(payload)} → ${JSON.stringify(ack)}`,
      );
    }
    // A vp8 stream whose codec the router lacks.
    const bad = vp8RtpParameters();
    bad.codecs[0]!.mimeType = 'video/AV2';
    const ack = await produceVideo(host.socket, host.join.sendTransport!.id, bad);
    assert.equal(errorCode(ack), 'INVALID_PAYLOAD');
    // No ack callback: the suite.server must neither crash nor act.
    (host.socket as unknown as { emit(event: string, payload: unknown): void }).emit('produce', {
      transportId: host.join.sendTransport!.id,
    });
    assert.ok(
      (await request(host.socket, 'pauseConsumer', { consumerId: 'none' })).ok === false,
      'socket still answers',
    );
    assert.deepEqual(await workerCounts(suite.server), before);
  });

  it('a disconnect closes the participant transports, producers and consumers; empty rooms close', async function () {
    const host = await joined('leave', 'host-7', 'host');
    const viewer = await joined('leave', 'viewer-7', 'audience');
    const pushed = new Promise((resolve) => viewer.socket.once('newConsumer', resolve));
    await produceVideo(host.socket, host.join.sendTransport!.id);
    await pushed;
    const left = new Promise((resolve) => viewer.socket.once('participantLeft', resolve));
    host.socket.disconnect();
    await left;
    await eventually(async () => {
      const counts = await workerCounts(suite.server);
      assert.deepEqual(
        { ...counts, routers: 0 },
        { routers: 0, transports: 1, producers: 0, consumers: 0 },
      );
    });
    viewer.socket.disconnect();
    await eventually(async () =>
      assert.deepEqual(await workerCounts(suite.server), {
        routers: 0,
        transports: 0,
        producers: 0,
        consumers: 0,
      }),
    );
  });

  it('GET /healthz reports every worker alive with its pid and resource usage', async function () {
    const response = await fetch(`${suite.server.url}/healthz`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as {
      status: string;
      workers: { pid: number; alive: boolean; maxRssKiB: number }[];
    };
    assert.equal(body.status, 'ok');
    assert.equal(body.workers.length, suite.server.config.media.workers);
    for (const worker of body.workers) {
      assert.ok(worker.alive && worker.pid > 0 && worker.maxRssKiB > 0);
    }
  });
});
