import assert from 'node:assert/strict';
import {
  REQUESTS,
  exampleOf,
  type Ack,
  type ChatMessage,
  type JoinResponse,
  type ProduceResponse,
  type RoleChanged,
  type TrackSource,
} from '@livestage/protocol';
import type { Grants, Role } from '../../server/src/auth/grants.js';
import { HANDLER_TABLE, HANDLERS } from '../../server/src/signaling/handlers/index.js';
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
  CASES,
  REQUEST_EVENTS,
  eventOf,
  expectedOutcome,
  type Actor,
  type CaseName,
  type Outcome,
} from '../helpers/roleTable.js';
import { useTestServer, workerCounts } from '../helpers/server.js';

// Privilege escalation: every request × every kind of sender, each request well formed and
// otherwise valid, so the sender's role is the only reason it may be refused. The role table
// (test/helpers/roleTable.ts, case → outcome per actor) is the specification: exactly its 'ok'
// cells succeed, every other cell gets its precise error code and leaves the server as it was
// (what the worker holds, the stage seats, the hand queue, the invitations, the chat).
//
// Each case runs in a fresh room:
//   host     token host; publishes camera; the room's host for preconditions (approve, invite…)
//   guest    token guest (seated by its token); publishes microphone; the target of mute/remove
//   asker    audience with a raised hand; the target of approveHand/denyHand
//   invitee  audience; the target of inviteToStage and muteChat, the author of the chat message
//            deleteChatMessage names
//   actor    the sender, set up as the actor kind says (see ACTORS in the role table)
//
// The request of a case is built by CASE_REQUESTS below where it names something of the scene
// (a transport, a track, someone); otherwise it is the example declared with the request in the
// protocol, so a request whose example is self-contained needs no edit here.

const NO_RATE_LIMITS = {
  RATE_LIMIT_REQUESTS_PER_SECOND: '1000000',
  RATE_LIMIT_IP_REQUESTS_PER_SECOND: '1000000',
  RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '1000000',
  CHAT_ROOM_BUDGET: '1000000',
  CHAT_SENDER_PER_SECOND: '1000000',
  REACTIONS_PER_SECOND: '1000000',
  DATA_PER_SECOND: '1000000',
  DATA_ROOM_PER_SECOND: '1000000',
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
  /** A chat message of the invitee's, where the case needs one. */
  chatMessageId: string | undefined;
}

/** What a case's request may name: the scene, and ids read from the server's state. */
interface Live {
  scene: Scene;
  /** The actor's own receive transport, else the host's. */
  recvTransport: string;
  /** The actor's own send transport, else the host's. */
  sendTransport: string;
  /** The actor's own track, else the host's camera. */
  trackId: string;
  /** The actor's consumer of the host's camera, else one of the invitee's. */
  consumerId: string | undefined;
}

function ok(ack: Ack<unknown>, what: string): unknown {
  assert.ok(ack.ok, `${what}: ${JSON.stringify(ack)}`);
  return ack.data;
}

function produceRequest(live: Live, source: TrackSource) {
  const audio = source === 'microphone';
  return {
    transportId: live.sendTransport,
    kind: audio ? 'audio' : 'video',
    rtpParameters: audio ? opusRtpParameters(3001, '9') : vp8RtpParameters(3001),
    source,
  };
}

/**
 * The request of the cases that name something of the scene. Every other case sends the example
 * declared with its request in the protocol (requestFor).
 */
