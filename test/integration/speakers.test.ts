import assert from 'node:assert/strict';
import type { ActiveSpeakers } from '@livestage/protocol';
import {
  joinRaw,
  nextEvent,
  produceAudio,
  tokenFor,
  type JoinedClient,
} from '../helpers/client.js';
import { startCluster, type TestCluster, type TestNode } from '../helpers/cluster.js';
import { publishTestMedia, type TestPublisher } from '../helpers/media.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

// Active speakers from real media: ffmpeg's Opus sent as SRTP by two publishers whose packets
// carry the RFC 6464 audio level (one loud, one silent at first), measured by the worker's
// AudioLevelObserver and told to a viewer as `activeSpeakersChanged`.

const INTERVAL_MS = 300;
const LOUD_DBOV = -10;
const SILENT_DBOV = -127;

interface Heard extends ActiveSpeakers {
  at: number;
}

describe('active speakers', function () {
  this.timeout(60_000);
  let server: TestServer;
  const publishers: TestPublisher[] = [];
  const clients: JoinedClient[] = [];

  afterEach(async function () {
    await Promise.all(publishers.splice(0).map((p) => p.close().catch(() => undefined)));
    for (const client of clients.splice(0)) client.socket.disconnect();
    await server?.close();
  });

  it('names the loud publisher first, the quieter one after it, and nobody once they stop', async function () {
    server = await startTestServer({
      ACTIVE_SPEAKER_INTERVAL_MS: String(INTERVAL_MS),
      ACTIVE_SPEAKER_THRESHOLD_DBOV: '-70',
    });
    const room = 'speakers';
    const viewer = await joinRaw(server.url, tokenFor(room, 'viewer', 'audience'));
    clients.push(viewer);
    const heard: Heard[] = [];
    viewer.socket.on('activeSpeakersChanged', (event) => heard.push({ ...event, at: Date.now() }));
    const last = () => heard.at(-1)?.speakers ?? [];
    const names = () => last().map((s) => s.identity);

    const loud = await publishTestMedia({
      url: server.url,
      room,
      identity: 'loud',
      role: 'host',
      audioLevelDbov: LOUD_DBOV,
    });
    publishers.push(loud);
    const toLoud: ActiveSpeakers[] = [];
    loud.signaling.socket.on('activeSpeakersChanged', (event) => toLoud.push(event));
    const quiet = await publishTestMedia({
      url: server.url,
      room,
      identity: 'quiet',
      role: 'guest',
      audioLevelDbov: SILENT_DBOV,
    });
    publishers.push(quiet);

    await eventually(() => assert.deepEqual(names(), ['loud']), 20_000, 'the loud one speaks');
    const level = last()[0]!.level;
    // -10 dBov on the documented scale (-70 dBov → 0, 0 dBov → 1).
    assert.ok(Math.abs(level - 60 / 70) < 0.02, `level ${level}`);
    assert.ok(
      heard.every((event) => !event.speakers.some((s) => s.identity === 'quiet')),
      'a silent microphone is never a speaker',
    );

    quiet.setAudioLevel(-30);
    await eventually(() => assert.deepEqual(names(), ['loud', 'quiet']), 10_000, 'both, in order');
    const [first, second] = last();
    assert.ok(first!.level > second!.level, 'loudest first');

    loud.setAudioLevel(SILENT_DBOV);
    await eventually(() => assert.deepEqual(names(), ['quiet']), 10_000, 'the loud one stopped');
    quiet.setAudioLevel(SILENT_DBOV);
    await eventually(() => assert.deepEqual(names(), []), 10_000, 'silence: an empty list');

    // Steady loudness is not news: nothing more while nobody speaks.
    const count = heard.length;
    await new Promise((resolve) => setTimeout(resolve, 3 * INTERVAL_MS));
    assert.equal(heard.length, count, 'no repeats of an unchanged list');
    // At most one event per interval (exact spacing is a unit test's: arrival times jitter when
    // the machine is busy).
    const span = heard.at(-1)!.at - heard[0]!.at;
    assert.ok(heard.length <= span / INTERVAL_MS + 2, `${heard.length} events in ${span} ms`);
    assert.ok(toLoud.length > 0, 'publishers are told too (everyone in the room is)');
  });

  it('drops a speaker whose microphone closes at once, not after its hold', async function () {
    // The longest interval mediasoup allows: a hold of 12.5 s, so that "at once" (within one
    // interval) and "after the hold" (at least 7.5 s after the last loud report) stay far apart
    // however busy the machine is.
    const intervalMs = 5_000;
    server = await startTestServer({
      ACTIVE_SPEAKER_INTERVAL_MS: String(intervalMs),
      ACTIVE_SPEAKER_THRESHOLD_DBOV: '-70',
    });
    const room = 'speakers-closed';
    const viewer = await joinRaw(server.url, tokenFor(room, 'viewer', 'audience'));
    clients.push(viewer);
    const heard: Heard[] = [];
    viewer.socket.on('activeSpeakersChanged', (event) => heard.push({ ...event, at: Date.now() }));
    const names = () => (heard.at(-1)?.speakers ?? []).map((s) => s.identity);
    const loud = await publishTestMedia({
      url: server.url,
      room,
      identity: 'loud',
      role: 'host',
      audioLevelDbov: LOUD_DBOV,
    });
    publishers.push(loud);
    await eventually(() => assert.deepEqual(names(), ['loud']), 20_000, 'the loud one speaks');

    const closedAt = Date.now();
    await loud.signaling.request('closeTrack', { trackId: loud.audioTrackId! });
    await eventually(() => assert.deepEqual(names(), []), 20_000, 'its microphone closed');
    const took = heard.at(-1)!.at - closedAt;
    // About one interval (reports are spaced), well before the hold would lapse.
    assert.ok(took < intervalMs * 1.4, `dropped after ${took} ms`);
  });

  it('watches the microphones on the new origin after its worker died', async function () {
    server = await startTestServer({ MEDIA_WORKERS: '1' });
    const room = 'speakers-move';
    const host = await joinRaw(server.url, tokenFor(room, 'host', 'host'));
    clients.push(host);
    assert.ok((await produceAudio(host.socket, host.join.sendTransport!.id)).ok);
    const live = server.rooms.rooms.get(room)!;
    const observed = async () => {
      const dump = (await live.router.dump()) as {
        rtpObserverIds: string[];
        mapProducerIdObserverIds: Record<string, string[]>;
      };
      return dump;
    };
    await eventually(async () => {
      const dump = await observed();
      assert.equal(dump.rtpObserverIds.length, 1, 'one observer on the origin');
      const [producerId] = [...live.participants.get('host')!.tracks.keys()];
      assert.deepEqual(dump.mapProducerIdObserverIds[producerId!], dump.rtpObserverIds);
    });

    const oldRouter = live.router;
    const reset = nextEvent(host.socket, 'mediaReset', () => true, 15_000);
    process.kill(server.pool.workers[0]!.worker.pid, 'SIGKILL');
    const media = await reset;
    assert.notEqual(live.router, oldRouter);
    assert.ok((await produceAudio(host.socket, media.sendTransport!.id)).ok);
    await eventually(async () => {
      const dump = await observed();
      assert.equal(dump.rtpObserverIds.length, 1, 'an observer on the new origin');
      const [producerId] = [...live.participants.get('host')!.tracks.keys()];
      assert.deepEqual(dump.mapProducerIdObserverIds[producerId!], dump.rtpObserverIds);
    });
  });
});

