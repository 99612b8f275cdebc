import assert from 'node:assert/strict';
import type {
  ConsumerInfo,
  HandRequest,
  JoinResponse,
  ProduceResponse,
  RoleChanged,
  StageInfo,
  StageInvite,
  StageSource,
  Welcome,
} from '@livestage/protocol';
import type { Role } from '../../server/src/auth/grants.js';
import {
  barrier,
  connectRaw,
  errorCode,
  nextEvent,
  opusRtpParameters,
  produceAudio,
  produceVideo,
  recordEvents,
  request,
  tokenFor,
  type TestSocket,
} from '../helpers/client.js';
import { eventually, useTestServer, workerCounts } from '../helpers/server.js';

// Mic-link (stage) against a real worker and real socket.io. Every client here is a raw socket
// speaking the protocol by hand, so nothing the SDK would refrain from sending is off limits.

interface Joined {
  identity: string;
  socket: TestSocket;
  welcome: Welcome;
  join: JoinResponse;
}

type Suite = ReturnType<typeof useTestServer>;

/**
 * These suites fire many requests per second from one socket on purpose (each refusal is one
 * request); request rate limiting is a different concern, so it is kept out of the way here.
 */
const NO_RATE_LIMITS = {
  RATE_LIMIT_REQUESTS_PER_SECOND: '100000',
  RATE_LIMIT_IP_REQUESTS_PER_SECOND: '100000',
  RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '100000',
};

/** Helpers bound to one suite's server. */
function stageHelpers(suite: Suite) {
  async function joined(room: string, identity: string, role: Role): Promise<Joined> {
    const { socket, welcome } = await connectRaw(suite.server.url, tokenFor(room, identity, role));
    suite.sockets.push(socket);
    const ack = await request(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities });
    assert.ok(ack.ok, `join failed: ${JSON.stringify(ack)}`);
    return { identity, socket, welcome, join: ack.data as JoinResponse };
  }

  function roomOf(name: string) {
    const room = suite.server.rooms.rooms.get(name);
    assert.ok(room, `room ${name} is open`);
    return room;
  }

  /** The server-side participant object. */
  function participantOf(room: string, identity: string) {
    const participant = roomOf(room).participants.get(identity);
    assert.ok(participant, `${identity} is in ${room}`);
    return participant;
  }

  /** Who holds a guest seat, straight from the server's stage state. */
  function guests(room: string): string[] {
    return roomOf(room).stage.stage.guests.map((seat) => seat.identity);
  }

  function counts() {
    return workerCounts(suite.server);
  }

  /** Raises `viewer`'s hand and has `host` approve it; resolves with the viewer's roleChanged. */
  async function approveOnStage(
    host: Joined,
    viewer: Joined,
    sources: StageSource[],
  ): Promise<RoleChanged> {
    const raised = nextEvent(host.socket, 'handRaised', (h) => h.identity === viewer.identity);
    assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
    await raised;
    const role = nextEvent(viewer.socket, 'roleChanged');
    const ack = await request(host.socket, 'approveHand', { identity: viewer.identity, sources });
    assert.ok(ack.ok, JSON.stringify(ack));
    return role;
  }

  /** `host` invites `viewer`, who accepts; resolves with the viewer's roleChanged. */
  async function inviteOnStage(
    host: Joined,
    viewer: Joined,
    sources: StageSource[],
  ): Promise<RoleChanged> {
    const invited = nextEvent(viewer.socket, 'inviteReceived');
    const ack = await request(host.socket, 'inviteToStage', { identity: viewer.identity, sources });
    assert.ok(ack.ok, JSON.stringify(ack));
    await invited;
    const role = nextEvent(viewer.socket, 'roleChanged');
    const accept = await request(viewer.socket, 'acceptInvite', {});
    assert.ok(accept.ok, JSON.stringify(accept));
    return role;
  }

  return { joined, roomOf, participantOf, guests, counts, approveOnStage, inviteOnStage };
}