const CASE_REQUESTS: Partial<Record<CaseName, (live: Live) => unknown>> = {
  join: ({ scene }) => ({ rtpCapabilities: scene.actor.rtpCapabilities }),
  connectTransport: ({ recvTransport }) => ({
    transportId: recvTransport,
    dtlsParameters: {
      role: 'client',
      fingerprints: [{ algorithm: 'sha-256', value: FINGERPRINT }],
    },
  }),
  restartIce: ({ recvTransport }) => ({ transportId: recvTransport }),
  'produce:camera': (live) => produceRequest(live, 'camera'),
  'produce:microphone': (live) => produceRequest(live, 'microphone'),
  'produce:screen': (live) => produceRequest(live, 'screen'),
  closeTrack: ({ trackId }) => ({ trackId }),
  pauseTrack: ({ trackId }) => ({ trackId }),
  resumeTrack: ({ trackId }) => ({ trackId }),
  'resumeTrack:mutedByHost': ({ trackId }) => ({ trackId }),
  resumeConsumer: ({ consumerId }) => ({ consumerId }),
  pauseConsumer: ({ consumerId }) => ({ consumerId }),
  setConsumerPreferences: ({ consumerId }) => ({
    consumerId,
    quality: 'low',
    viewport: { width: 640, height: 360 },
  }),
  approveHand: () => ({ identity: 'asker', sources: ['microphone'] }),
  denyHand: () => ({ identity: 'asker' }),
  inviteToStage: () => ({ identity: 'invitee', sources: ['microphone'] }),
  removeFromStage: () => ({ identity: 'guest' }),
  muteParticipant: () => ({ identity: 'guest', source: 'microphone', muted: true }),
  deleteChatMessage: ({ scene }) => ({ id: scene.chatMessageId }),
  muteChat: () => ({ identity: 'invitee', muted: true }),
};

