import assert from 'node:assert/strict';
import {
  joinRaw,
  request,
  tokenFor,
  type JoinedClient,
  type TestSocket,
} from '../helpers/client.js';
import { eventually, startTestServer, type TestServer } from '../helpers/server.js';

// Presence that does not cost N² messages: past ROOM_AUDIENCE_PRESENCE_LIMIT the audience no
// longer hears of each other; hosts still see everyone, and everyone follows the viewer count.

describe('presence in a large room', function () {
  this.timeout(60_000);
  let server: TestServer;
  const sockets: TestSocket[] = [];

  before(async function () {
    server = await startTestServer({
      ROOM_AUDIENCE_PRESENCE_LIMIT: '3',
      ROOM_VIEWER_COUNT_INTERVAL_MS: '100',
    });
  });
  after(async function () {
    for (const socket of sockets.splice(0)) socket.disconnect();
    await server.close();
  });

  async function peer(identity: string, role: 'host' | 'audience'): Promise<JoinedClient> {
    const joined = await joinRaw(server.url, tokenFor('big', identity, role));
    sockets.push(joined.socket);
    return joined;
  }
  const joinedSeen = (p: JoinedClient) => p.events.of('participantJoined').map((i) => i.identity);
  const leftSeen = (p: JoinedClient) => p.events.of('participantLeft').map((e) => e.identity);

  it('the audience hears of each other only while the room is small; hosts hear of everyone', async function () {
    const host = await peer('host', 'host');
    const early = await peer('early', 'audience'); // 2 participants: small
    const second = await peer('second', 'audience'); // 3: still small
    assert.deepEqual(joinedSeen(early), ['second']);
    const late = await peer('late', 'audience'); // 4 > 3: large
    const later = await peer('later', 'audience');
    assert.equal(late.join.viewerCount, 3, 'the join reply counts the audience');

    // The host saw every join; the early audience only the ones of the small room.
    await eventually(
      () => assert.deepEqual(joinedSeen(host), ['early', 'second', 'late', 'later'], 'host'),
      5_000,
      'host sees all',
    );
    assert.deepEqual(joinedSeen(early), ['second']);
    assert.deepEqual(joinedSeen(late), [], 'late hears of no one');
    // A newcomer to the large room is told of the host and of the audience others know of.
    assert.deepEqual(later.join.participants.map((p) => p.identity).sort(), [
      'early',
      'host',
      'second',
    ]);

    // Everyone follows the count instead.
    for (const p of [host, early, late, later]) {
      await eventually(
        () => assert.equal(p.events.of('viewerCount').at(-1)?.count, 4, `${p.identity} count`),
        5_000,
        'viewer count',
      );
    }

    // A leave is told where the join was.
    late.socket.disconnect();
    early.socket.disconnect();
    await eventually(
      () => assert.deepEqual(leftSeen(host).sort(), ['early', 'late'], 'host hears both'),
      5_000,
      'host hears leaves',
    );
    await eventually(
      () => assert.deepEqual(leftSeen(second), ['early'], 'audience hears the known one'),
      5_000,
      'audience hears known leaves',
    );
    await eventually(
      () => assert.equal(second.events.of('viewerCount').at(-1)?.count, 2, 'count drops'),
      5_000,
      'count after leaves',
    );

    // Brought on stage, an unknown audience member is introduced to everyone.
    assert.ok((await request(later.socket, 'raiseHand', {})).ok);
    assert.ok((await request(host.socket, 'approveHand', { identity: 'later' })).ok);
    await eventually(
      () => {
        const intro = second.events.of('participantJoined').find((p) => p.identity === 'later');
        assert.ok(intro, 'second is told of the guest');
        assert.equal(intro.role, 'guest');
      },
      5_000,
      'guest introduced',
    );
    assert.equal(joinedSeen(host).filter((id) => id === 'later').length, 1, 'host told once');
    await eventually(
      () =>
        assert.equal(second.events.of('viewerCount').at(-1)?.count, 1, 'a guest is not audience'),
      5_000,
      'count without the guest',
    );
  });
});