describe('active speakers across the nodes of a cluster', function () {
  this.timeout(120_000);
  let cluster: TestCluster | undefined;
  const publishers: TestPublisher[] = [];
  const clients: JoinedClient[] = [];

  after(async function () {
    await Promise.all(publishers.splice(0).map((p) => p.close().catch(() => undefined)));
    for (const client of clients.splice(0)) client.socket.disconnect();
    await cluster?.stop();
  });

  it("a viewer on another node hears who speaks on the publisher's node", async function () {
    cluster = await startCluster(2, { env: { ACTIVE_SPEAKER_INTERVAL_MS: String(INTERVAL_MS) } });
    const [a, b] = cluster.nodes as [TestNode, TestNode];
    const room = 'speakers-cluster';
    const viewer = await joinRaw(b.url, tokenFor(room, 'viewer', 'audience'));
    clients.push(viewer);
    const heard: ActiveSpeakers[] = [];
    viewer.socket.on('activeSpeakersChanged', (event) => heard.push(event));
    const names = () => (heard.at(-1)?.speakers ?? []).map((s) => s.identity);

    const loud = await publishTestMedia({
      url: a.url,
      room,
      identity: 'loud',
      role: 'host',
      audioLevelDbov: LOUD_DBOV,
    });
    publishers.push(loud);
    // Measured on node B itself, from the microphone relayed into its origin router.
    await eventually(() => assert.deepEqual(names(), ['loud']), 20_000, 'node B names the speaker');
    loud.setAudioLevel(SILENT_DBOV);
    await eventually(() => assert.deepEqual(names(), []), 10_000, 'and then nobody');
  });
});
