import assert from 'node:assert/strict';
import type { RTCPeerConnection } from 'werift';
import { joinRaw, tokenFor } from '../helpers/client.js';
import { publishTestMedia, type TestPublisher } from '../helpers/media.js';
import { eventually, openRoom, useTestServer, workerCounts } from '../helpers/server.js';
import {
  closePeer,
  connected,
  countReceived,
  http,
  makePeer,
  offerFrom,
} from '../helpers/whipPeer.js';

const SDP = 'application/sdp';
const FRAGMENT = 'application/trickle-ice-sdpfrag';

describe('WHIP ingress and WHEP playback (RFC 9725, raw HTTP, a real RTCPeerConnection)', function () {
  this.timeout(30_000);
  const peers: RTCPeerConnection[] = [];
  const publishers: TestPublisher[] = [];
  let room = '';
  let roomNumber = 0;

  beforeEach(function () {
    room = `whip-${(roomNumber += 1)}`;
  });
  // Before useTestServer's own afterEach, which checks that no transport is left.
  afterEach(async function () {
    for (const peer of peers.splice(0)) await closePeer(peer);
    for (const publisher of publishers.splice(0)) await publisher.close();
    ctx.server.ingest.closeAll('test over');
  });
  const ctx = useTestServer({
    ICE_SERVERS: 'stun:stun.example.com:3478,turn:turn.example.com:3478?transport=udp',
    ICE_USERNAME: 'user',
    ICE_CREDENTIAL: 'secret',
  });

  const whip = (path = room) => `${ctx.server.url}/whip/${path}`;
  const whep = (path = room) => `${ctx.server.url}/whep/${path}`;

  async function sendOffer(direction: 'sendonly' | 'recvonly', kinds?: ('audio' | 'video')[]) {
    const peer = makePeer();
    peers.push(peer);
    return { peer, offer: await offerFrom(peer, direction, kinds) };
  }

  /** A WHIP publication by `identity`, connected; returns its session URL and ETag. */
  async function publishOverWhip(identity = 'obs') {
    const { peer, offer } = await sendOffer('sendonly');
    const token = tokenFor(room, identity, 'host');
    const reply = await http(whip(), 'POST', { token, contentType: SDP, body: offer });
    assert.equal(reply.status, 201, reply.body);
    await peer.setRemoteDescription({ type: 'answer', sdp: reply.body });
    await connected(peer);
    const location = reply.headers.get('location') ?? '';
    return { peer, token, reply, session: new URL(location, ctx.server.url).href };
  }

  async function nothingCreated(): Promise<void> {
    assert.equal(ctx.server.rooms.rooms.get(room)?.participants.size ?? 0, 0);
    await eventually(async () => assert.equal((await workerCounts(ctx.server)).transports, 0));
    assert.equal(ctx.server.ingest.count('whip') + ctx.server.ingest.count('whep'), 0);
  }

  describe('WHIP', function () {
    it("publishes the offer as the token's camera and microphone: 201, answer, Location, ETag, Link", async function () {
      const { reply } = await publishOverWhip();
      assert.equal(reply.headers.get('content-type')?.split(';')[0], SDP);
      assert.match(reply.headers.get('location') ?? '', new RegExp(`^/whip/${room}/[\\w-]+$`));
      assert.match(reply.headers.get('etag') ?? '', /^"[\w-]+"$/);
      const links = reply.headers.get('link') ?? '';
      assert.match(links, /<stun:stun\.example\.com:3478>; rel="ice-server"/);
      assert.match(
        links,
        /<turn:turn\.example\.com:3478\?transport=udp>; rel="ice-server"; username="user"; credential="secret"; credential-type="password"/,
      );
      assert.match(reply.body, /a=ice-lite/);
      assert.match(reply.body, /a=setup:passive/);
      assert.match(reply.body, /a=fingerprint:sha-256 /);
      assert.doesNotMatch(reply.body, /a=fingerprint:sha-(384|512) /);
      const participant = openRoom(ctx.server, room).participants.get('obs');
      assert.ok(participant, 'the publisher is a participant of the room');
      assert.deepEqual([...participant.tracks.values()].map((t) => t.source).sort(), [
        'camera',
        'microphone',
      ]);
      // A viewer using the SDK's protocol sees an ordinary publisher.
      const viewer = await joinRaw(ctx.server.url, tokenFor(room, 'viewer', 'audience'));
      ctx.sockets.push(viewer.socket);
      const seen = viewer.join.participants.find((p) => p.identity === 'obs');
      assert.equal(seen?.role, 'host');
      assert.equal(seen?.tracks.length, 2);
    });

    it('DELETE ends it (200): the participant leaves and its transport closes', async function () {
      const { session, token } = await publishOverWhip();
      const viewer = await joinRaw(ctx.server.url, tokenFor(room, 'viewer', 'audience'));
      ctx.sockets.push(viewer.socket);
      const reply = await http(session, 'DELETE', { token });
      assert.equal(reply.status, 200);
      await eventually(() =>
        assert.ok(viewer.events.of('participantLeft').some((e) => e.identity === 'obs')),
      );
      assert.equal(ctx.server.ingest.count('whip'), 0);
      assert.equal((await http(session, 'DELETE', { token })).status, 404);
    });

    it('refuses an audience token (403) and creates nothing', async function () {
      const { offer } = await sendOffer('sendonly');
      const token = tokenFor(room, 'watcher', 'audience');
      const reply = await http(whip(), 'POST', { token, contentType: SDP, body: offer });
      assert.equal(reply.status, 403);
      assert.equal(JSON.parse(reply.body).error.code, 'FORBIDDEN');
      await nothingCreated();
    });

    it('refuses a missing token (401), a token of another room (403) and a wrong content type (415)', async function () {
      const { offer } = await sendOffer('sendonly');
      assert.equal((await http(whip(), 'POST', { contentType: SDP, body: offer })).status, 401);
      const elsewhere = tokenFor('another-room', 'obs', 'host');
      assert.equal(
        (await http(whip(), 'POST', { token: elsewhere, contentType: SDP, body: offer })).status,
        403,
      );
      const token = tokenFor(room, 'obs', 'host');
      assert.equal(
        (await http(whip(), 'POST', { token, contentType: 'text/plain', body: offer })).status,
        415,
      );
      await nothingCreated();
    });

    it('answers a malformed offer with 400 and creates nothing', async function () {
      const token = tokenFor(room, 'obs', 'host');
      for (const body of ['hello', 'v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n', '']) {
        const reply = await http(whip(), 'POST', { token, contentType: SDP, body });
        assert.equal(reply.status, 400, `${JSON.stringify(body)} → ${reply.status} ${reply.body}`);
      }
      await nothingCreated();
    });

    it('answers an offer it cannot serve with 422 (recvonly, two video tracks, no codec) and creates nothing', async function () {
      const token = tokenFor(room, 'obs', 'host');
      const { offer: recvonly } = await sendOffer('recvonly');
      const { offer: twoVideos } = await sendOffer('sendonly', ['video', 'video']);
      const { offer } = await sendOffer('sendonly', ['video']);
      const noCodec = offer
        .replace(/a=rtpmap:96 VP8\/90000/, 'a=rtpmap:96 AV1X/90000')
        .replace(/a=rtcp-fb:96 .*\r\n/g, '');
      for (const body of [recvonly, twoVideos, noCodec]) {
        const reply = await http(whip(), 'POST', { token, contentType: SDP, body });
        assert.equal(reply.status, 422, reply.body);
      }
      await nothingCreated();
    });

    it('PATCH: trickle 204, a stale If-Match 412, an ICE restart 200 with new credentials and ETag', async function () {
      const { session, token, reply } = await publishOverWhip();
      const etag = reply.headers.get('etag') ?? '';
      const trickle = 'a=mid:0\r\na=candidate:1 1 udp 2113937151 192.0.2.1 5000 typ host\r\n';
      let patch = await http(session, 'PATCH', {
        token,
        contentType: FRAGMENT,
        body: trickle,
        headers: { 'If-Match': etag },
      });
      assert.equal(patch.status, 204);
      patch = await http(session, 'PATCH', {
        token,
        contentType: FRAGMENT,
        body: trickle,
        headers: { 'If-Match': '"stale"' },
      });
      assert.equal(patch.status, 412);
      const before = openRoom(ctx.server, room).participants.get('obs')?.sendTransport
        ?.iceParameters;
      patch = await http(session, 'PATCH', {
        token,
        contentType: FRAGMENT,
        body: 'a=ice-ufrag:newufrag\r\na=ice-pwd:newpassword0123456789abcd\r\n',
        headers: { 'If-Match': '*' },
      });
      assert.equal(patch.status, 200, patch.body);
      assert.notEqual(patch.headers.get('etag'), etag);
      const ufrag = /a=ice-ufrag:(\S+)/.exec(patch.body)?.[1];
      assert.ok(ufrag && ufrag !== before?.usernameFragment, patch.body);
      assert.match(patch.body, /a=candidate:/);
      assert.equal(
        (await http(session, 'PATCH', { token, contentType: 'text/plain', body: trickle })).status,
        415,
      );
    });

    it("keeps sessions apart: 404 for an unknown session, 403 for another identity's token", async function () {
      const { session } = await publishOverWhip();
      const other = tokenFor(room, 'someone-else', 'host');
      assert.equal((await http(session, 'DELETE', { token: other })).status, 403);
      const unknown = `${whip()}/00000000-0000-0000-0000-000000000000`;
      assert.equal((await http(unknown, 'DELETE', { token: other })).status, 404);
      assert.equal(ctx.server.ingest.count('whip'), 1);
      const metrics = await (await fetch(`${ctx.server.url}/metrics`)).text();
      assert.match(metrics, /^livestage_ingest_sessions\{kind="whip"\} 1$/m);
      assert.match(metrics, /^livestage_ingest_sessions\{kind="whep"\} 0$/m);
    });

    it('answers OPTIONS for CORS without a token, and 405 for other methods', async function () {
      const reply = await http(whip(), 'OPTIONS');
      assert.equal(reply.status, 204);
      assert.equal(reply.headers.get('accept-post'), SDP);
      assert.equal(reply.headers.get('access-control-allow-origin'), '*');
      assert.match(reply.headers.get('access-control-allow-methods') ?? '', /PATCH/);
      assert.match(reply.headers.get('access-control-expose-headers') ?? '', /Location/);
      assert.equal((await http(whip(), 'GET')).status, 405);
    });
  });

  describe('WHEP', function () {
    async function hostLive(): Promise<TestPublisher> {
      const host = await publishTestMedia({
        url: ctx.server.url,
        room,
        identity: 'host',
        role: 'host',
      });
      publishers.push(host);
      return host;
    }

    it('404 for a room that does not exist, 409 + Retry-After while nobody publishes', async function () {
      const token = tokenFor(room, 'player', 'audience');
      const { offer } = await sendOffer('recvonly');
      assert.equal(
        (await http(whep(), 'POST', { token, contentType: SDP, body: offer })).status,
        404,
      );
      const viewer = await joinRaw(ctx.server.url, tokenFor(room, 'viewer', 'audience'));
      ctx.sockets.push(viewer.socket);
      const reply = await http(whep(), 'POST', { token, contentType: SDP, body: offer });
      assert.equal(reply.status, 409);
      assert.equal(reply.headers.get('retry-after'), '5');
      assert.equal(ctx.server.ingest.count('whep'), 0);
    });

    it('plays the host: 201, a sendonly answer, audio and video RTP arrive; DELETE 200', async function () {
      await hostLive();
      const token = tokenFor(room, 'player', 'audience');
      const { peer, offer } = await sendOffer('recvonly');
      const received = countReceived(peer);
      const reply = await http(whep(), 'POST', { token, contentType: SDP, body: offer });
      assert.equal(reply.status, 201, reply.body);
      assert.match(reply.headers.get('location') ?? '', new RegExp(`^/whep/${room}/`));
      assert.ok(reply.headers.get('etag'));
      assert.match(reply.body, /a=sendonly/);
      assert.doesNotMatch(reply.body, /a=extmap/);
      await peer.setRemoteDescription({ type: 'answer', sdp: reply.body });
      await connected(peer);
      await eventually(() => {
        assert.ok(received.video > 20, `video packets ${received.video}`);
        assert.ok(received.audio > 20, `audio packets ${received.audio}`);
      });
      const session = new URL(reply.headers.get('location') ?? '', ctx.server.url).href;
      assert.equal((await http(session, 'DELETE', { token })).status, 200);
      assert.equal(ctx.server.ingest.count('whep'), 0);
    });

    it('ends the playback when the host stops', async function () {
      const host = await hostLive();
      const token = tokenFor(room, 'player', 'audience');
      const { peer, offer } = await sendOffer('recvonly');
      const reply = await http(whep(), 'POST', { token, contentType: SDP, body: offer });
      assert.equal(reply.status, 201, reply.body);
      await peer.setRemoteDescription({ type: 'answer', sdp: reply.body });
      assert.equal(ctx.server.ingest.count('whep'), 1);
      await host.close();
      await eventually(() => assert.equal(ctx.server.ingest.count('whep'), 0));
    });

    it('403 for a token that may not subscribe or is for another room; 422 for codecs it cannot send', async function () {
      await hostLive();
      const { offer } = await sendOffer('recvonly');
      const noSubscribe = tokenFor(room, 'player', 'audience', { canSubscribe: false });
      assert.equal(
        (await http(whep(), 'POST', { token: noSubscribe, contentType: SDP, body: offer })).status,
        403,
      );
      const elsewhere = tokenFor('elsewhere', 'player', 'audience');
      assert.equal(
        (await http(whep(), 'POST', { token: elsewhere, contentType: SDP, body: offer })).status,
        403,
      );
      // Firefox's payload types: the router cannot send VP8 and opus under them (mediasoup 3.12).
      const firefoxish = offer
        .replace(/ 111\r\n/, ' 109\r\n')
        .replace(/:111 /g, ':109 ')
        .replace(/ 96\r\n/, ' 120\r\n')
        .replace(/:96 /g, ':120 ');
      const token = tokenFor(room, 'player', 'audience');
      const reply = await http(whep(), 'POST', { token, contentType: SDP, body: firefoxish });
      assert.equal(reply.status, 422, reply.body);
      assert.equal(ctx.server.ingest.count('whep'), 0);
    });
  });
});
