import assert from 'node:assert/strict';
import type {
  Ack,
  JoinResponse,
  ProduceResponse,
  RoleChanged,
  TrackSource,
} from '@livestage/protocol';
import type { Grants, Role } from '../../server/src/auth/grants.js';
import { HANDLERS } from '../../server/src/signaling/handlers/index.js';
import {
  connectRaw,
  nextEvent,
  opusRtpParameters,
  request,
  tokenFor,
  vp8RtpParameters,
  type TestSocket,
} from '../helpers/client.js';
import {
  ACTORS,
  REQUEST_EVENTS,
  ROLE_TABLE,
  eventOf,
  expectedOutcome,
  type Actor,
  type CaseName,
} from '../helpers/roleTable.js';
import { useTestServer, workerCounts } from '../helpers/server.js';

// Privilege escalation: every request × every kind of sender, each request well formed and
// otherwise valid, so the sender's role is the only reason it may be refused. The role table
// (test/helpers/roleTable.ts, event → outcome per actor) is the specification: exactly its 'ok'
// cells succeed, every other cell gets its precise error code and leaves the server as it was
// (what the worker holds, the stage seats, the hand queue, the invitations).
//
// Each case runs in a fresh room:
//   host     token host; publishes camera; the room's host for preconditions (approve, invite…)
//   guest    token guest (seated by its token); publishes microphone; the target of mute/remove
//   asker    audience with a raised hand; the target of approveHand/denyHand
//   invitee  audience; the target of inviteToStage
//   actor    the sender, set up as the actor kind says (see ACTORS in the role table)

const NO_RATE_LIMITS = {
  RATE_LIMIT_REQUESTS_PER_SECOND: '1000000',
  RATE_LIMIT_IP_REQUESTS_PER_SECOND: '1000000',
  RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '1000000',
};

/** A well-formed SHA-256 DTLS fingerprint. */
const FINGERPRINT = Array.from({ length: 32 }, (_, i) =>
  ((i * 37 + 11) % 256).toString(16).padStart(2, '0').toUpperCase(),
).join(':');

const ACTOR_TOKENS: Record<Actor, { role: Role; grants?: Partial<Grants> }> = {
  host: { role: 'host' },
  guest: { role: 'guest' },
  guestMicOnly: { role: 'audience' },
  audience: { role: 'audience' },
  audiencePublisher: { role: 'audience', grants: { canPublish: true } },
  hidden: { role: 'audience', grants: { hidden: true } },
  notJoined: { role: 'host' },
  left: { role: 'audience' },
};

interface Member {
  identity: string;
  socket: TestSocket;
  join: JoinResponse | undefined;
  rtpCapabilities: unknown;
  /** Consumer ids pushed to this member, by the publisher's identity. */
  consumers: Map<string, string>;
}

interface Scene {
  room: string;
  host: Member;
  guest: Member;
  actor: Member;
  hostCameraTrack: string;
  /** The actor's own send transport, if it got one (at join, or when it came on stage). */
  actorSendTransport: string | undefined;
  /** The actor's own published track and its source, where the case needs one. */
  actorTrack: { id: string; source: TrackSource } | undefined;
}

function ok(ack: Ack<unknown>, what: string): unknown {
  assert.ok(ack.ok, `${what}: ${JSON.stringify(ack)}`);
  return ack.data;
}