/** Whether the suite can build the request of `name` (a case of its own, or a declared example). */
function hasRequest(name: CaseName): boolean {
  return name in CASE_REQUESTS || (name === eventOf(name) && exampleOf(name) !== undefined);
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

  /** The chat's history and who is muted in it, as the server holds them. */
  function chatState(name: string) {
    const room = roomOf(name);
    return {
      history: room.chat.history().map((message) => message.id),
      muted: [...room.participants.keys()].filter((identity) => room.chat.isMuted(identity)),
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

  /**
   * Builds the room and the actor for one case; see the comment at the top of the file.
   * `actorGrants` adds to what the actor kind's token grants.
   */
  async function scene(
    name: CaseName,
    actorKind: Actor,
    actorGrants: Partial<Grants> = {},
  ): Promise<Scene> {
    const room = `esc-${++roomSeq}`;
    const event = eventOf(name);
    const host = await member(room, 'host', 'host');
    const guest = await member(room, 'guest', 'guest');
    const hostCameraTrack = await publish(host, host.join!.sendTransport!.id, 'camera', 1001);
    await publish(guest, guest.join!.sendTransport!.id, 'microphone', 1002);
    const asker = await member(room, 'asker', 'audience');
    ok(await request(asker.socket, 'raiseHand', { message: 'me' }), 'asker raiseHand');
    const invitee = await member(room, 'invitee', 'audience');

    const { role, grants } = ACTOR_TOKENS[actorKind];
    const actorToken = { ...grants, ...actorGrants };
    const actor = await member(room, 'actor', role, actorToken, actorKind !== 'notJoined');
    let actorSendTransport = actor.join?.sendTransport?.id;
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
    let chatMessageId: string | undefined;
    if (event === 'deleteChatMessage') {
      const sent = await request(invitee.socket, 'sendChatMessage', { text: 'first!' });
      chatMessageId = (ok(sent, 'invitee sendChatMessage') as ChatMessage).id;
    }
    // Joins push consumers after their ack, in the joiner's request queue: let all of it land.
    for (const m of [host, guest, asker, invitee, actor]) await settle(m.socket);
    return {
      room,
      host,
      guest,
      actor,
      hostCameraTrack,
      actorSendTransport,
      actorTrack,
      chatMessageId,
    };
  }

  /** The request for `name`, sent as the scene's actor. */
  function requestFor(name: CaseName, scene: Scene): [string, unknown] {
    const event = eventOf(name);
    const build = CASE_REQUESTS[name];
    if (build) {
      const room = roomOf(scene.room);
      const invitee = room.participants.get('invitee');
      const live: Live = {
        scene,
        recvTransport:
          room.participants.get('actor')?.recvTransport?.id ?? scene.host.join!.recvTransport!.id,
        sendTransport: scene.actorSendTransport ?? scene.host.join!.sendTransport!.id,
        trackId: scene.actorTrack?.id ?? scene.hostCameraTrack,
        consumerId:
          scene.actor.consumers.get('host') ?? [...(invitee?.subscriptions.keys() ?? [])][0],
      };
      return [event, build(live)];
    }
    const example = name === event ? exampleOf(event) : undefined;
    if (example === undefined) {
      throw new Error(
        `no request for case ${name}: declare an example with ${event} in protocol/src/requests.ts, or add the case to CASE_REQUESTS`,
      );
    }
    return [event, structuredClone(example)];
  }

  async function closeScene(): Promise<void> {
    for (const socket of suite.sockets.splice(0)) socket.disconnect();
    await waitFor(
      async () =>
        suite.server.rooms.rooms.size === 0 && (await workerCounts(suite.server)).transports === 0,
      'the case’s room to close',
    );
  }

  /**
   * Runs one cell of the table (or, with `variant`, the actor kind with more grants and the
   * outcome they imply); returns a description of the mismatch, if any.
   */
  async function runCase(
    name: CaseName,
    actorKind: Actor,
    variant?: { grants: Partial<Grants>; expected: Outcome },
  ): Promise<string | undefined> {
    const expected = variant?.expected ?? expectedOutcome(name, actorKind);
    const s = await scene(name, actorKind, variant?.grants);
    try {
      const [event, payload] = requestFor(name, s);
      const countsBefore = await workerCounts(suite.server);
      const stageBefore = stageState(s.room);
      const chatBefore = chatState(s.room);
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
        const chatAfter = chatState(s.room);
        if (JSON.stringify(chatAfter) !== JSON.stringify(chatBefore)) {
          return `${actorKind}: refused with ${got} but the chat changed: ${JSON.stringify(chatBefore)} → ${JSON.stringify(chatAfter)}`;
        }
      }
      return undefined;
    } finally {
      await closeScene();
    }
  }

  it('every request of the protocol has a handler, a row for each actor and a request to send', function () {
    assert.deepEqual([...new Set(CASES.map(eventOf))].sort(), [...REQUEST_EVENTS].sort());
    assert.deepEqual(Object.keys(HANDLER_TABLE).sort(), [...REQUEST_EVENTS].sort());
    for (const [event, handler] of Object.entries(HANDLER_TABLE)) {
      assert.equal(handler.event, event, `HANDLER_TABLE.${event} handles its own event`);
    }
    assert.equal(HANDLERS.length, REQUEST_EVENTS.length);
    for (const name of CASES) {
      for (const actor of ACTORS) expectedOutcome(name, actor); // throws without an entry
      assert.ok(hasRequest(name), `no request for case ${name}`);
    }
    for (const event of REQUEST_EVENTS) {
      const example = exampleOf(event);
      if (example === undefined) continue;
      const parsed = REQUESTS[event].schema.safeParse(example);
      assert.ok(parsed.success, `the example of ${event} is not valid: ${parsed.error?.message}`);
    }
  });

  for (const name of CASES) {
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

  // Every actor above holds canChat (the default grant); without it, 'chat' requests are refused
  // whatever the role.
  const CHAT_EVENTS = REQUEST_EVENTS.filter((event) => REQUESTS[event].access === 'chat');
  it(`a token without canChat is FORBIDDEN for ${CHAT_EVENTS.join(', ')}`, async function () {
    const mismatches: string[] = [];
    for (const event of CHAT_EVENTS) {
      for (const actorKind of ['host', 'audience'] as const) {
        const noChat = { grants: { canChat: false }, expected: 'FORBIDDEN' as const };
        const mismatch = await runCase(event, actorKind, noChat);
        if (mismatch) mismatches.push(`${event}: canChat:false ${mismatch}`);
      }
    }
    if (mismatches.length > 0) assert.fail(mismatches.join('\n  '));
  });
});