/** Resolves with the next `n` newConsumer events on `socket` for tracks of `identity`. */
function consumersFrom(socket: TestSocket, identity: string, n: number): Promise<ConsumerInfo[]> {
  const found: ConsumerInfo[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${found.length}/${n} consumers`)), 5000);
    const listener = (consumer: ConsumerInfo) => {
      if (consumer.identity !== identity) return;
      found.push(consumer);
      if (found.length < n) return;
      clearTimeout(timer);
      socket.off('newConsumer', listener);
      resolve(found);
    };
    socket.on('newConsumer', listener);
  });
}

function hasGuest(identity: string) {
  return (stage: StageInfo) =>
    stage.members.some((member) => member.identity === identity && member.role === 'guest');
}

function lacksGuest(identity: string) {
  return (stage: StageInfo) => !stage.members.some((member) => member.identity === identity);
}

function trackIdOf(ack: Awaited<ReturnType<typeof request>>): string {
  assert.ok(ack.ok, `produce failed: ${JSON.stringify(ack)}`);
  return (ack.data as ProduceResponse).trackId;
}

describe('mic-link (stage) with a real worker and real socket.io', function () {
  const suite = useTestServer(NO_RATE_LIMITS);
  const { joined, roomOf, participantOf, guests, counts, approveOnStage, inviteOnStage } =
    stageHelpers(suite);

  it('refuses every crafted host or guest request from an audience token, creating nothing', async function () {
    const R = 'refuse';
    const host = await joined(R, 'host', 'host');
    const guest = await joined(R, 'guest', 'guest'); // seated by its token
    const viewer = await joined(R, 'viewer', 'audience');
    assert.deepEqual(guests(R), ['guest']);
    const viewerGotMic = consumersFrom(viewer.socket, 'guest', 1);
    const micId = trackIdOf(await produceAudio(guest.socket, guest.join.sendTransport!.id));
    await viewerGotMic;
    const viewerEvents = recordEvents(viewer.socket);
    const hostEvents = recordEvents(host.socket);
    const before = await counts();

    // Publishing on anybody's transport, or on a send transport it was never given.
    for (const transportId of [
      host.join.sendTransport!.id,
      guest.join.sendTransport!.id,
      viewer.join.recvTransport!.id,
      'its-own-send-transport',
    ]) {
      assert.equal(errorCode(await produceAudio(viewer.socket, transportId)), 'FORBIDDEN');
      assert.equal(errorCode(await produceVideo(viewer.socket, transportId)), 'FORBIDDEN');
    }

    // Host-only requests, its own hand included; guest-only requests without a seat.
    const hand = await request(viewer.socket, 'raiseHand', { message: 'let me in' });
    assert.ok(hand.ok, JSON.stringify(hand));
    const refused: [string, unknown, string][] = [
      ['approveHand', { identity: 'viewer' }, 'FORBIDDEN'],
      [
        'approveHand',
        { identity: 'viewer', sources: ['microphone', 'camera', 'screen'] },
        'FORBIDDEN',
      ],
      ['denyHand', { identity: 'viewer' }, 'FORBIDDEN'],
      ['inviteToStage', { identity: 'viewer' }, 'FORBIDDEN'],
      ['inviteToStage', { identity: 'viewer', sources: ['screen'] }, 'FORBIDDEN'],
      ['removeFromStage', { identity: 'guest' }, 'FORBIDDEN'],
      ['removeFromStage', { identity: 'host' }, 'FORBIDDEN'],
      ['muteParticipant', { identity: 'guest', source: 'microphone', muted: true }, 'FORBIDDEN'],
      ['muteParticipant', { identity: 'host', source: 'camera', muted: true }, 'FORBIDDEN'],
      ['acceptInvite', {}, 'NOT_FOUND'],
      ['declineInvite', {}, 'NOT_FOUND'],
      ['leaveStage', {}, 'NOT_FOUND'],
    ];
    for (const [event, payload, code] of refused) {
      const ack = await request(viewer.socket, event, payload);
      assert.equal(
        errorCode(ack),
        code,
        `${event} ${JSON.stringify(payload)} → ${JSON.stringify(ack)}`,
      );
    }
    // A guest is not a host either.
    for (const [event, payload] of [
      ['approveHand', { identity: 'viewer' }],
      ['denyHand', { identity: 'viewer' }],
      ['inviteToStage', { identity: 'viewer' }],
      ['removeFromStage', { identity: 'guest' }],
      ['muteParticipant', { identity: 'guest', source: 'microphone', muted: false }],
    ] as const) {
      const ack = await request(guest.socket, event, payload);
      assert.equal(errorCode(ack), 'FORBIDDEN', `guest ${event} → ${JSON.stringify(ack)}`);
    }

    // Malformed payloads never reach the stage.
    const malformed: [string, unknown][] = [
      ['raiseHand', { message: 'x'.repeat(281) }],
      ['raiseHand', { message: 'x'.repeat(20_000) }],
      ['raiseHand', { message: 'hi', priority: 'urgent' }],
      ['raiseHand', { message: 42 }],
      ['raiseHand', null],
      ['raiseHand', 'please'],
      ['lowerHand', { identity: 'guest' }],
      ['approveHand', { identity: 'viewer', sources: ['microphone'], role: 'host' }],
      ['approveHand', { identity: 'viewer', sources: ['speaker'] }],
      ['approveHand', { identity: 'viewer', sources: ['screen-audio'] }],
      ['approveHand', { identity: 'viewer', sources: [] }],
      ['approveHand', { identity: 'viewer', sources: 'microphone' }],
      ['approveHand', { identity: 'the viewer' }],
      ['approveHand', { identity: 'viewer\n' }],
      ['approveHand', { identity: '' }],
      ['approveHand', { identity: 'v'.repeat(129) }],
      ['approveHand', {}],
      ['denyHand', { identity: 'viewer', reason: 'no' }],
      ['inviteToStage', { identity: 'has space', sources: ['microphone'] }],
      ['inviteToStage', { identity: 'viewer', sources: ['microphone', 'webcam'] }],
      ['acceptInvite', { sources: ['screen'] }],
      ['declineInvite', { reason: 'busy' }],
      ['removeFromStage', { identity: 'guest', ban: true }],
      ['removeFromStage', { identity: ['guest'] }],
      ['leaveStage', { identity: 'guest' }],
      ['leaveStage', null],
      ['muteParticipant', { identity: 'guest', source: 'screen-audio', muted: true }],
      ['muteParticipant', { identity: 'guest', source: 'microphone', muted: 'yes' }],
      ['muteParticipant', { identity: 'guest', source: 'microphone' }],
      [
        'produce',
        {
          transportId: guest.join.sendTransport!.id,
          kind: 'audio',
          rtpParameters: opusRtpParameters(),
          source: 'speaker',
        },
      ],
    ];
    for (const [event, payload] of malformed) {
      const ack = await request(viewer.socket, event, payload);
      const shown = JSON.stringify(payload).slice(0, 80);
      assert.equal(errorCode(ack), 'INVALID_PAYLOAD', `${event} ${shown} → ${JSON.stringify(ack)}`);
    }

    await barrier(host.socket);
    await barrier(viewer.socket);
    const stage = roomOf(R).stage.stage;
    assert.deepEqual(guests(R), ['guest']);
    assert.equal(stage.hand('viewer')?.message, 'let me in', 'the hand is still queued, unchanged');
    assert.equal(stage.invitation('viewer'), undefined);
    assert.equal(participantOf(R, 'viewer').role, 'audience');
    assert.equal(participantOf(R, 'viewer').sendTransport, undefined);
    assert.equal(participantOf(R, 'guest').tracks.get(micId)?.producer.paused, false);
    assert.deepEqual(await counts(), before);
    assert.deepEqual(
      viewerEvents.events.map((e) => e.event),
      [],
      'the viewer was told nothing (no roleChanged, no invite, no stage change)',
    );
    assert.deepEqual(
      hostEvents.events.map((e) => e.event),
      ['handRaised'],
      'hosts saw the one valid raised hand and nothing else',
    );
  });

  it('happy path: hand with a message → host (also after reconnecting) → approve microphone only', async function () {
    const R = 'happy';
    let host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const watcher = await joined(R, 'watcher', 'audience');
    assert.deepEqual(viewer.join.handQueue, []);
    assert.deepEqual(
      viewer.join.stage.members.map((m) => [m.identity, m.role]),
      [['host', 'host']],
    );
    const watcherEvents = recordEvents(watcher.socket);

    const raised = nextEvent(host.socket, 'handRaised');
    const before = Date.now();
    const ack = await request(viewer.socket, 'raiseHand', { message: 'may I ask a question?' });
    assert.ok(ack.ok, JSON.stringify(ack));
    const hand = ack.data as HandRequest;
    assert.equal(hand.identity, 'viewer');
    assert.equal(hand.name, 'viewer');
    assert.equal(hand.message, 'may I ask a question?');
    assert.ok(hand.raisedAt >= before && hand.raisedAt <= Date.now());
    assert.equal(hand.expiresAt - hand.raisedAt, suite.server.config.stage.handTtlMs);
    assert.deepEqual(await raised, hand);

    // The host reconnects (new socket, same identity): the queue comes with the join.
    const hostLeft = nextEvent(viewer.socket, 'participantLeft', (e) => e.identity === 'host');
    host.socket.disconnect();
    await hostLeft;
    host = await joined(R, 'host', 'host');
    assert.deepEqual(host.join.handQueue, [hand]);
    // ...and only hosts get it.
    const late = await joined(R, 'late', 'audience');
    assert.deepEqual(late.join.handQueue, []);

    const handLoweredToViewer = nextEvent(viewer.socket, 'handLowered');
    const handLoweredToHost = nextEvent(host.socket, 'handLowered');
    const roleChanged = nextEvent(viewer.socket, 'roleChanged');
    const stageChanged = [host, viewer, watcher, late].map((p) =>
      nextEvent(p.socket, 'stageChanged', hasGuest('viewer')),
    );
    const approve = await request(host.socket, 'approveHand', {
      identity: 'viewer',
      sources: ['microphone'],
    });
    assert.ok(approve.ok, JSON.stringify(approve));
    assert.deepEqual(await handLoweredToViewer, { identity: 'viewer', reason: 'approved' });
    assert.deepEqual(await handLoweredToHost, { identity: 'viewer', reason: 'approved' });
    const role = await roleChanged;
    assert.equal(role.role, 'guest');
    assert.deepEqual(role.sources, ['microphone']);
    assert.equal(role.reason, 'approved');
    assert.ok(role.sendTransport, 'a send transport comes with the seat');
    for (const stage of await Promise.all(stageChanged)) {
      assert.deepEqual(stage, {
        members: [
          {
            identity: 'host',
            name: 'host',
            role: 'host',
            sources: ['microphone', 'camera', 'screen'],
            mutedByHost: [],
          },
          {
            identity: 'viewer',
            name: 'viewer',
            role: 'guest',
            sources: ['microphone'],
            mutedByHost: [],
          },
        ],
        maxGuests: suite.server.config.stage.maxGuests,
      });
    }
    assert.deepEqual(guests(R), ['viewer']);
    assert.equal(roomOf(R).stage.stage.hand('viewer'), undefined);
    const guestOnServer = participantOf(R, 'viewer');
    assert.equal(guestOnServer.role, 'guest');
    assert.equal(guestOnServer.sendTransport?.id, role.sendTransport.id);
    assert.equal(watcherEvents.of('handRaised').length, 0, 'hands are for hosts only');

    // Without connecting the transport, the new guest can publish its microphone.
    const consumers = [host, watcher, late].map((p) => consumersFrom(p.socket, 'viewer', 1));
    const micId = trackIdOf(await produceAudio(viewer.socket, role.sendTransport.id));
    for (const [consumer] of await Promise.all(consumers)) {
      assert.equal(consumer!.trackId, micId);
      assert.equal(consumer!.kind, 'audio');
      assert.equal(consumer!.source, 'microphone');
    }

    // Camera, screen and screen audio were not granted.
    const snapshot = await counts();
    assert.equal(errorCode(await produceVideo(viewer.socket, role.sendTransport.id)), 'FORBIDDEN');
    for (const source of ['screen', 'screen-audio'] as const) {
      const ack = await request(viewer.socket, 'produce', {
        transportId: role.sendTransport.id,
        kind: source === 'screen' ? 'video' : 'audio',
        rtpParameters: opusRtpParameters(33333333, '2'),
        source,
      });
      assert.equal(errorCode(ack), 'FORBIDDEN', `${source}: ${JSON.stringify(ack)}`);
    }
    assert.deepEqual(await counts(), snapshot);
    assert.deepEqual([...guestOnServer.tracks.keys()], [micId]);
  });

  it('remove from stage: tracks and send transport close, viewers lose their consumers, publishing is refused', async function () {
    const R = 'remove';
    const host = await joined(R, 'host', 'host');
    const guest = await joined(R, 'guest', 'audience');
    const watcher = await joined(R, 'watcher', 'audience');
    const role = await approveOnStage(host, guest, ['microphone', 'camera']);
    const transportId = role.sendTransport!.id;
    const watcherConsumers = consumersFrom(watcher.socket, 'guest', 2);
    const hostConsumers = consumersFrom(host.socket, 'guest', 2);
    trackIdOf(await produceAudio(guest.socket, transportId));
    trackIdOf(await produceVideo(guest.socket, transportId));
    const consumerIds = [...(await watcherConsumers), ...(await hostConsumers)].map(
      (c) => c.consumerId,
    );
    assert.deepEqual(await counts(), { routers: 1, transports: 5, producers: 2, consumers: 4 });

    // Host requests that make no sense are refused and change nothing.
    assert.equal(
      errorCode(await request(host.socket, 'removeFromStage', { identity: 'watcher' })),
      'NOT_FOUND',
    );
    assert.equal(
      errorCode(await request(host.socket, 'removeFromStage', { identity: 'nobody' })),
      'NOT_FOUND',
    );
    assert.equal(errorCode(await request(host.socket, 'leaveStage', {})), 'INVALID_STATE');

    const closedAtWatcher = new Set<string>();
    const closedAtHost = new Set<string>();
    watcher.socket.on('consumerClosed', (e) => closedAtWatcher.add(e.consumerId));
    host.socket.on('consumerClosed', (e) => closedAtHost.add(e.consumerId));
    const demoted = nextEvent(guest.socket, 'roleChanged');
    const stageWithout = nextEvent(watcher.socket, 'stageChanged', lacksGuest('guest'));
    const ack = await request(host.socket, 'removeFromStage', { identity: 'guest' });
    assert.ok(ack.ok, JSON.stringify(ack));
    assert.deepEqual(await demoted, {
      role: 'audience',
      sources: [],
      sendTransport: null,
      reason: 'removed-by-host',
    });
    await stageWithout;
    await eventually(() =>
      assert.deepEqual([...closedAtWatcher, ...closedAtHost].sort(), [...consumerIds].sort()),
    );
    // host: send + recv, guest: recv only, watcher: recv.
    assert.deepEqual(await counts(), { routers: 1, transports: 4, producers: 0, consumers: 0 });
    const onServer = participantOf(R, 'guest');
    assert.equal(onServer.role, 'audience');
    assert.equal(onServer.sendTransport, undefined);
    assert.equal(onServer.transports.has(transportId), false);
    assert.equal(onServer.tracks.size, 0);
    assert.deepEqual(guests(R), []);

    // The old transport id is worthless now.
    assert.equal(errorCode(await produceAudio(guest.socket, transportId)), 'FORBIDDEN');
    assert.equal(errorCode(await produceVideo(guest.socket, transportId)), 'FORBIDDEN');
    assert.equal(errorCode(await request(guest.socket, 'leaveStage', {})), 'NOT_FOUND');
    assert.equal(
      errorCode(await request(host.socket, 'removeFromStage', { identity: 'guest' })),
      'NOT_FOUND',
    );
    assert.deepEqual(await counts(), { routers: 1, transports: 4, producers: 0, consumers: 0 });
  });

  it('leave stage: the guest steps down by itself with the same effects', async function () {
    const R = 'leave-stage';
    const host = await joined(R, 'host', 'host');
    const guest = await joined(R, 'guest', 'audience');
    const watcher = await joined(R, 'watcher', 'audience');
    const role = await inviteOnStage(host, guest, ['microphone']);
    const transportId = role.sendTransport!.id;
    const watcherConsumers = consumersFrom(watcher.socket, 'guest', 1);
    trackIdOf(await produceAudio(guest.socket, transportId));
    const [consumer] = await watcherConsumers;

    const closed = nextEvent(watcher.socket, 'consumerClosed');
    const demoted = nextEvent(guest.socket, 'roleChanged');
    const hostSees = nextEvent(host.socket, 'stageChanged', lacksGuest('guest'));
    assert.ok((await request(guest.socket, 'leaveStage', {})).ok);
    assert.deepEqual(await demoted, {
      role: 'audience',
      sources: [],
      sendTransport: null,
      reason: 'left-stage',
    });
    assert.deepEqual(await closed, { consumerId: consumer!.consumerId });
    await hostSees;
    assert.deepEqual(await counts(), { routers: 1, transports: 4, producers: 0, consumers: 0 });
    assert.equal(participantOf(R, 'guest').sendTransport, undefined);
    assert.deepEqual(guests(R), []);
    assert.equal(errorCode(await produceAudio(guest.socket, transportId)), 'FORBIDDEN');
    assert.equal(errorCode(await request(guest.socket, 'leaveStage', {})), 'NOT_FOUND');

    // A guest seated by its token can step down too, and is then audience.
    const tokenGuest = await joined(R, 'token-guest', 'guest');
    assert.ok(tokenGuest.join.sendTransport);
    assert.deepEqual(guests(R), ['token-guest']);
    const tokenDemoted = nextEvent(tokenGuest.socket, 'roleChanged');
    assert.ok((await request(tokenGuest.socket, 'leaveStage', {})).ok);
    assert.equal((await tokenDemoted).role, 'audience');
    assert.equal(participantOf(R, 'token-guest').sendTransport, undefined);
    assert.equal(
      errorCode(await produceAudio(tokenGuest.socket, tokenGuest.join.sendTransport.id)),
      'FORBIDDEN',
    );
    assert.deepEqual(await counts(), { routers: 1, transports: 5, producers: 0, consumers: 0 });
  });

  it('mute by host: the producer pauses in the worker, the guest cannot resume it, unmute resumes', async function () {
    const R = 'mute';
    const host = await joined(R, 'host', 'host');
    const guest = await joined(R, 'guest', 'audience');
    const watcher = await joined(R, 'watcher', 'audience');
    const role = await approveOnStage(host, guest, ['microphone', 'camera']);
    const transportId = role.sendTransport!.id;
    const watcherConsumers = consumersFrom(watcher.socket, 'guest', 2);
    const micId = trackIdOf(await produceAudio(guest.socket, transportId));
    const camId = trackIdOf(await produceVideo(guest.socket, transportId));
    const micConsumer = (await watcherConsumers).find((c) => c.trackId === micId)!;
    const onServer = participantOf(R, 'guest');
    const producer = (trackId: string) => {
      const track = onServer.tracks.get(trackId);
      assert.ok(track, `track ${trackId} is live`);
      return track.producer;
    };
    const pausedInWorker = async (trackId: string) =>
      ((await producer(trackId).dump()) as { paused: boolean }).paused;

    const mutedEvent = nextEvent(guest.socket, 'mutedByHost');
    const consumerPaused = nextEvent(watcher.socket, 'consumerPaused');
    const stageMuted = nextEvent(watcher.socket, 'stageChanged', (s) =>
      s.members.some((m) => m.identity === 'guest' && m.mutedByHost.includes('microphone')),
    );
    const mute = { identity: 'guest', source: 'microphone', muted: true };
    assert.ok((await request(host.socket, 'muteParticipant', mute)).ok);
    assert.deepEqual(await mutedEvent, { source: 'microphone', muted: true });
    assert.deepEqual(await consumerPaused, { consumerId: micConsumer.consumerId });
    await stageMuted;
    assert.equal(producer(micId).paused, true);
    assert.equal(await pausedInWorker(micId), true);
    assert.equal(producer(camId).paused, false, 'only the muted source');
    // Muting again is a no-op, muting what was not granted is refused.
    assert.ok((await request(host.socket, 'muteParticipant', mute)).ok);
    assert.equal(
      errorCode(
        await request(host.socket, 'muteParticipant', {
          identity: 'guest',
          source: 'screen',
          muted: true,
        }),
      ),
      'INVALID_STATE',
    );
    assert.equal(
      errorCode(
        await request(host.socket, 'muteParticipant', {
          identity: 'watcher',
          source: 'microphone',
          muted: true,
        }),
      ),
      'NOT_FOUND',
    );

    // The guest cannot undo it...
    assert.equal(
      errorCode(await request(guest.socket, 'resumeTrack', { trackId: micId })),
      'FORBIDDEN',
    );
    assert.equal(await pausedInWorker(micId), true);
    // ...nor dodge it by publishing the microphone again: the new track starts paused.
    assert.ok((await request(guest.socket, 'closeTrack', { trackId: micId })).ok);
    await eventually(() => assert.equal(onServer.tracks.has(micId), false));
    const micId2 = trackIdOf(await produceAudio(guest.socket, transportId));
    assert.equal(await pausedInWorker(micId2), true);
    assert.equal(
      errorCode(await request(guest.socket, 'resumeTrack', { trackId: micId2 })),
      'FORBIDDEN',
    );

    // Unmute resumes it in the worker.
    const unmutedEvent = nextEvent(guest.socket, 'mutedByHost');
    assert.ok((await request(host.socket, 'muteParticipant', { ...mute, muted: false })).ok);
    assert.deepEqual(await unmutedEvent, { source: 'microphone', muted: false });
    assert.equal(await pausedInWorker(micId2), false);
    assert.ok((await request(guest.socket, 'pauseTrack', { trackId: micId2 })).ok);
    assert.ok((await request(guest.socket, 'resumeTrack', { trackId: micId2 })).ok);
    assert.equal(await pausedInWorker(micId2), false);

    // A track its owner paused stays paused through a host's mute and unmute.
    assert.ok((await request(guest.socket, 'pauseTrack', { trackId: camId })).ok);
    const cam = { identity: 'guest', source: 'camera', muted: true };
    assert.ok((await request(host.socket, 'muteParticipant', cam)).ok);
    assert.ok((await request(host.socket, 'muteParticipant', { ...cam, muted: false })).ok);
    assert.equal(await pausedInWorker(camId), true);
    assert.ok((await request(guest.socket, 'resumeTrack', { trackId: camId })).ok);
    assert.equal(await pausedInWorker(camId), false);
  });

  it('approving a hand cancels a pending invitation for the same viewer, on both sides', async function () {
    const R = 'approve-cancels-invite';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
    assert.ok((await request(host.socket, 'inviteToStage', { identity: 'viewer' })).ok);
    const toViewer = nextEvent(viewer.socket, 'inviteEnded');
    const toHost = nextEvent(host.socket, 'inviteEnded');
    assert.ok((await request(host.socket, 'approveHand', { identity: 'viewer' })).ok);
    assert.deepEqual(await toViewer, { identity: 'viewer', reason: 'cancelled' });
    assert.deepEqual(await toHost, { identity: 'viewer', reason: 'cancelled' });
    assert.equal(errorCode(await request(viewer.socket, 'acceptInvite', {})), 'NOT_FOUND');
    assert.deepEqual(guests(R), ['viewer']);
  });

  it('invite: decline tells the host; accept brings roleChanged before its own ack', async function () {
    const R = 'invite';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');

    const received = nextEvent(viewer.socket, 'inviteReceived');
    const before = Date.now();
    const ack = await request(host.socket, 'inviteToStage', {
      identity: 'viewer',
      sources: ['camera', 'microphone', 'microphone'],
    });
    assert.ok(ack.ok, JSON.stringify(ack));
    const invite = ack.data as StageInvite;
    assert.equal(invite.from, 'host');
    assert.deepEqual(invite.sources, ['microphone', 'camera']);
    assert.ok(invite.expiresAt >= before + suite.server.config.stage.inviteTtlMs);
    assert.deepEqual(await received, invite);
    assert.ok(roomOf(R).stage.stage.invitation('viewer'));

    const endedAtHost = nextEvent(host.socket, 'inviteEnded');
    const endedAtViewer = nextEvent(viewer.socket, 'inviteEnded');
    assert.ok((await request(viewer.socket, 'declineInvite', {})).ok);
    assert.deepEqual(await endedAtHost, { identity: 'viewer', reason: 'declined' });
    assert.deepEqual(await endedAtViewer, { identity: 'viewer', reason: 'declined' });
    assert.equal(roomOf(R).stage.stage.invitation('viewer'), undefined);
    assert.equal(errorCode(await request(viewer.socket, 'acceptInvite', {})), 'NOT_FOUND');
    assert.equal(participantOf(R, 'viewer').sendTransport, undefined);

    // Invited again, with a raised hand pending: accepting settles both.
    assert.ok((await request(viewer.socket, 'raiseHand', { message: 'me!' })).ok);
    const again = nextEvent(viewer.socket, 'inviteReceived');
    assert.ok(
      (await request(host.socket, 'inviteToStage', { identity: 'viewer', sources: ['microphone'] }))
        .ok,
    );
    await again;
    const order: string[] = [];
    let role: RoleChanged | undefined;
    viewer.socket.once('roleChanged', (event) => {
      order.push('roleChanged');
      role = event;
    });
    const accepted = nextEvent(host.socket, 'inviteEnded');
    const handSettled = nextEvent(host.socket, 'handLowered');
    const accept = await request(viewer.socket, 'acceptInvite', {});
    order.push('ack');
    assert.ok(accept.ok, JSON.stringify(accept));
    assert.deepEqual(order, ['roleChanged', 'ack']);
    assert.equal(role?.role, 'guest');
    assert.equal(role?.reason, 'invite-accepted');
    assert.deepEqual(role?.sources, ['microphone']);
    assert.ok(role?.sendTransport);
    assert.deepEqual(await accepted, { identity: 'viewer', reason: 'accepted' });
    assert.deepEqual(await handSettled, { identity: 'viewer', reason: 'approved' });
    assert.equal(roomOf(R).stage.stage.hand('viewer'), undefined);
    assert.deepEqual(guests(R), ['viewer']);
    assert.equal(participantOf(R, 'viewer').sendTransport?.id, role.sendTransport.id);
    trackIdOf(await produceAudio(viewer.socket, role.sendTransport.id));

    // Nothing left to accept; a guest cannot be invited or raise a hand.
    assert.equal(errorCode(await request(viewer.socket, 'acceptInvite', {})), 'NOT_FOUND');
    assert.equal(
      errorCode(await request(host.socket, 'inviteToStage', { identity: 'viewer' })),
      'INVALID_STATE',
    );
    assert.equal(errorCode(await request(viewer.socket, 'raiseHand', {})), 'INVALID_STATE');
    assert.equal(
      errorCode(await request(host.socket, 'inviteToStage', { identity: 'host' })),
      'INVALID_STATE',
    );
  });

  it('approving a viewer who already left is NOT_FOUND; racing its disconnect leaves nothing behind', async function () {
    const R = 'gone';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const raised = nextEvent(host.socket, 'handRaised');
    assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
    await raised;
    const lowered = nextEvent(host.socket, 'handLowered');
    viewer.socket.disconnect();
    assert.deepEqual(await lowered, { identity: 'viewer', reason: 'left' });
    const ack = await request(host.socket, 'approveHand', { identity: 'viewer' });
    assert.equal(errorCode(ack), 'NOT_FOUND');
    assert.deepEqual(guests(R), []);
    assert.equal(roomOf(R).participants.has('viewer'), false);

    // The same, without waiting: whichever comes first, no seat and no transport remain.
    for (let i = 0; i < 5; i++) {
      const racer = await joined(R, `racer-${i}`, 'audience');
      const hand = nextEvent(host.socket, 'handRaised');
      assert.ok((await request(racer.socket, 'raiseHand', {})).ok);
      await hand;
      // Even rounds: the approval is sent first; odd rounds: the disconnect is.
      if (i % 2 === 1) racer.socket.disconnect();
      const approving = request(host.socket, 'approveHand', { identity: racer.identity });
      if (i % 2 === 0) racer.socket.disconnect();
      const result = await approving;
      assert.ok(result.ok || errorCode(result) === 'NOT_FOUND', JSON.stringify(result));
      await eventually(async () => {
        assert.equal(roomOf(R).participants.has(racer.identity), false);
        assert.deepEqual(guests(R), []);
        assert.equal((await counts()).transports, 2);
      });
    }
  });

  it('hand lifecycle: raising again refreshes it in place, lowering and denying tell hosts and the viewer', async function () {
    const R = 'hand';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const first = await request(viewer.socket, 'raiseHand', { message: 'first' });
    assert.ok(first.ok);
    const refreshed = nextEvent(host.socket, 'handRaised', (h) => h.message === 'second');
    const second = await request(viewer.socket, 'raiseHand', { message: 'second' });
    assert.ok(second.ok);
    const [a, b] = [first.data as HandRequest, second.data as HandRequest];
    assert.equal(b.raisedAt, a.raisedAt, 'keeps its place in the queue');
    assert.ok(b.expiresAt >= a.expiresAt);
    assert.deepEqual(await refreshed, b);
    assert.equal(roomOf(R).stage.stage.hands.length, 1);

    const loweredAtHost = nextEvent(host.socket, 'handLowered');
    const loweredAtViewer = nextEvent(viewer.socket, 'handLowered');
    assert.ok((await request(viewer.socket, 'lowerHand', {})).ok);
    assert.deepEqual(await loweredAtHost, { identity: 'viewer', reason: 'lowered' });
    assert.deepEqual(await loweredAtViewer, { identity: 'viewer', reason: 'lowered' });
    assert.equal(errorCode(await request(viewer.socket, 'lowerHand', {})), 'NOT_FOUND');
    assert.equal(
      errorCode(await request(host.socket, 'approveHand', { identity: 'viewer' })),
      'NOT_FOUND',
    );

    assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
    const deniedAtHost = nextEvent(host.socket, 'handLowered');
    const deniedAtViewer = nextEvent(viewer.socket, 'handLowered');
    assert.ok((await request(host.socket, 'denyHand', { identity: 'viewer' })).ok);
    assert.deepEqual(await deniedAtHost, { identity: 'viewer', reason: 'denied' });
    assert.deepEqual(await deniedAtViewer, { identity: 'viewer', reason: 'denied' });
    assert.equal(
      errorCode(await request(host.socket, 'denyHand', { identity: 'viewer' })),
      'NOT_FOUND',
    );
    assert.equal(
      errorCode(await request(host.socket, 'approveHand', { identity: 'viewer' })),
      'NOT_FOUND',
    );
    // Hosts are always on stage: no hand to raise.
    assert.equal(errorCode(await request(host.socket, 'raiseHand', {})), 'INVALID_STATE');
    assert.deepEqual(guests(R), []);
    assert.equal(participantOf(R, 'viewer').sendTransport, undefined);
    assert.deepEqual(await counts(), { routers: 1, transports: 3, producers: 0, consumers: 0 });
  });

  it('two hosts approving the same hand at once: exactly one ok, the other INVALID_STATE, one seat', async function () {
    const R = 'double';
    const alice = await joined(R, 'alice', 'host');
    const bob = await joined(R, 'bob', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const viewerEvents = recordEvents(viewer.socket);
    const raised = Promise.all([alice, bob].map((h) => nextEvent(h.socket, 'handRaised')));
    assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
    await raised;
    const acks = await Promise.all(
      [alice, bob].map((h) =>
        request(h.socket, 'approveHand', { identity: 'viewer', sources: ['microphone'] }),
      ),
    );
    assert.deepEqual(acks.map((a) => errorCode(a) ?? 'ok').sort(), ['INVALID_STATE', 'ok']);
    await barrier(viewer.socket); // the seat's send transport is made in the viewer's queue
    assert.deepEqual(guests(R), ['viewer']);
    assert.equal(viewerEvents.of('roleChanged').length, 1);
    assert.deepEqual(viewerEvents.of('handLowered'), [{ identity: 'viewer', reason: 'approved' }]);
    const sendTransports = [...participantOf(R, 'viewer').transports.values()].filter(
      (t) => t.appData.direction === 'send',
    );
    assert.equal(sendTransports.length, 1);
    assert.deepEqual(await counts(), { routers: 1, transports: 6, producers: 0, consumers: 0 });
  });

  it('removal racing the guest’s own produce never leaves a producer behind', async function () {
    const R = 'race-produce';
    const host = await joined(R, 'host', 'host');
    const guest = await joined(R, 'guest', 'audience');
    for (let i = 0; i < 4; i++) {
      const role = await inviteOnStage(host, guest, ['microphone']);
      const [produced, removed] = await Promise.all([
        produceAudio(guest.socket, role.sendTransport!.id),
        request(host.socket, 'removeFromStage', { identity: 'guest' }),
      ]);
      assert.ok(removed.ok, JSON.stringify(removed));
      assert.ok(produced.ok || errorCode(produced) === 'FORBIDDEN', JSON.stringify(produced));
      await eventually(async () => {
        assert.deepEqual(await counts(), { routers: 1, transports: 3, producers: 0, consumers: 0 });
        assert.equal(participantOf(R, 'guest').tracks.size, 0);
      });
    }
  });

  it('a removal right behind the approval, before the guest got its transport, leaves nothing', async function () {
    const R = 'approve-remove';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    for (let i = 0; i < 4; i++) {
      const raised = nextEvent(host.socket, 'handRaised');
      assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
      await raised;
      const events = recordEvents(viewer.socket);
      const [approved, removed] = await Promise.all([
        request(host.socket, 'approveHand', { identity: 'viewer', sources: ['microphone'] }),
        request(host.socket, 'removeFromStage', { identity: 'viewer' }),
      ]);
      assert.ok(approved.ok && removed.ok, JSON.stringify([approved, removed]));
      await barrier(viewer.socket);
      const roles = events.of('roleChanged');
      assert.equal(roles.at(-1)?.role, 'audience', 'the last word is audience');
      for (const role of roles.filter((r) => r.sendTransport)) {
        assert.equal(
          errorCode(await produceAudio(viewer.socket, role.sendTransport!.id)),
          'FORBIDDEN',
        );
      }
      viewer.socket.offAny();
      assert.deepEqual(guests(R), []);
      assert.equal(participantOf(R, 'viewer').sendTransport, undefined);
      await eventually(async () =>
        assert.deepEqual(await counts(), { routers: 1, transports: 3, producers: 0, consumers: 0 }),
      );
    }
  });

  it('a participant keeps its socket and its place through every role change', async function () {
    const R = 'same-socket';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const watcher = await joined(R, 'watcher', 'audience');
    // Something to watch, so the viewer's consumers can be seen surviving too.
    const viewerGotCamera = consumersFrom(viewer.socket, 'host', 1);
    trackIdOf(await produceVideo(host.socket, host.join.sendTransport!.id));
    const [hostCamera] = await viewerGotCamera;
    const watcherEvents = recordEvents(watcher.socket);
    const hostEvents = recordEvents(host.socket);
    const socketId = viewer.socket.id;
    const serverSide = participantOf(R, 'viewer');
    const recvTransportId = viewer.join.recvTransport!.id;
    let disconnects = 0;
    viewer.socket.on('disconnect', () => disconnects++);

    const roles: string[] = [];
    for (let i = 0; i < 3; i++) {
      roles.push((await approveOnStage(host, viewer, ['microphone'])).role);
      const off = nextEvent(viewer.socket, 'roleChanged');
      assert.ok((await request(host.socket, 'removeFromStage', { identity: 'viewer' })).ok);
      roles.push((await off).role);
      roles.push((await inviteOnStage(host, viewer, ['microphone'])).role);
      const stepDown = nextEvent(viewer.socket, 'roleChanged');
      assert.ok((await request(viewer.socket, 'leaveStage', {})).ok);
      roles.push((await stepDown).role);
    }
    assert.deepEqual(roles, Array(3).fill(['guest', 'audience', 'guest', 'audience']).flat());

    await barrier(viewer.socket);
    await barrier(watcher.socket);
    await barrier(host.socket);
    assert.equal(viewer.socket.connected, true);
    assert.equal(viewer.socket.id, socketId);
    assert.equal(disconnects, 0);
    assert.equal(participantOf(R, 'viewer'), serverSide, 'the same participant on the server');
    assert.deepEqual([...serverSide.transports.keys()], [recvTransportId]);
    assert.ok(serverSide.subscriptions.has(hostCamera!.consumerId), 'its consumers survive');
    for (const events of [watcherEvents, hostEvents]) {
      const seen = events.events.map((e) => e.event);
      assert.ok(!seen.includes('participantLeft'), seen.join());
      assert.ok(!seen.includes('participantJoined'), seen.join());
      assert.equal(events.of('stageChanged').length, 12);
    }
    // Still a working participant.
    assert.ok(
      (await request(viewer.socket, 'resumeConsumer', { consumerId: hostCamera!.consumerId })).ok,
    );
    assert.deepEqual(await counts(), { routers: 1, transports: 4, producers: 1, consumers: 2 });
  });
});

describe('mic-link with STAGE_MAX=1', function () {
  const suite = useTestServer({ ...NO_RATE_LIMITS, STAGE_MAX: '1' });
  const { joined, roomOf, participantOf, guests, counts } = stageHelpers(suite);

  it('a full stage refuses approve and invite with STAGE_FULL, keeps the hand queued, creates nothing', async function () {
    const R = 'full';
    const host = await joined(R, 'host', 'host');
    const a = await joined(R, 'a', 'audience');
    const b = await joined(R, 'b', 'audience');
    const c = await joined(R, 'c', 'audience');
    for (const viewer of [a, b]) {
      const raised = nextEvent(host.socket, 'handRaised', (h) => h.identity === viewer.identity);
      assert.ok((await request(viewer.socket, 'raiseHand', { message: viewer.identity })).ok);
      await raised;
    }
    const aOn = nextEvent(a.socket, 'roleChanged');
    assert.ok(
      (await request(host.socket, 'approveHand', { identity: 'a', sources: ['microphone'] })).ok,
    );
    const aRole = await aOn;
    assert.ok(aRole.sendTransport);
    const before = await counts();
    assert.equal(before.transports, 6);
    const bEvents = recordEvents(b.socket);
    const cEvents = recordEvents(c.socket);

    const approveB = await request(host.socket, 'approveHand', {
      identity: 'b',
      sources: ['microphone'],
    });
    assert.equal(errorCode(approveB), 'STAGE_FULL', JSON.stringify(approveB));
    for (const identity of ['c', 'b']) {
      const invite = await request(host.socket, 'inviteToStage', { identity });
      assert.equal(errorCode(invite), 'STAGE_FULL', JSON.stringify(invite));
    }
    assert.equal(errorCode(await request(c.socket, 'acceptInvite', {})), 'NOT_FOUND');

    await barrier(b.socket);
    await barrier(c.socket);
    const stage = roomOf(R).stage.stage;
    assert.deepEqual(guests(R), ['a']);
    assert.deepEqual(
      stage.hands.map((h) => h.identity),
      ['b'],
      "b's hand is still queued",
    );
    assert.equal(stage.invitation('b'), undefined);
    assert.equal(stage.invitation('c'), undefined);
    assert.deepEqual(bEvents.events, [], 'b was told nothing');
    assert.deepEqual(cEvents.events, [], 'c was told nothing');
    for (const identity of ['b', 'c']) {
      assert.equal(participantOf(R, identity).sendTransport, undefined);
      assert.equal(participantOf(R, identity).role, 'audience');
    }
    assert.equal(errorCode(await produceAudio(b.socket, aRole.sendTransport.id)), 'FORBIDDEN');
    assert.deepEqual(await counts(), before);
    // A host reconnecting still sees b waiting.
    const host2 = await joined(R, 'host-2', 'host');
    assert.deepEqual(
      host2.join.handQueue.map((h) => h.identity),
      ['b'],
    );
    assert.deepEqual(host2.join.stage.maxGuests, 1);

    // Once the seat is free, the same hand can be approved.
    assert.ok((await request(a.socket, 'leaveStage', {})).ok);
    const bOn = nextEvent(b.socket, 'roleChanged');
    assert.ok(
      (await request(host.socket, 'approveHand', { identity: 'b', sources: ['microphone'] })).ok,
    );
    assert.equal((await bOn).role, 'guest');
    assert.deepEqual(guests(R), ['b']);
  });

  it('a guest token joining a full stage gets STAGE_FULL, holds nothing and may try again', async function () {
    const R = 'full-token';
    await joined(R, 'host', 'host');
    const seated = await joined(R, 'seated', 'guest');
    assert.deepEqual(guests(R), ['seated']);
    const late = await connectRaw(suite.server.url, tokenFor(R, 'late-guest', 'guest'));
    suite.sockets.push(late.socket);
    const rtpCapabilities = late.welcome.routerRtpCapabilities;
    assert.equal(errorCode(await request(late.socket, 'join', { rtpCapabilities })), 'STAGE_FULL');
    assert.deepEqual(guests(R), ['seated']);
    assert.deepEqual(await counts(), { routers: 1, transports: 4, producers: 0, consumers: 0 });
    assert.equal(late.socket.connected, true, 'the connection stays usable');

    assert.ok((await request(seated.socket, 'leaveStage', {})).ok);
    const ack = await request(late.socket, 'join', { rtpCapabilities });
    assert.ok(ack.ok, JSON.stringify(ack));
    assert.deepEqual(guests(R), ['late-guest']);
  });

  it('an invitation accepted after the stage filled is STAGE_FULL and stays open for later', async function () {
    const R = 'full-invite';
    const host = await joined(R, 'host', 'host');
    const a = await joined(R, 'a', 'audience');
    const b = await joined(R, 'b', 'audience');
    for (const identity of ['a', 'b']) {
      const ack = await request(host.socket, 'inviteToStage', {
        identity,
        sources: ['microphone'],
      });
      assert.ok(ack.ok, JSON.stringify(ack));
    }
    assert.ok((await request(a.socket, 'acceptInvite', {})).ok);
    const bEvents = recordEvents(b.socket);
    assert.equal(errorCode(await request(b.socket, 'acceptInvite', {})), 'STAGE_FULL');
    await barrier(b.socket);
    assert.deepEqual(bEvents.events, []);
    assert.ok(roomOf(R).stage.stage.invitation('b'), 'the invitation is kept');
    assert.equal(participantOf(R, 'b').sendTransport, undefined);
    assert.deepEqual(await counts(), { routers: 1, transports: 5, producers: 0, consumers: 0 });

    assert.ok((await request(a.socket, 'leaveStage', {})).ok);
    const bOn = nextEvent(b.socket, 'roleChanged');
    assert.ok((await request(b.socket, 'acceptInvite', {})).ok);
    assert.equal((await bOn).role, 'guest');
    assert.deepEqual(guests(R), ['b']);
  });

  it('a connected but never-joined guest token holds no seat', async function () {
    const R = 'lurker';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const lurker = await connectRaw(suite.server.url, tokenFor(R, 'lurker', 'guest'));
    suite.sockets.push(lurker.socket);
    assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
    const approve = await request(host.socket, 'approveHand', { identity: 'viewer' });
    const shown = roomOf(R)
      .stage.info()
      .members.filter((m) => m.role === 'guest').length;
    assert.ok(
      approve.ok || shown >= suite.server.config.stage.maxGuests,
      `approve → ${JSON.stringify(approve)} while the stage shows ${shown} guest(s) of 1`,
    );
  });

  it('two hosts filling the last seat with different hands at once: one ok, one STAGE_FULL', async function () {
    const R = 'last-seat';
    const alice = await joined(R, 'alice', 'host');
    const bob = await joined(R, 'bob', 'host');
    const a = await joined(R, 'a', 'audience');
    const b = await joined(R, 'b', 'audience');
    for (const viewer of [a, b]) {
      const raised = nextEvent(alice.socket, 'handRaised', (h) => h.identity === viewer.identity);
      assert.ok((await request(viewer.socket, 'raiseHand', {})).ok);
      await raised;
    }
    const acks = await Promise.all([
      request(alice.socket, 'approveHand', { identity: 'a', sources: ['microphone'] }),
      request(bob.socket, 'approveHand', { identity: 'b', sources: ['microphone'] }),
    ]);
    assert.deepEqual(acks.map((ack) => errorCode(ack) ?? 'ok').sort(), ['STAGE_FULL', 'ok']);
    await barrier(a.socket);
    await barrier(b.socket);
    assert.equal(guests(R).length, 1);
    const seated = guests(R)[0]!;
    const other = seated === 'a' ? 'b' : 'a';
    assert.ok(roomOf(R).stage.stage.hand(other), 'the loser keeps its hand up');
    assert.ok(participantOf(R, seated).sendTransport);
    assert.equal(participantOf(R, other).sendTransport, undefined);
    assert.deepEqual(await counts(), { routers: 1, transports: 7, producers: 0, consumers: 0 });
  });
});

describe('mic-link with short hand and invitation lifetimes', function () {
  const suite = useTestServer({
    ...NO_RATE_LIMITS,
    STAGE_HAND_TTL_MS: '300',
    STAGE_INVITE_TTL_MS: '300',
  });
  const { joined, roomOf, guests, counts } = stageHelpers(suite);

  it('a hand expires: hosts and the viewer get handLowered(expired), approving it is NOT_FOUND', async function () {
    const R = 'expiry';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const hostLowered = nextEvent(host.socket, 'handLowered');
    const viewerLowered = nextEvent(viewer.socket, 'handLowered');
    const ack = await request(viewer.socket, 'raiseHand', { message: 'soon' });
    assert.ok(ack.ok);
    const hand = ack.data as HandRequest;
    assert.equal(hand.expiresAt - hand.raisedAt, 300);
    assert.deepEqual(await hostLowered, { identity: 'viewer', reason: 'expired' });
    assert.deepEqual(await viewerLowered, { identity: 'viewer', reason: 'expired' });
    assert.ok(Date.now() >= hand.expiresAt, 'not before its time');

    assert.equal(
      errorCode(await request(host.socket, 'approveHand', { identity: 'viewer' })),
      'NOT_FOUND',
    );
    assert.equal(
      errorCode(await request(host.socket, 'denyHand', { identity: 'viewer' })),
      'NOT_FOUND',
    );
    assert.equal(errorCode(await request(viewer.socket, 'lowerHand', {})), 'NOT_FOUND');
    assert.deepEqual(roomOf(R).stage.stage.hands, []);
    assert.deepEqual(guests(R), []);
    const late = await joined(R, 'late-host', 'host');
    assert.deepEqual(late.join.handQueue, []);
    assert.deepEqual(await counts(), { routers: 1, transports: 5, producers: 0, consumers: 0 });
  });

  it('an invitation expires: inviteEnded(expired) to both sides, accepting it is NOT_FOUND', async function () {
    const R = 'invite-expiry';
    const host = await joined(R, 'host', 'host');
    const viewer = await joined(R, 'viewer', 'audience');
    const hostEnded = nextEvent(host.socket, 'inviteEnded');
    const viewerEnded = nextEvent(viewer.socket, 'inviteEnded');
    assert.ok((await request(host.socket, 'inviteToStage', { identity: 'viewer' })).ok);
    assert.deepEqual(await hostEnded, { identity: 'viewer', reason: 'expired' });
    assert.deepEqual(await viewerEnded, { identity: 'viewer', reason: 'expired' });
    assert.equal(errorCode(await request(viewer.socket, 'acceptInvite', {})), 'NOT_FOUND');
    assert.deepEqual(guests(R), []);
    assert.deepEqual(await counts(), { routers: 1, transports: 3, producers: 0, consumers: 0 });
  });
});