describe('privilege escalation: every request × every role, against the role table', function () {
  this.timeout(120_000);
  const suite = useTestServer(NO_RATE_LIMITS);
  let roomSeq = 0;

  /** Connects; joins unless told not to; collects pushed consumers from the first moment. */
  async function member(
    room: string,
    identity: string,
    role: Role,
    grants: Partial<Grants> = {},
    join = true,
  ): Promise<Member> {
    const { socket, welcome } = await connectRaw(
      suite.server.url,
      tokenFor(room, identity, role, grants),
    );
    suite.sockets.push(socket);
    const consumers = new Map<string, string>();
    socket.on('newConsumer', (c) => consumers.set(c.identity, c.consumerId));
    const rtpCapabilities = welcome.routerRtpCapabilities;
    if (!join) return { identity, socket, join: undefined, rtpCapabilities, consumers };
    const data = ok(await request(socket, 'join', { rtpCapabilities }), `${identity} join`);
    return { identity, socket, join: data as JoinResponse, rtpCapabilities, consumers };
  }

  function roomOf(name: string) {
    const room = suite.server.rooms.rooms.get(name);
    assert.ok(room, `room ${name} is open`);
    return room;
  }

  /** Stage seats, hands and invitations, as the server holds them. */
  function stageState(name: string) {
    const room = roomOf(name);
    const { stage } = room.stage;
    return {
      guests: stage.guests.map((s) => [s.identity, [...s.sources], [...s.mutedByHost]]),
      hands: stage.hands.map((h) => h.identity),
      invitations: [...room.participants.keys()].filter((id) => stage.invitation(id)),
    };
  }

  /** Resolves once everything queued for the socket's participant before it has run. */
  async function settle(socket: TestSocket): Promise<void> {
    await request(socket, 'pauseConsumer', { consumerId: 'barrier' });
  }

  async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async function publish(
    who: Member,
    transportId: string,
    source: TrackSource,
    ssrc: number,
  ): Promise<string> {
    const audio = source === 'microphone' || source === 'screen-audio';
    const ack = await request(who.socket, 'produce', {
      transportId,
      kind: audio ? 'audio' : 'video',
      rtpParameters: audio ? opusRtpParameters(ssrc, String(ssrc)) : vp8RtpParameters(ssrc),
      source,
    });
    return (ok(ack, `${who.identity} produce ${source}`) as ProduceResponse).trackId;
  }

  /** Builds the room and the actor for one case; see the comment at the top of the file. */
  async function scene(name: CaseName, actorKind: Actor): Promise<Scene> {
    const room = `esc-${++roomSeq}`;
    const event = eventOf(name);
    const host = await member(room, 'host', 'host');
    const guest = await member(room, 'guest', 'guest');
    const hostCameraTrack = await publish(host, host.join!.sendTransport!.id, 'camera', 1001);
    await publish(guest, guest.join!.sendTransport!.id, 'microphone', 1002);
    const asker = await member(room, 'asker', 'audience');
    ok(await request(asker.socket, 'raiseHand', { message: 'me' }), 'asker raiseHand');
    const invitee = await member(room, 'invitee', 'audience');

    let actor: Member;
    let actorSendTransport: string | undefined;
    if (actorKind === 'host') actor = await member(room, 'actor', 'host');
    else if (actorKind === 'guest') actor = await member(room, 'actor', 'guest');
    else {
      const { role, grants } = ACTOR_TOKENS[actorKind];
      actor = await member(room, 'actor', role, grants, actorKind !== 'notJoined');
    }
    actorSendTransport = actor.join?.sendTransport?.id;
    if (actorKind === 'guestMicOnly') {
      ok(await request(actor.socket, 'raiseHand', {}), 'actor raiseHand');
      const seated = nextEvent(actor.socket, 'roleChanged');
      const approve = { identity: 'actor', sources: ['microphone'] };
      ok(await request(host.socket, 'approveHand', approve), 'host approves actor');
      const roleChanged: RoleChanged = await seated;
      assert.deepEqual(roleChanged.sources, ['microphone']);
      actorSendTransport = roleChanged.sendTransport?.id;
    }
    if (actorKind === 'left') ok(await request(actor.socket, 'leave', {}), 'actor leave');

    // Preconditions that make the request otherwise valid; refused ones are part of the case.
    let actorTrack: Scene['actorTrack'];
    if (/^(closeTrack|pauseTrack|resumeTrack)/.test(name) && actorSendTransport) {
      const source: TrackSource = actorKind === 'guestMicOnly' ? 'microphone' : 'camera';
      actorTrack = { id: await publish(actor, actorSendTransport, source, 2001), source };
      if (name === 'resumeTrack:mutedByHost') {
        const mute = { identity: 'actor', source, muted: true };
        const muted = await request(host.socket, 'muteParticipant', mute);
        if (actorKind !== 'host') ok(muted, 'host mutes the actor');
      }
    }
    if (event === 'lowerHand') await request(actor.socket, 'raiseHand', {});
    if (event === 'acceptInvite' || event === 'declineInvite') {
      await request(host.socket, 'inviteToStage', { identity: 'actor', sources: ['microphone'] });
    }
    if (/Consumer/.test(event) && actor.join && actorKind !== 'left') {
      await waitFor(() => actor.consumers.has('host'), 'the actor’s consumer of the host camera');
    }
    // Joins push consumers after their ack, in the joiner's request queue: let all of it land.
    for (const m of [host, guest, asker, invitee, actor]) await settle(m.socket);
    return { room, host, guest, actor, hostCameraTrack, actorSendTransport, actorTrack };
  }

  /** The request for `name`, sent as the scene's actor. */
  function requestFor(name: CaseName, s: Scene): [string, unknown] {
    const hostRoom = roomOf(s.room);
    const ownRecv = hostRoom.participants.get('actor')?.recvTransport?.id;
    const someConsumer = [...(hostRoom.participants.get('invitee')?.subscriptions.keys() ?? [])][0];
    const sendTransport = s.actorSendTransport ?? s.host.join!.sendTransport!.id;
    const trackId = s.actorTrack?.id ?? s.hostCameraTrack;
    const consumerId = s.actor.consumers.get('host') ?? someConsumer;
    const produce = (source: TrackSource) => {
      const audio = source === 'microphone';
      return {
        transportId: sendTransport,
        kind: audio ? 'audio' : 'video',
        rtpParameters: audio ? opusRtpParameters(3001, '9') : vp8RtpParameters(3001),
        source,
      };
    };
    switch (name) {
      case 'join':
        return ['join', { rtpCapabilities: s.actor.rtpCapabilities }];
      case 'restartIce':
        return [name, { transportId: ownRecv ?? s.host.join!.recvTransport!.id }];
      case 'connectTransport':
        return [
          'connectTransport',
          {
            transportId: ownRecv ?? s.host.join!.recvTransport!.id,
            dtlsParameters: {
              role: 'client',
              fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }],
            },
          },
        ];
      case 'produce:camera':
        return ['produce', produce('camera')];
      case 'produce:microphone':
        return ['produce', produce('microphone')];
      case 'produce:screen':
        return ['produce', produce('screen')];
      case 'closeTrack':
      case 'pauseTrack':
      case 'resumeTrack':
      case 'resumeTrack:mutedByHost':
        return [eventOf(name), { trackId }];
      case 'resumeConsumer':
      case 'pauseConsumer':
        return [name, { consumerId }];
      case 'setConsumerPreferences':
        return [name, { consumerId, quality: 'low', viewport: { width: 640, height: 360 } }];
      case 'raiseHand':
        return [name, { message: 'may I?' }];
      case 'approveHand':
        return [name, { identity: 'asker', sources: ['microphone'] }];
      case 'denyHand':
        return [name, { identity: 'asker' }];
      case 'inviteToStage':
        return [name, { identity: 'invitee', sources: ['microphone'] }];
      case 'removeFromStage':
        return [name, { identity: 'guest' }];
      case 'muteParticipant':
        return [name, { identity: 'guest', source: 'microphone', muted: true }];
      case 'leave':
      case 'lowerHand':
      case 'acceptInvite':
      case 'declineInvite':
      case 'leaveStage':
        return [name, {}];
      default:
        throw new Error(`no request for case ${name}`);
    }
  }

  async function closeScene(): Promise<void> {
    for (const socket of suite.sockets.splice(0)) socket.disconnect();
    await waitFor(
      async () =>
        suite.server.rooms.rooms.size === 0 && (await workerCounts(suite.server)).transports === 0,
      'the case’s room to close',
    );
  }

  /** Runs one cell of the table; returns a description of the mismatch, if any. */
  async function runCase(name: CaseName, actorKind: Actor): Promise<string | undefined> {
    const expected = expectedOutcome(name, actorKind);
    const s = await scene(name, actorKind);
    try {
      const [event, payload] = requestFor(name, s);
      const countsBefore = await workerCounts(suite.server);
      const stageBefore = stageState(s.room);
      const ack = await request(s.actor.socket, event, payload);
      const got = ack.ok ? 'ok' : ack.error.code;
      if (got !== expected) {
        return `${actorKind}: expected ${expected}, got ${JSON.stringify(ack)} for ${event} ${JSON.stringify(payload).slice(0, 160)}`;
      }
      // Whatever the request set off in the queues (consumers after a join…) lands before closing.
      await settle(s.actor.socket);
      if (!ack.ok) {
        assert.equal(typeof ack.error.message, 'string');
        await settle(s.host.socket);
        const countsAfter = await workerCounts(suite.server);
        const stageAfter = stageState(s.room);
        if (JSON.stringify(countsAfter) !== JSON.stringify(countsBefore)) {
          return `${actorKind}: refused with ${got} but the worker changed: ${JSON.stringify(countsBefore)} → ${JSON.stringify(countsAfter)}`;
        }
        if (JSON.stringify(stageAfter) !== JSON.stringify(stageBefore)) {
          return `${actorKind}: refused with ${got} but the stage changed: ${JSON.stringify(stageBefore)} → ${JSON.stringify(stageAfter)}`;
        }
      }
      return undefined;
    } finally {
      await closeScene();
    }
  }

  it('the role table covers every request event the protocol and the server define', function () {
    const covered = new Set((Object.keys(ROLE_TABLE) as CaseName[]).map(eventOf));
    assert.deepEqual([...covered].sort(), [...REQUEST_EVENTS].sort());
    assert.deepEqual(HANDLERS.map((h) => h.event).sort(), [...REQUEST_EVENTS].sort());
    for (const [name, row] of Object.entries(ROLE_TABLE)) {
      assert.equal(row?.length, ACTORS.length, `${name} has one outcome per actor`);
    }
  });

  for (const name of Object.keys(ROLE_TABLE) as CaseName[]) {
    const allowed = ACTORS.filter((a) => expectedOutcome(name, a) === 'ok');
    it(`${name}: only ${allowed.join(', ') || 'nobody'}`, async function () {
      const mismatches: string[] = [];
      for (const actorKind of ACTORS) {
        const mismatch = await runCase(name, actorKind);
        if (mismatch) mismatches.push(mismatch);
      }
      if (mismatches.length > 0) assert.fail(`${name}:\n  ${mismatches.join('\n  ')}`);
    });
  }
});
