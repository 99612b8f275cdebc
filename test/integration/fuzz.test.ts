import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  ERROR_CODES,
  REQUESTS,
  exampleOf,
  type ErrorCode,
  type JoinResponse,
  type ProduceResponse,
  type RequestEvent,
  type RtpCapabilities,
  type TrackSource,
} from '@livestage/protocol';
import type { Grants, Role } from '../../server/src/auth/grants.js';
import { loadConfig } from '../../server/src/config/config.js';
import type { Participant } from '../../server/src/rooms/Participant.js';
import {
  connectRaw,
  opusRtpParameters,
  request,
  tokenFor,
  vp8RtpParameters,
  type TestSocket,
} from '../helpers/client.js';
import { REQUEST_EVENTS, mayEverSucceed, type Actor } from '../helpers/roleTable.js';
import { startTestServer, workerCounts, type TestServer } from '../helpers/server.js';

// Property-based fuzzing of the signaling surface with fast-check, against a real worker and real
// socket.io. Every request event of ClientToServerEvents (plus unknown ones) is sent by four
// connections in one room: the host (publishing camera + microphone), a guest seated by its token
// (publishing microphone), an audience member, and a connection that never joined. A second room
// exists so that its ids (transports, tracks, consumers, identities) can be thrown in too.
//
// Payloads: arbitrary values (fc.anything, fc.jsonValue, hostile scalars), and near-valid requests
// built from valid ones and then mutated (wrong types, strings up to ~60 KB — under the 64 KB
// socket cap —, nesting up to ~1800 levels, __proto__/constructor keys, NaN/±Infinity/-0/negative/
// float numbers, which JSON turns into null or keeps as they are, ids of other participants'
// transports/tracks/consumers and chat messages read from the server's state, random identities
// and sources). A request without a base of its own here starts from the example declared with it
// in the protocol (chat messages, reactions, data…), so a new request is fuzzed without an edit.
// Some messages carry no ack, a non-function ack, or extra arguments: the server must ignore them.
//
// Invariant. The room must be exactly as it was before fuzzing — rooms, participants, roles, seats,
// hands, invitations, per participant its transports, tracks (source, paused), consumers and
// whether its chat is muted, and what the worker holds — after every batch of 40 messages (the
// chat's history is left out: messages come and go). To keep that invariant exact while
// still letting legitimate requests through, each acked message is judged against the live server
// state before it is sent (`judge`):
//   - a request that cannot succeed for its sender is sent, and must be refused;
//   - one that may succeed without changing the invariant (consumer pause/resume/preferences,
//     connectTransport/restartIce on its own transport, resumeTrack, a chat message from a
//     sender who may chat, a host deleting a message, and any request without a rule of its own
//     here — reactions, data — as far as its role-table row allows) is sent, ok is accepted;
//   - one that may succeed and can be undone is sent and, when accepted, undone at once by the
//     same rules a client would use: produce → closeTrack, closeTrack → publish the same source
//     again, pauseTrack → resumeTrack, raiseHand → lowerHand, inviteToStage → the invitee
//     declines, muteParticipant → unmute, muteChat → the target's chat as it was (the
//     rate-limited run holds these back instead);
//   - one that may succeed irreversibly (join from the not-joined connection, leave, leaveStage
//     by the guest, removeFromStage of the guest, and acting on a hand or invitation, which the
//     restores above never leave pending) is held back and counted: it is the legitimate path,
//     covered by the escalation and stage suites. Sent without an ack, it must do nothing.
// Any ok:true outside what `judge` allows (and outside the role table) fails the run, as does a
// missing ack, a malformed one, an error code outside ERROR_CODES, a message with a stack trace or
// file paths, a fuzzing connection dropped or kicked, a polluted prototype, or a dead worker.
//
// INTERNAL answers and error messages over 1 KB are allowed by the contract's shape but are server
// defects (an unexpected exception; a message echoing what was sent): they are collected across
// the runs and asserted on in a test of their own, so the other tests keep their own verdicts.
//
// Two more properties/checks: `join` from throwaway connections with arbitrary rtpCapabilities
// (what the joiner claims must never break a publisher or leave anything behind), and hand-made
// socket.io frames below the client library (nesting deeper than it can serialize, invalid JSON,
// reserved or non-string event names, bad binary attachments, frames over the cap).
//
// FUZZ_SEED=<integer> replays another sequence; the seed in use is printed.

const DEFAULT_SEED = 20_240_611;
const SEED = process.env.FUZZ_SEED === undefined ? DEFAULT_SEED : Number(process.env.FUZZ_SEED);
const BATCH = 40;
const MAIN_RUNS = 300; // 12,000 generated messages
const LIMITED_RUNS = 30; // 1,200 generated messages
const ACK_TIMEOUT_MS = 5000;
/** Stays under the server's 64 KB per-message cap (maxHttpBufferSize), framing included. */
const MAX_WIRE_BYTES = 62_000;
const MAX_ERROR_MESSAGE = 1024;

const ROOM = 'fuzz';
const OTHER_ROOM = 'fuzz-other';

const FINGERPRINT = Array.from({ length: 32 }, (_, i) =>
  ((i * 53 + 7) % 256).toString(16).padStart(2, '0').toUpperCase(),
).join(':');

type ClientName = 'host' | 'guest' | 'audience' | 'notJoined';
const CLIENTS: Record<ClientName, { identity: string; actor: Actor }> = {
  host: { identity: 'host', actor: 'host' },
  guest: { identity: 'guest', actor: 'guest' },
  audience: { identity: 'viewer', actor: 'audience' },
  notJoined: { identity: 'lurker', actor: 'notJoined' },
};
const CLIENT_NAMES = Object.keys(CLIENTS) as ClientName[];

/** What the fixture publishes, so a closed track can be published again the same way. */
const STANDARD_TRACKS: Record<string, { kind: 'audio' | 'video'; rtpParameters: object }> = {
  'host/camera': { kind: 'video', rtpParameters: vp8RtpParameters(11_110_000) },
  'host/microphone': { kind: 'audio', rtpParameters: opusRtpParameters(22_220_000, '1') },
  'guest/microphone': { kind: 'audio', rtpParameters: opusRtpParameters(33_330_000, '0') },
  'other-host/camera': { kind: 'video', rtpParameters: vp8RtpParameters(44_440_000) },
};

/** Requests declared for hosts alone: anyone else is FORBIDDEN. */
const HOST_ONLY = new Set<string>(REQUEST_EVENTS.filter((e) => REQUESTS[e].access === 'host'));
/** Requests naming one of the sender's own resources by id: anyone else's id is NOT_FOUND. */
const ID_FIELD: Partial<Record<string, { field: string; pool: PoolName }>> = {
  connectTransport: { field: 'transportId', pool: 'transports' },
  restartIce: { field: 'transportId', pool: 'transports' },
  closeTrack: { field: 'trackId', pool: 'tracks' },
  pauseTrack: { field: 'trackId', pool: 'tracks' },
  resumeTrack: { field: 'trackId', pool: 'tracks' },
  resumeConsumer: { field: 'consumerId', pool: 'consumers' },
  pauseConsumer: { field: 'consumerId', pool: 'consumers' },
  setConsumerPreferences: { field: 'consumerId', pool: 'consumers' },
};
/** Stack frames, file paths, exception class names: internals that must never reach a client. */
const INTERNALS = /\n\s+at |\bat \S+ \(|\.(ts|js|cc|cpp):\d|node_modules|server\/src|^\w*Error\b/;

// ---------------------------------------------------------------------------------------------
// Generated messages

type PoolName = 'transports' | 'tracks' | 'consumers' | 'identities' | 'messages';
type PickMode = 'own' | 'sameRoom' | 'otherRoom' | 'random';

/** A value to be replaced, at send time, by a live id or identity from the server's state. */
interface Ref {
  ref: PoolName;
  mode: PickMode;
  pick: number;
}
const REF = Symbol('ref');
type Tagged = Ref & { [REF]: true };

type Mutation =
  | { op: 'set'; at: number; key: string | undefined; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'pollute'; at: number; which: number }
  | { op: 'nest'; depth: number; as: 'array' | 'object' }
  | { op: 'replace'; value: unknown };

interface NearValid {
  mode: PickMode;
  pick: number;
  randomId: string;
  kind: string;
  source: string;
  stageSources: string[];
  muted: boolean;
  quality: string;
  viewport: { width: number; height: number };
  message: string;
  ssrc: number;
  dtlsRole: string;
  fpAlgorithm: string;
  capsVariant: number;
  omitOptional: boolean;
  mutations: Mutation[];
}

type PayloadSpec = { type: 'near'; near: NearValid } | { type: 'raw'; value: unknown };
type AckMode = 'fn' | 'none' | 'nonFn' | 'extraArgs' | 'bare';

interface Msg {
  client: ClientName;
  event: string;
  payload: PayloadSpec;
  ack: AckMode;
  nonFn: unknown;
}

const keyArb = fc.oneof(
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'valueOf',
    'hasOwnProperty',
    'role',
    'grants',
    'identity',
    'hidden',
    'canPublish',
    'port',
    'transportId',
    'trackId',
    'consumerId',
    'sources',
    'source',
    'kind',
    'length',
    '0',
    '',
  ),
  fc.string({ maxLength: 16 }),
);

const hostileNumber = fc.oneof(
  fc.constantFrom(
    NaN,
    Infinity,
    -Infinity,
    -0,
    -1,
    0.5,
    -1.5,
    1e308,
    -1e308,
    2 ** 31,
    2 ** 32,
    2 ** 53 + 2,
    Number.MIN_VALUE,
    65_535,
    65_536,
    -65_536,
  ),
  fc.double(),
  fc.integer(),
);

function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

const hugeString = fc
  .record({
    bytes: fc.integer({ min: 300, max: 60_000 }),
    unit: fc.constantFrom('x', 'é', '€', '"', '\\', '\u0000', '🙂', '\u202e', '<script>'),
  })
  .map(({ bytes, unit }) => unit.repeat(Math.max(1, Math.floor(bytes / jsonBytes(unit)))));

const deepNesting = fc
  .record({ depth: fc.integer({ min: 20, max: 1200 }), as: fc.constantFrom('array', 'object') })
  .map(({ depth, as }) => {
    let value: unknown = 'bottom';
    for (let i = 0; i < depth; i++) value = as === 'array' ? [value] : { a: value };
    return value;
  });

const refArb: fc.Arbitrary<Tagged> = fc
  .record({
    ref: fc.constantFrom<PoolName>('transports', 'tracks', 'consumers', 'identities', 'messages'),
    mode: fc.constantFrom<PickMode>('own', 'sameRoom', 'otherRoom'),
    pick: fc.nat(),
  })
  .map((r) => Object.assign(r, { [REF]: true as const }));

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileNumber },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepNesting },
  { weight: 2, arbitrary: refArb },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      null,
      undefined,
      true,
      false,
      [],
      {},
      '',
      ' ',
      'host',
      'guest',
      'audience',
      '__proto__',
      'constructor',
      'camera',
      'screen-audio',
      'speaker',
      'video',
      'audio',
      ['microphone', 'microphone', 'microphone', 'camera'],
    ),
  },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, maxKeys: 3 }) },
);

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      at: fc.nat(),
      key: fc.option(keyArb, { nil: undefined }),
      value: hostileValue,
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('pollute' as const), at: fc.nat(), which: fc.nat(2) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('nest' as const),
      depth: fc.integer({ min: 1, max: 600 }),
      as: fc.constantFrom('array' as const, 'object' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replace' as const), value: hostileValue }) },
);

const nearArb: fc.Arbitrary<NearValid> = fc.record({
  mode: fc.constantFrom<PickMode>('own', 'own', 'sameRoom', 'sameRoom', 'otherRoom', 'random'),
  pick: fc.nat(),
  randomId: fc.oneof(
    fc.uuid(),
    fc.stringMatching(/^[\w.@:-]{1,64}$/),
    fc.string({ maxLength: 70 }),
  ),
  kind: fc.constantFrom('audio', 'video'),
  source: fc.constantFrom('camera', 'microphone', 'screen', 'screen-audio'),
  stageSources: fc.subarray(['microphone', 'camera', 'screen']),
  muted: fc.boolean(),
  quality: fc.constantFrom('low', 'medium', 'high', 'auto'),
  viewport: fc.record({
    width: fc.integer({ min: 0, max: 16_384 }),
    height: fc.integer({ min: 0, max: 16_384 }),
  }),
  message: fc.string({ maxLength: 280 }),
  ssrc: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
  dtlsRole: fc.constantFrom('auto', 'client', 'server'),
  fpAlgorithm: fc.constantFrom('sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512'),
  capsVariant: fc.nat(3),
  omitOptional: fc.boolean(),
  mutations: fc.oneof(
    { weight: 2, arbitrary: fc.constant<Mutation[]>([]) },
    { weight: 3, arbitrary: fc.array(mutationArb, { minLength: 1, maxLength: 3 }) },
  ),
});

const anythingArb = fc.anything({
  key: keyArb,
  maxDepth: 4,
  maxKeys: 6,
  withBoxedValues: true,
  withMap: true,
  withSet: true,
  withDate: true,
  withTypedArray: true,
  withSparseArray: true,
  withNullPrototype: true,
  withObjectString: true,
});

/** Names the socket.io client refuses to emit (and the server's parser refuses to read). */
const RESERVED = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);
const unknownEventArb = fc
  .oneof(
    fc.constantFrom(
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'welcome',
      'kicked',
      'newConsumer',
      'JOIN',
      'produce ',
      'joinRoom',
      '',
      'x'.repeat(300),
    ),
    fc.string({ maxLength: 20 }),
  )
  .filter((name) => !RESERVED.has(name) && !(REQUEST_EVENTS as string[]).includes(name));

const msgArb: fc.Arbitrary<Msg> = fc
  .record({
    client: fc.constantFrom(...CLIENT_NAMES),
    event: fc.oneof(
      { weight: 19, arbitrary: fc.constantFrom<string>(...REQUEST_EVENTS) },
      { weight: 1, arbitrary: unknownEventArb },
    ),
    payload: fc.oneof(
      { weight: 6, arbitrary: nearArb.map((near) => ({ type: 'near' as const, near })) },
      { weight: 2, arbitrary: anythingArb.map((value) => ({ type: 'raw' as const, value })) },
      { weight: 1, arbitrary: fc.jsonValue().map((value) => ({ type: 'raw' as const, value })) },
      { weight: 1, arbitrary: hostileValue.map((value) => ({ type: 'raw' as const, value })) },
    ),
    ack: fc.oneof(
      { weight: 16, arbitrary: fc.constant<AckMode>('fn') },
      { weight: 1, arbitrary: fc.constantFrom<AckMode>('none', 'nonFn', 'extraArgs', 'bare') },
    ),
    nonFn: fc.constantFrom(null, 0, 'ack', true, {}, [], 42.5),
  })
  .map((msg) => {
    // An unknown event is never answered (no listener): only fire-and-forget forms for those.
    const known = (REQUEST_EVENTS as string[]).includes(msg.event);
    const ack: AckMode = !known && msg.ack === 'fn' ? 'none' : msg.ack;
    const shown = { ...msg, ack };
    return Object.assign(shown, {
      [fc.toStringMethod]: () =>
        `${msg.client} ${JSON.stringify(msg.event)} ack=${ack} ${msg.payload.type}`,
    });
  });

// ---------------------------------------------------------------------------------------------
// The room under fuzz

interface Fixture {
  server: TestServer;
  sockets: Map<string, TestSocket>;
  rtpCapabilities: RtpCapabilities;
  /** Dropped connections and kicks seen on any fixture socket (must stay empty). */
  incidents: string[];
  rateLimited: boolean;
}

interface Stats {
  generated: number;
  acked: number;
  withoutAck: Record<Exclude<AckMode, 'fn'>, number>;
  unknownEvents: number;
  heldBack: Record<string, number>;
  oversized: number;
  restores: number;
  outcomes: Record<string, number>;
  okByEvent: Record<string, number>;
}

interface Finding {
  count: number;
  sample: string;
}

function newStats(): Stats {
  return {
    generated: 0,
    acked: 0,
    withoutAck: { none: 0, nonFn: 0, extraArgs: 0, bare: 0 },
    unknownEvents: 0,
    heldBack: {},
    oversized: 0,
    restores: 0,
    outcomes: {},
    okByEvent: {},
  };
}

function bump(record: Record<string, number>, key: string, by = 1): void {
  record[key] = (record[key] ?? 0) + by;
}

function shorten(value: unknown, max = 300): string {
  let text: string;
  try {
    text =
      JSON.stringify(value, (_key, v: unknown) =>
        ArrayBuffer.isView(v) ? `<${v.constructor.name} of ${v.byteLength} bytes>` : v,
      ) ?? String(value);
  } catch {
    text = '<not serializable>';
  }
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBinary(value: unknown): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

function hasToJSON(value: object): value is { toJSON(): unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

// What socket.io-client puts on the wire, mirrored from socket.io-parser (hasBinary and
// deconstructPacket): a packet with binary in it is rebuilt key by key, by assignment, before
// JSON.stringify — so an own "__proto__" key becomes a prototype, boxed values become objects and
// toJSON runs early. The judge must see what the server will receive, not what was generated.
function hasBinaryDeep(value: unknown, afterToJSON = false): boolean {
  if (!value || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((item) => hasBinaryDeep(item));
  if (isBinary(value)) return true;
  if (hasToJSON(value) && !afterToJSON) return hasBinaryDeep(value.toJSON(), true);
  for (const key in value) {
    if (Object.prototype.hasOwnProperty.call(value, key)) {
      if (hasBinaryDeep((value as Record<string, unknown>)[key])) return true;
    }
  }
  return false;
}

function deconstruct(value: unknown, afterToJSON = false): unknown {
  if (!value) return value;
  if (isBinary(value)) return { _placeholder: true, num: 0 };
  if (Array.isArray(value)) return Array.from(value, (item: unknown) => deconstruct(item));
  if (typeof value === 'object' && !(value instanceof Date)) {
    if (hasToJSON(value) && !afterToJSON) return deconstruct(value.toJSON(), true);
    const rebuilt: Record<string, unknown> = {};
    for (const key in value) {
      if (Object.prototype.hasOwnProperty.call(value, key)) {
        rebuilt[key] = deconstruct((value as Record<string, unknown>)[key]);
      }
    }
    return rebuilt;
  }
  return value;
}

/** The JSON text of an event's arguments as the client library encodes them; throws like it. */
function encode(args: unknown[]): string {
  return JSON.stringify(hasBinaryDeep(args) ? deconstruct(args) : args);
}

function isEmptyObject(wire: unknown): boolean {
  return isObject(wire) && Object.keys(wire).length === 0;
}

async function emitWithAck(socket: TestSocket, event: string, ...args: unknown[]) {
  const timed = socket.timeout(ACK_TIMEOUT_MS) as unknown as {
    emitWithAck(event: string, ...args: unknown[]): Promise<unknown>;
  };
  return timed.emitWithAck(event, ...args);
}

function rawEmit(socket: TestSocket, event: string, ...args: unknown[]): void {
  (socket as unknown as { emit(event: string, ...args: unknown[]): void }).emit(event, ...args);
}

/** A request that must succeed (setup, restores); RATE_LIMITED is waited out. */
async function must(socket: TestSocket, event: string, payload: unknown, what: string) {
  for (let attempt = 0; ; attempt++) {
    const ack = await request(socket, event, payload);
    if (!ack.ok && ack.error.code === 'RATE_LIMITED' && attempt < 40) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    assert.ok(ack.ok, `${what}: ${JSON.stringify(ack)}`);
    return ack.data;
  }
}

/** Resolves once everything queued for the socket's participant before it has been answered. */
async function settle(socket: TestSocket): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const ack = await request(socket, 'pauseConsumer', { consumerId: 'barrier' });
    if (ack.ok || ack.error.code !== 'RATE_LIMITED') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('barrier kept being rate limited');
}

async function setUp(server: TestServer, rateLimited: boolean): Promise<Fixture> {
  const fx: Fixture = {
    server,
    sockets: new Map(),
    rtpCapabilities: {},
    incidents: [],
    rateLimited,
  };
  async function connect(
    room: string,
    identity: string,
    role: Role,
    grants: Partial<Grants> = {},
    join = true,
  ): Promise<JoinResponse | undefined> {
    const { socket, welcome } = await connectRaw(
      server.url,
      tokenFor(room, identity, role, grants),
    );
    fx.sockets.set(identity, socket);
    fx.rtpCapabilities = welcome.routerRtpCapabilities;
    socket.on('disconnect', (reason) => fx.incidents.push(`${identity} disconnected: ${reason}`));
    socket.on('kicked', (body) => fx.incidents.push(`${identity} kicked: ${JSON.stringify(body)}`));
    if (!join) return undefined;
    const rtpCapabilities = welcome.routerRtpCapabilities;
    return (await must(socket, 'join', { rtpCapabilities }, `${identity} join`)) as JoinResponse;
  }
  async function publish(identity: string, transportId: string, source: TrackSource) {
    const track = STANDARD_TRACKS[`${identity}/${source}`];
    assert.ok(track);
    const payload = { transportId, source, ...track };
    await must(fx.sockets.get(identity)!, 'produce', payload, `${identity} produce ${source}`);
  }

  const host = await connect(ROOM, 'host', 'host');
  await publish('host', host!.sendTransport!.id, 'camera');
  await publish('host', host!.sendTransport!.id, 'microphone');
  const guest = await connect(ROOM, 'guest', 'guest');
  await publish('guest', guest!.sendTransport!.id, 'microphone');
  await connect(ROOM, 'viewer', 'audience');
  await connect(ROOM, 'viewer2', 'audience');
  await connect(ROOM, 'ghost', 'audience', { hidden: true });
  await connect(ROOM, 'lurker', 'host', {}, false);
  const otherHost = await connect(OTHER_ROOM, 'other-host', 'host');
  await publish('other-host', otherHost!.sendTransport!.id, 'camera');
  await connect(OTHER_ROOM, 'other-viewer', 'audience');
  for (const socket of fx.sockets.values()) await settle(socket);
  return fx;
}

function roomOf(fx: Fixture, name: string) {
  const room = fx.server.rooms.rooms.get(name);
  assert.ok(room, `room ${name} is open`);
  return room;
}

function participantOf(fx: Fixture, identity: string): Participant {
  const participant = roomOf(fx, ROOM).participants.get(identity);
  assert.ok(participant, `${identity} is in the room`);
  return participant;
}

/** Everything the invariant covers, as plain data. */
async function snapshot(fx: Fixture) {
  // The worker first: its answer comes after every notification it sent before (a closed
  // producer's consumers, say), so the JS-side state read below has caught up with it.
  const worker = await workerCounts(fx.server);
  const rooms = [...fx.server.rooms.rooms.keys()].sort().map((name) => {
    const room = roomOf(fx, name);
    const people = [...room.participants.values()]
      .sort((a, b) => a.identity.localeCompare(b.identity))
      .map((p) => ({
        identity: p.identity,
        joined: p.joined,
        closed: p.closed,
        role: p.role,
        transports: p.transports.size,
        tracks: [...p.tracks.values()]
          .map((t) => `${t.source}${t.producer.paused ? ':paused' : ''}`)
          .sort(),
        subscriptions: p.subscriptions.size,
        chatMuted: room.chat.isMuted(p.identity),
      }));
    const { stage } = room.stage;
    return {
      name,
      people,
      guests: stage.guests.map((seat) => ({
        identity: seat.identity,
        sources: [...seat.sources],
        mutedByHost: [...seat.mutedByHost],
      })),
      hands: stage.hands.map((hand) => hand.identity),
      invitations: people.filter((p) => stage.invitation(p.identity)).map((p) => p.identity),
    };
  });
  return { rooms, worker };
}

const PROTOTYPES = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
function prototypeKeys(): string[][] {
  return PROTOTYPES.map((proto) => Object.getOwnPropertyNames(proto).sort());
}
const PROTOTYPE_KEYS_AT_LOAD = prototypeKeys();

// ---------------------------------------------------------------------------------------------
// Building a message from live state

interface PoolItem {
  id: string;
  owner: string;
  room: string;
}

function pools(fx: Fixture): Record<PoolName, PoolItem[]> {
  const result: Record<PoolName, PoolItem[]> = {
    transports: [],
    tracks: [],
    consumers: [],
    identities: [],
    messages: [],
  };
  for (const name of [ROOM, OTHER_ROOM]) {
    const room = fx.server.rooms.rooms.get(name);
    if (!room) continue;
    const people = [...room.participants.values()].sort((a, b) =>
      a.identity.localeCompare(b.identity),
    );
    for (const p of people) {
      const item = (id: string) => ({ id, owner: p.identity, room: name });
      result.identities.push(item(p.identity));
      const transports = [...p.transports.values()].sort((a, b) =>
        String(a.appData.direction).localeCompare(String(b.appData.direction)),
      );
      result.transports.push(...transports.map((t) => item(t.id)));
      const tracks = [...p.tracks.values()].sort((a, b) => a.source.localeCompare(b.source));
      result.tracks.push(...tracks.map((t) => item(t.producer.id)));
      const subscriptions = [...p.subscriptions.values()].sort((a, b) =>
        `${a.publisherIdentity}/${a.consumer.kind}`.localeCompare(
          `${b.publisherIdentity}/${b.consumer.kind}`,
        ),
      );
      result.consumers.push(...subscriptions.map((s) => item(s.consumer.id)));
    }
    for (const message of room.chat.history()) {
      result.messages.push({ id: message.id, owner: message.from, room: name });
    }
  }
  return result;
}

function pickFrom(
  all: PoolItem[],
  sender: string,
  mode: PickMode,
  pick: number,
  randomId: string,
): string {
  if (mode === 'random') return randomId;
  const filtered = all.filter((item) =>
    mode === 'own'
      ? item.owner === sender
      : mode === 'sameRoom'
        ? item.owner !== sender && item.room === ROOM
        : item.room === OTHER_ROOM,
  );
  const candidates = filtered.length > 0 ? filtered : all;
  return candidates.length > 0 ? candidates[pick % candidates.length]!.id : randomId;
}

function isTagged(value: unknown): value is Tagged {
  return typeof value === 'object' && value !== null && REF in value;
}

/** Every object and array in a payload (depth-limited), in a stable order. */
function containers(root: unknown): (Record<string, unknown> | unknown[])[] {
  const found: (Record<string, unknown> | unknown[])[] = [];
  const walk = (node: unknown, depth: number) => {
    if (typeof node !== 'object' || node === null || depth > 6 || ArrayBuffer.isView(node)) return;
    found.push(node as Record<string, unknown>);
    for (const key of Object.keys(node)) walk((node as Record<string, unknown>)[key], depth + 1);
  };
  walk(root, 0);
  return found;
}

/**
 * A private copy of a generated value before it goes into a payload: fc.constantFrom hands out the
 * same {} and [] every time, and later mutations must neither grow them nor make them circular.
 */
function fresh(value: unknown): unknown {
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

/** Sets an own property, even one named __proto__ (plain assignment would change the prototype). */
function define(target: object, key: string, value: unknown): void {
  try {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } catch {
    // A non-configurable property (an array's length, a boxed string's index): left as it is.
  }
}

const POLLUTION = [
  () => JSON.parse('{"__proto__":{"polluted":"yes","isHost":true,"role":"host"}}') as object,
  () => JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}') as object,
  () => JSON.parse('{"prototype":{"polluted":"yes"},"hasOwnProperty":"x","toString":1}') as object,
];

function materialize(event: string, spec: PayloadSpec, fx: Fixture, sender: string): unknown {
  const live = pools(fx);
  const resolve = (value: unknown): unknown =>
    isTagged(value)
      ? pickFrom(live[value.ref], sender, value.mode, value.pick, 'no-such-id')
      : fresh(value);
  if (spec.type === 'raw') return isTagged(spec.value) ? resolve(spec.value) : spec.value;
  const n = spec.near;
  const id = (pool: PoolName) => pickFrom(live[pool], sender, n.mode, n.pick, n.randomId);
  let payload: unknown = template(event, n, fx, id);
  for (const mutation of n.mutations) {
    if (mutation.op === 'replace') payload = resolve(mutation.value);
    else if (mutation.op === 'nest') {
      for (let i = 0; i < mutation.depth; i++)
        payload = mutation.as === 'array' ? [payload] : { payload };
    } else {
      const nodes = containers(payload);
      const node = nodes[mutation.at % Math.max(1, nodes.length)];
      if (!node) continue;
      const keys = Object.keys(node);
      if (mutation.op === 'delete') {
        const key = keys[mutation.at % Math.max(1, keys.length)];
        if (key !== undefined) delete (node as Record<string, unknown>)[key];
      } else if (mutation.op === 'pollute') {
        const extra = POLLUTION[mutation.which % POLLUTION.length]!();
        for (const key of Object.keys(extra)) {
          define(node, key, (extra as Record<string, unknown>)[key]);
        }
      } else {
        const key = mutation.key ?? keys[mutation.at % Math.max(1, keys.length)] ?? 'extra';
        define(node, key, resolve(mutation.value));
      }
    }
  }
  return payload;
}

/** A valid-looking request for `event`, built from the generated ingredients. */
function template(
  event: string,
  n: NearValid,
  fx: Fixture,
  id: (pool: PoolName) => string,
): unknown {
  const optional = <T>(value: T) => (n.omitOptional ? undefined : value);
  switch (event) {
    case 'join': {
      const caps = fx.rtpCapabilities;
      const variants = [caps, {}, { codecs: [] }, { codecs: caps.codecs?.slice(0, 1) }];
      // A copy: mutations must not reach the fixture's own capabilities.
      return { rtpCapabilities: structuredClone(variants[n.capsVariant % variants.length]) };
    }
    case 'connectTransport':
      return {
        transportId: id('transports'),
        dtlsParameters: {
          role: optional(n.dtlsRole),
          fingerprints: [{ algorithm: n.fpAlgorithm, value: FINGERPRINT }],
        },
      };
    case 'restartIce':
      return { transportId: id('transports') };
    case 'produce': {
      const rtpParameters: Record<string, unknown> =
        n.kind === 'audio' ? opusRtpParameters(n.ssrc, '7') : vp8RtpParameters(n.ssrc);
      // Without a MID the new stream cannot clash with the one already on the transport.
      if (n.omitOptional) delete rtpParameters.mid;
      return { transportId: id('transports'), kind: n.kind, rtpParameters, source: n.source };
    }
    case 'closeTrack':
    case 'pauseTrack':
    case 'resumeTrack':
      return { trackId: id('tracks') };
    case 'resumeConsumer':
    case 'pauseConsumer':
      return { consumerId: id('consumers') };
    case 'setConsumerPreferences':
      return {
        consumerId: id('consumers'),
        quality: optional(n.quality),
        viewport: optional(n.viewport),
      };
    case 'raiseHand':
      return { message: optional(n.message) };
    case 'approveHand':
    case 'inviteToStage':
      return { identity: id('identities'), sources: optional(n.stageSources) };
    case 'denyHand':
    case 'removeFromStage':
      return { identity: id('identities') };
    case 'muteParticipant':
      return { identity: id('identities'), source: n.source, muted: n.muted };
    case 'deleteChatMessage':
      return { id: id('messages') };
    case 'muteChat':
      return { identity: id('identities'), muted: n.muted };
    default: {
      // Requests that name nothing of the room: their declared example (leave, raiseHand, chat
      // messages, reactions, data…); unknown events: nothing.
      const example = (REQUEST_EVENTS as string[]).includes(event)
        ? exampleOf(event as RequestEvent)
        : undefined;
      return example === undefined ? {} : structuredClone(example);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Judging a request before sending it, and undoing an accepted one

type Restore =
  | { kind: 'closeProduced' }
  | { kind: 'publishAgain'; source: TrackSource }
  | { kind: 'resumeTrack'; trackId: string }
  | { kind: 'lowerHand' }
  | { kind: 'decline'; identity: string }
  | { kind: 'unmute'; identity: string; source: unknown }
  | { kind: 'chatMute'; identity: string; muted: boolean };

interface Verdict {
  /** The request may legitimately be accepted (an upper bound; it may still be refused). */
  mayBeOk: boolean;
  /** Accepted, it would change the invariant for good: held back. */
  irreversible?: boolean;
  restore?: Restore;
}

const NO: Verdict = { mayBeOk: false };
const HARMLESS: Verdict = { mayBeOk: true };

/** `w` is the payload as the server will parse it. */
function judge(fx: Fixture, client: ClientName, event: string, w: unknown): Verdict {
  const p = participantOf(fx, CLIENTS[client].identity);
  const o = isObject(w) ? w : {};
  const field = (key: string): string | undefined =>
    typeof o[key] === 'string' ? (o[key] as string) : undefined;
  const stage = roomOf(fx, ROOM).stage.stage;
  const { chat } = roomOf(fx, ROOM);
  if (!p.joined) {
    if (event === 'join')
      return isObject(w) && 'rtpCapabilities' in w ? { mayBeOk: true, irreversible: true } : NO;
    if (event === 'leave') return isEmptyObject(w) ? { mayBeOk: true, irreversible: true } : NO;
    return NO;
  }
  const ownTrack = (key: string) => p.tracks.get(field(key) ?? '');
  switch (event) {
    case 'leave':
      return isEmptyObject(w) ? { mayBeOk: true, irreversible: true } : NO;
    case 'connectTransport':
    case 'restartIce':
      return p.transports.has(field('transportId') ?? '') ? HARMLESS : NO;
    case 'produce': {
      const source = field('source') as TrackSource | undefined;
      const own = p.sendTransport !== undefined && field('transportId') === p.sendTransport.id;
      return own && source !== undefined && p.mayPublish(source)
        ? { mayBeOk: true, restore: { kind: 'closeProduced' } }
        : NO;
    }
    case 'closeTrack': {
      const track = ownTrack('trackId');
      return track
        ? { mayBeOk: true, restore: { kind: 'publishAgain', source: track.source } }
        : NO;
    }
    case 'pauseTrack': {
      const trackId = field('trackId');
      return trackId && ownTrack('trackId')
        ? { mayBeOk: true, restore: { kind: 'resumeTrack', trackId } }
        : NO;
    }
    case 'resumeTrack':
      return ownTrack('trackId') ? HARMLESS : NO;
    case 'resumeConsumer':
    case 'pauseConsumer':
    case 'setConsumerPreferences':
      return p.subscriptions.has(field('consumerId') ?? '') ? HARMLESS : NO;
    case 'raiseHand':
      return p.role === 'audience' && !p.grants.hidden
        ? { mayBeOk: true, restore: { kind: 'lowerHand' } }
        : NO;
    case 'lowerHand':
      return stage.hand(p.identity) ? { mayBeOk: true, irreversible: true } : NO;
    case 'approveHand':
    case 'denyHand':
      return p.role === 'host' && stage.hand(field('identity') ?? '')
        ? { mayBeOk: true, irreversible: true }
        : NO;
    case 'inviteToStage': {
      const target = roomOf(fx, ROOM).participants.get(field('identity') ?? '');
      if (p.role !== 'host' || !target?.joined || target.grants.hidden) return NO;
      if (target.role !== 'audience') return NO;
      return fx.sockets.has(target.identity)
        ? { mayBeOk: true, restore: { kind: 'decline', identity: target.identity } }
        : { mayBeOk: true, irreversible: true };
    }
    case 'acceptInvite':
    case 'declineInvite':
      return stage.invitation(p.identity) ? { mayBeOk: true, irreversible: true } : NO;
    case 'removeFromStage':
      return p.role === 'host' && stage.seat(field('identity') ?? '')
        ? { mayBeOk: true, irreversible: true }
        : NO;
    case 'leaveStage':
      return p.seat && isEmptyObject(w) ? { mayBeOk: true, irreversible: true } : NO;
    case 'muteParticipant': {
      const identity = field('identity');
      return p.role === 'host' && identity && stage.seat(identity)
        ? { mayBeOk: true, restore: { kind: 'unmute', identity, source: o.source } }
        : NO;
    }
    // Chat changes no state the invariant covers but the chat's mutes: the history is left out of
    // it (messages come and go, a host deletes them).
    case 'sendChatMessage':
      return p.grants.canChat && !chat.isMuted(p.identity) ? HARMLESS : NO;
    case 'deleteChatMessage':
      return p.role === 'host' && chatHistoryHas(fx, field('id')) ? HARMLESS : NO;
    case 'muteChat': {
      const identity = field('identity');
      if (p.role !== 'host' || !identity || !inRoom(fx, identity)) return NO;
      // A host's chat cannot be muted.
      if (participantOf(fx, identity).role === 'host') return NO;
      return {
        mayBeOk: true,
        restore: { kind: 'chatMute', identity, muted: chat.isMuted(identity) },
      };
    }
    default:
      // Any other request of the protocol (reactions, data…): as far as its role row allows, and
      // harmless. One that changed the state after all fails the batch's invariant check: it
      // needs a case above (a restore, or held back).
      return (REQUEST_EVENTS as string[]).includes(event) &&
        mayEverSucceed(event, CLIENTS[client].actor)
        ? HARMLESS
        : NO;
  }
}

function chatHistoryHas(fx: Fixture, id: string | undefined): boolean {
  return roomOf(fx, ROOM)
    .chat.history()
    .some((message) => message.id === id);
}

function inRoom(fx: Fixture, identity: string): boolean {
  const participant = roomOf(fx, ROOM).participants.get(identity);
  return participant !== undefined && participant.joined && !participant.closed;
}

async function undo(
  fx: Fixture,
  client: ClientName,
  restore: Restore,
  data: unknown,
  stats: Stats,
): Promise<void> {
  stats.restores += 1;
  const identity = CLIENTS[client].identity;
  const socket = fx.sockets.get(identity)!;
  switch (restore.kind) {
    case 'closeProduced': {
      const { trackId } = data as ProduceResponse;
      await must(socket, 'closeTrack', { trackId }, 'undo produce');
      return;
    }
    case 'publishAgain': {
      const track = STANDARD_TRACKS[`${identity}/${restore.source}`];
      assert.ok(track, `${identity} closed a ${restore.source} track the fixture never made`);
      const transportId = participantOf(fx, identity).sendTransport?.id;
      await must(
        socket,
        'produce',
        { transportId, source: restore.source, ...track },
        'undo close',
      );
      return;
    }
    case 'resumeTrack':
      await must(socket, 'resumeTrack', { trackId: restore.trackId }, 'undo pauseTrack');
      return;
    case 'lowerHand':
      await must(socket, 'lowerHand', {}, 'undo raiseHand');
      return;
    case 'decline':
      await must(fx.sockets.get(restore.identity)!, 'declineInvite', {}, 'undo inviteToStage');
      return;
    case 'unmute': {
      const unmute = { identity: restore.identity, source: restore.source, muted: false };
      await must(socket, 'muteParticipant', unmute, 'undo muteParticipant');
      return;
    }
    case 'chatMute': {
      const before = { identity: restore.identity, muted: restore.muted };
      await must(socket, 'muteChat', before, 'undo muteChat');
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sending one message and checking its answer

async function send(
  fx: Fixture,
  msg: Msg,
  stats: Stats,
  findings: Map<string, Finding>,
): Promise<void> {
  stats.generated += 1;
  const { identity, actor } = CLIENTS[msg.client];
  const socket = fx.sockets.get(identity)!;
  const payload = materialize(msg.event, msg.payload, fx, identity);
  const shown = `${msg.client} ${JSON.stringify(msg.event)} ${shorten(payload)}`;
  let wire: unknown;
  let bytes: number;
  try {
    const text = encode([msg.event, payload, msg.nonFn]);
    bytes = Buffer.byteLength(text);
    wire = (JSON.parse(text) as unknown[])[1];
  } catch {
    // Too deep for JSON.stringify, or a boxed value whose valueOf a mutation overwrote, or a
    // prototype the client's own rebuild breaks: the socket.io client could not send it either.
    bytes = Infinity;
  }
  if (bytes > MAX_WIRE_BYTES) {
    stats.oversized += 1;
    return;
  }
  if (msg.ack !== 'fn') {
    stats.withoutAck[msg.ack] += 1;
    if (!(REQUEST_EVENTS as string[]).includes(msg.event)) stats.unknownEvents += 1;
    if (msg.ack === 'none') rawEmit(socket, msg.event, payload);
    else if (msg.ack === 'nonFn') rawEmit(socket, msg.event, payload, msg.nonFn);
    else if (msg.ack === 'extraArgs') rawEmit(socket, msg.event, payload, msg.nonFn, 'extra');
    else rawEmit(socket, msg.event);
    return;
  }

  const verdict = judge(fx, msg.client, msg.event, wire);
  if (verdict.mayBeOk && (verdict.irreversible || (verdict.restore && fx.rateLimited))) {
    bump(stats.heldBack, msg.event);
    return;
  }
  let ack: unknown;
  try {
    ack = await emitWithAck(socket, msg.event, payload);
  } catch (error) {
    assert.fail(`no ack within ${ACK_TIMEOUT_MS} ms (${String(error)}) for ${shown}`);
  }
  stats.acked += 1;
  assert.ok(
    isObject(ack) && typeof ack.ok === 'boolean',
    `malformed ack ${shorten(ack)}: ${shown}`,
  );

  if (ack.ok === true) {
    bump(stats.outcomes, 'ok');
    bump(stats.okByEvent, `${msg.client}:${msg.event}`);
    assert.ok('data' in ack, `ok without data: ${shown}`);
    assert.ok(verdict.mayBeOk, `accepted although it must be refused: ${shown} → ${shorten(ack)}`);
    assert.ok(mayEverSucceed(msg.event, actor), `the role table forbids it: ${shown}`);
    if (verdict.restore) await undo(fx, msg.client, verdict.restore, ack.data, stats);
    return;
  }

  const error = ack.error;
  assert.ok(isObject(error), `ok:false without an error body: ${shorten(ack)}: ${shown}`);
  const code = error.code as ErrorCode;
  const message = error.message;
  bump(stats.outcomes, String(code));
  assert.ok(ERROR_CODES.includes(code), `unknown code ${shorten(code)}: ${shown}`);
  assert.equal(typeof message, 'string', `error message not a string: ${shown}`);
  assert.ok(!INTERNALS.test(message as string), `internals in ${shorten(message)}: ${shown}`);
  if (code === 'RATE_LIMITED') {
    assert.ok(fx.rateLimited, `RATE_LIMITED with rate limits out of the way: ${shown}`);
    return;
  }
  if (code === 'INTERNAL' || (message as string).length > MAX_ERROR_MESSAGE) {
    const key =
      code === 'INTERNAL'
        ? `${msg.event} → INTERNAL`
        : `${code} with a message over ${MAX_ERROR_MESSAGE} chars: ${shorten((message as string).replace(/"\d+", /g, ''), 80)}`;
    const finding = findings.get(key) ?? { count: 0, sample: shown };
    finding.count += 1;
    findings.set(key, finding);
  }

  // Precise refusals where the rules leave exactly one answer besides INVALID_PAYLOAD.
  const expect = (allowed: ErrorCode[], why: string) =>
    assert.ok(
      allowed.includes(code),
      `${why}: expected ${allowed.join('|')}, got ${code}: ${shown}`,
    );
  if (actor === 'notJoined') {
    expect(['INVALID_PAYLOAD', 'INVALID_STATE'], 'before join');
    return;
  }
  if (msg.event === 'join') expect(['INVALID_PAYLOAD', 'INVALID_STATE'], 'joined twice');
  if (HOST_ONLY.has(msg.event) && actor !== 'host') {
    expect(['INVALID_PAYLOAD', 'FORBIDDEN'], 'host-only request');
  }
  // The chat mute covers reactions and data messages too.
  const chatLike = ['sendChatMessage', 'sendReaction', 'sendData'];
  if (chatLike.includes(msg.event) && roomOf(fx, ROOM).chat.isMuted(identity)) {
    expect(['INVALID_PAYLOAD', 'FORBIDDEN'], 'chat of a muted sender');
  }
  // A host's chat moderation names a message or someone that must exist in the room.
  const text = (key: string) => String(isObject(wire) ? wire[key] : undefined);
  if (actor === 'host' && code !== 'INVALID_PAYLOAD') {
    if (msg.event === 'deleteChatMessage' && !chatHistoryHas(fx, text('id'))) {
      expect(['NOT_FOUND'], 'no such message');
    }
    if (msg.event === 'muteChat' && !inRoom(fx, text('identity'))) {
      expect(['NOT_FOUND'], 'no such participant');
    } else if (
      msg.event === 'muteChat' &&
      roomOf(fx, ROOM).participants.get(text('identity'))?.role === 'host'
    ) {
      expect(['FORBIDDEN'], "a host's chat");
    }
  }
  const idField = ID_FIELD[msg.event];
  const named = isObject(wire) ? wire[idField?.field ?? ''] : undefined;
  if (idField && code !== 'INVALID_PAYLOAD' && typeof named === 'string') {
    const owned = pools(fx)[idField.pool].some((i) => i.id === named && i.owner === identity);
    if (!owned) expect(['NOT_FOUND'], `someone else's (or no) ${idField.field}`);
  }
}

async function checkInvariant(
  fx: Fixture,
  baseline: Awaited<ReturnType<typeof snapshot>>,
  prototypes: string[][],
  where: string,
): Promise<void> {
  for (const name of CLIENT_NAMES) await settle(fx.sockets.get(CLIENTS[name].identity)!);
  assert.deepEqual(fx.incidents, [], `fixture connections dropped or kicked (${where})`);
  // Closing a producer reaches its consumers by worker notification: allow a moment for those.
  let state = await snapshot(fx);
  for (let wait = 0; wait < 50 && !isDeepStrictEqual(state, baseline); wait++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    state = await snapshot(fx);
  }
  assert.deepEqual(state, baseline, `server state changed (${where})`);
  assert.deepEqual(prototypeKeys(), prototypes, `a prototype was polluted (${where})`);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}

/** The server still serves: worker alive, /healthz green, a newcomer joins and gets media. */
async function checkAlive(fx: Fixture): Promise<void> {
  const health = await fx.server.pool.health();
  assert.ok(health.length > 0 && health.every((w) => w.alive), JSON.stringify(health));
  const response = await fetch(`${fx.server.url}/healthz`);
  assert.equal(response.status, 200);
  const { socket, welcome } = await connectRaw(
    fx.server.url,
    tokenFor(ROOM, 'newcomer', 'audience'),
  );
  try {
    const consumers: string[] = [];
    socket.on('newConsumer', (c) => consumers.push(`${c.identity}/${c.source}`));
    await must(socket, 'join', { rtpCapabilities: welcome.routerRtpCapabilities }, 'newcomer');
    await settle(socket);
    assert.deepEqual(consumers.sort(), ['guest/microphone', 'host/camera', 'host/microphone']);
  } finally {
    socket.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// join from throwaway connections, with arbitrary capabilities

const CAPS_ROOM = 'fuzz-caps';
const CAPS_RUNS = 150;

interface CapsSpec {
  base: 'router' | 'empty' | 'audioOnly' | 'videoOnly' | 'doubled';
  dropHeaderExtensions: boolean;
  mutations: { index: number; key: string; value: unknown }[];
  extra: unknown;
}

const capsArb: fc.Arbitrary<CapsSpec> = fc.record({
  base: fc.constantFrom('router', 'empty', 'audioOnly', 'videoOnly', 'doubled'),
  dropHeaderExtensions: fc.boolean(),
  mutations: fc.array(
    fc.record({
      index: fc.nat(),
      key: fc.constantFrom(
        'kind',
        'mimeType',
        'preferredPayloadType',
        'clockRate',
        'channels',
        'parameters',
        'rtcpFeedback',
        'extra',
      ),
      value: fc.oneof(
        hostileNumber,
        fc.string({ maxLength: 20 }),
        fc.constantFrom('audio', 'video', 'video/VP8', 'audio/opus', 'video/rtx', 'video/H264'),
        fc.dictionary(
          fc.string({ maxLength: 12 }),
          fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean()),
          { maxKeys: 4 },
        ),
        fc.array(fc.record({ type: fc.string({ maxLength: 8 }) }), { maxLength: 3 }),
        deepNesting,
      ),
    }),
    { maxLength: 4 },
  ),
  extra: fc.option(hostileValue, { nil: undefined }),
});

function capabilitiesFrom(router: RtpCapabilities, spec: CapsSpec): unknown {
  const all = structuredClone(router) as { codecs?: Record<string, unknown>[] } & object;
  const codecs = all.codecs ?? [];
  const base = {
    router: codecs,
    empty: [],
    audioOnly: codecs.filter((c) => c.kind === 'audio'),
    videoOnly: codecs.filter((c) => c.kind === 'video'),
    doubled: [...codecs, ...structuredClone(codecs)],
  }[spec.base];
  const caps: Record<string, unknown> = { ...all, codecs: base };
  if (spec.dropHeaderExtensions) delete caps.headerExtensions;
  for (const { index, key, value } of spec.mutations) {
    const codec = base[index % Math.max(1, base.length)];
    if (codec) define(codec, key, fresh(value));
  }
  if (spec.extra !== undefined) define(caps, 'extra', fresh(spec.extra));
  return caps;
}

// ---------------------------------------------------------------------------------------------
// Hand-made frames: what a hostile client can send below the socket.io client library

/** socket.io packets as a hostile client could write them on the engine.io connection. */
function handMadeFrames(): [string, (id: number) => string][] {
  return [
    [
      'array nesting 30,000 deep',
      (id) => `2${id}["raiseHand",${'['.repeat(30_000)}${']'.repeat(30_000)}]`,
    ],
    [
      'object nesting 10,000 deep inside rtpCapabilities',
      (id) =>
        `2${id}["join",{"rtpCapabilities":{"x":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}}]`,
    ],
    ['invalid JSON', (id) => `2${id}["raiseHand",{]`],
    ['reserved event name "disconnect"', (id) => `2${id}["disconnect",{}]`],
    ['numeric event name', (id) => `2${id}[42,{}]`],
    ['object as event name', (id) => `2${id}[{"a":1},{}]`],
    ['no event name at all', (id) => `2${id}[]`],
    ['payload and extra arguments', (id) => `2${id}["lowerHand",{},"extra",null]`],
    [
      'binary event whose attachment points past the ones sent',
      (id) => `50-${id}["raiseHand",{"_placeholder":true,"num":0}]`,
    ],
    [
      'binary event whose attachment never comes',
      (id) => `51-${id}["raiseHand",{"_placeholder":true,"num":7}]`,
    ],
    ['huge ack id', () => `2123456789012345678901234567890["lowerHand",{}]`],
    ['namespace never connected', (id) => `2/admin,${id}["lowerHand",{}]`],
    ['frame over the 64 KB cap', (id) => `2${id}["raiseHand",{"message":"${'x'.repeat(70_000)}"}]`],
  ];
}

function report(label: string, stats: Stats, ms: number): void {
  const sent = stats.acked + Object.values(stats.withoutAck).reduce((a, b) => a + b, 0);
  const held = Object.values(stats.heldBack).reduce((a, b) => a + b, 0);
  console.log(
    [
      `    fuzz (${label}): seed ${SEED} (FUZZ_SEED overrides), ${(ms / 1000).toFixed(1)} s`,
      `      generated ${stats.generated}, sent ${sent}: ${stats.acked} with an ack, without: ${JSON.stringify(stats.withoutAck)} (${stats.unknownEvents} unknown events)`,
      `      held back (could legitimately change state for good) ${held}: ${JSON.stringify(stats.heldBack)}; unsendable (over the size cap, or the client library cannot encode it) ${stats.oversized}; restores ${stats.restores}`,
      `      outcomes ${JSON.stringify(stats.outcomes)}`,
      `      ok by sender:event ${JSON.stringify(stats.okByEvent)}`,
    ].join('\n'),
  );
}

async function fuzz(
  server: TestServer,
  label: string,
  numRuns: number,
  rateLimited: boolean,
  findings: Map<string, Finding>,
): Promise<Stats> {
  const fx = await setUp(server, rateLimited);
  const stats = newStats();
  const started = Date.now();
  try {
    const baseline = await snapshot(fx);
    const prototypes = prototypeKeys();
    let batchNo = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(msgArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        batchNo += 1;
        for (const msg of batch) await send(fx, msg, stats, findings);
        await checkInvariant(fx, baseline, prototypes, `after batch ${batchNo}`);
      }),
      { seed: SEED, numRuns, endOnFailure: true },
    );
    await checkAlive(fx);
    const deadline = Date.now() + 5000;
    while (roomOf(fx, ROOM).participants.has('newcomer') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await checkInvariant(fx, baseline, prototypes, 'after the newcomer left');
    return stats;
  } finally {
    report(label, stats, Date.now() - started);
    for (const socket of fx.sockets.values()) socket.disconnect();
  }
}

describe('fuzzing every signaling request (fast-check, real worker)', function () {
  this.timeout(180_000);
  const findings = new Map<string, Finding>();

  before(function () {
    assert.ok(Number.isSafeInteger(SEED), `FUZZ_SEED must be an integer, got ${SEED}`);
    console.log(`    fuzz seed: ${SEED}`);
  });

  it(`${MAIN_RUNS * BATCH} messages, rate limits out of the way: acks well formed, only legitimate requests succeed, state unchanged`, async function () {
    const server = await startTestServer({
      RATE_LIMIT_REQUESTS_PER_SECOND: '1000000',
      RATE_LIMIT_IP_REQUESTS_PER_SECOND: '1000000',
      CHAT_ROOM_BUDGET: '1000000',
      CHAT_SENDER_PER_SECOND: '1000000',
      REACTIONS_PER_SECOND: '1000000',
      DATA_PER_SECOND: '1000000',
      DATA_ROOM_PER_SECOND: '1000000',
    });
    try {
      const stats = await fuzz(server, 'no rate limits', MAIN_RUNS, false, findings);
      const sent = stats.acked + Object.values(stats.withoutAck).reduce((a, b) => a + b, 0);
      assert.ok(sent >= 10_000, `only ${sent} messages were sent`);
      assert.ok(stats.acked > 0 && (stats.outcomes.ok ?? 0) > 0, 'some requests were accepted');

      // Unknown events have no handler: answered, it must be a proper error; silence is allowed.
      const socket = await connectRaw(server.url, tokenFor(ROOM, 'prober', 'audience'));
      try {
        const names = ['noSuchEvent', 'constructor', '__proto__', 'toString', 'JOIN'];
        const answers = await Promise.all(
          names.map((name) =>
            (
              socket.socket.timeout(300) as unknown as {
                emitWithAck(e: string, p: unknown): Promise<unknown>;
              }
            )
              .emitWithAck(name, {})
              .then(
                (ack) => ack,
                () => 'no answer',
              ),
          ),
        );
        for (const answer of answers) {
          if (answer === 'no answer') continue;
          assert.ok(isObject(answer) && answer.ok === false, shorten(answer));
        }
        console.log(`    unknown events with an ack: ${shorten(answers)}`);
      } finally {
        socket.socket.disconnect();
      }
    } finally {
      await server.close();
    }
  });

  it(`${LIMITED_RUNS * BATCH} messages with the default rate limits: RATE_LIMITED is a proper answer, nothing breaks`, async function () {
    const defaults = loadConfig({}).rateLimits;
    const server = await startTestServer({
      RATE_LIMIT_REQUESTS_PER_SECOND: String(defaults.requestsPerSecondPerSocket),
      RATE_LIMIT_IP_REQUESTS_PER_SECOND: String(defaults.requestsPerSecondPerIp),
    });
    try {
      const stats = await fuzz(server, 'default rate limits', LIMITED_RUNS, true, findings);
      assert.ok((stats.outcomes.RATE_LIMITED ?? 0) > 0, 'the default limits were reached');
    } finally {
      await server.close();
    }
  });

  it(`join with arbitrary rtpCapabilities (${CAPS_RUNS} throwaway joiners): answers are proper, a publisher is unaffected, nothing is left behind`, async function () {
    const server = await startTestServer({
      RATE_LIMIT_REQUESTS_PER_SECOND: '1000000',
      RATE_LIMIT_IP_REQUESTS_PER_SECOND: '1000000',
    });
    const started = Date.now();
    const outcomes: Record<string, number> = {};
    const sockets: TestSocket[] = [];
    try {
      const host = await connectRaw(server.url, tokenFor(CAPS_ROOM, 'host', 'host'));
      sockets.push(host.socket);
      const rtpCapabilities = host.welcome.routerRtpCapabilities;
      const joined = (await must(host.socket, 'join', { rtpCapabilities }, 'host')) as JoinResponse;
      const transportId = joined.sendTransport!.id;
      const camera = { transportId, source: 'camera', ...STANDARD_TRACKS['host/camera'] };
      await must(host.socket, 'produce', camera, 'host camera');
      const baseline = await workerCounts(server);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(capsArb, fc.integer({ min: 1, max: 2 ** 32 - 1 }), async (spec, ssrc) => {
          run += 1;
          const identity = `joiner-${run}`;
          const joiner = await connectRaw(server.url, tokenFor(CAPS_ROOM, identity, 'audience'));
          sockets.push(joiner.socket);
          let caps = capabilitiesFrom(joiner.welcome.routerRtpCapabilities, spec);
          if (Buffer.byteLength(JSON.stringify(caps) ?? '') > MAX_WIRE_BYTES) {
            caps = capabilitiesFrom(joiner.welcome.routerRtpCapabilities, {
              ...spec,
              extra: undefined,
              mutations: spec.mutations.filter((m) => typeof m.value !== 'string'),
            });
          }
          const ack = await emitWithAck(joiner.socket, 'join', { rtpCapabilities: caps });
          assert.ok(isObject(ack), shorten(ack));
          const outcome = ack.ok === true ? 'ok' : String((ack.error as { code: unknown }).code);
          bump(outcomes, outcome);
          assert.ok(['ok', 'INVALID_PAYLOAD'].includes(outcome), `join → ${shorten(ack)}`);
          await settle(joiner.socket);
          // Whatever the joiner claimed to support, the host still publishes (and it reaches
          // the joiner or not, as the router decides).
          const screen = {
            transportId,
            kind: 'video',
            source: 'screen',
            rtpParameters: { ...vp8RtpParameters(ssrc), mid: undefined },
          };
          const { trackId } = (await must(host.socket, 'produce', screen, 'host screen')) as {
            trackId: string;
          };
          await must(host.socket, 'closeTrack', { trackId }, 'host closes the screen');
          joiner.socket.disconnect();
          const deadline = Date.now() + 5000;
          while (server.rooms.rooms.get(CAPS_ROOM)?.participants.has(identity)) {
            assert.ok(Date.now() < deadline, `${identity} was never removed`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          assert.deepEqual(await workerCounts(server), baseline, `left behind by ${identity}`);
        }),
        { seed: SEED, numRuns: CAPS_RUNS, endOnFailure: true },
      );
      assert.ok((await server.pool.health()).every((w) => w.alive));
    } finally {
      console.log(
        `    join fuzz: ${CAPS_RUNS} joiners × (join, produce, closeTrack), join outcomes ${JSON.stringify(outcomes)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      for (const socket of sockets) socket.disconnect();
      await server.close();
    }
  });

  it('hand-made socket.io frames: each is answered properly, ignored or ends its own connection only', async function () {
    const server = await startTestServer({
      RATE_LIMIT_REQUESTS_PER_SECOND: '1000000',
      RATE_LIMIT_IP_REQUESTS_PER_SECOND: '1000000',
    });
    const sockets: TestSocket[] = [];
    const outcomes: string[] = [];
    const answers: [string, unknown][] = [];
    try {
      const witness = await connectRaw(server.url, tokenFor(CAPS_ROOM, 'witness', 'host'));
      sockets.push(witness.socket);
      const rtpCapabilities = witness.welcome.routerRtpCapabilities;
      const joined = (await must(
        witness.socket,
        'join',
        { rtpCapabilities },
        'witness',
      )) as JoinResponse;
      const camera = {
        transportId: joined.sendTransport!.id,
        source: 'camera',
        ...STANDARD_TRACKS['host/camera'],
      };
      await must(witness.socket, 'produce', camera, 'witness camera');
      const baseline = await workerCounts(server);
      let id = 10;
      for (const [what, frame] of handMadeFrames()) {
        id += 1;
        const { socket } = await connectRaw(
          server.url,
          tokenFor(CAPS_ROOM, `raw-${id}`, 'audience'),
        );
        sockets.push(socket);
        const engine = socket.io.engine;
        const outcome = await new Promise<string>((resolve) => {
          const timer = setTimeout(() => resolve('no answer'), 1000);
          const done = (text: string) => {
            clearTimeout(timer);
            resolve(text);
          };
          engine.on('packet', (packet) => {
            if (packet.type !== 'message' || typeof packet.data !== 'string') return;
            if (!packet.data.startsWith('3')) return; // an ack: 3<id>[body]
            try {
              const ack = JSON.parse(packet.data.slice(packet.data.indexOf('['))) as unknown[];
              answers.push([what, ack[0]]);
              done(`answered ${shorten(ack[0], 120)}`);
            } catch (error) {
              done(`unreadable ack ${shorten(packet.data, 120)}: ${String(error)}`);
            }
          });
          socket.on('disconnect', (reason) => done(`connection closed (${reason})`));
          engine.write(frame(id));
        });
        outcomes.push(`${what}: ${outcome}`);
        assert.ok(!outcome.startsWith('unreadable'), `${what}: ${outcome}`);
        socket.disconnect();
      }
      console.log(`    hand-made frames:\n      ${outcomes.join('\n      ')}`);
      for (const [what, body] of answers) {
        assert.ok(isObject(body) && typeof body.ok === 'boolean', `${what}: ${shorten(body)}`);
        if (body.ok === true) continue;
        const error = body.error as { code: ErrorCode; message: string };
        assert.ok(ERROR_CODES.includes(error.code), `${what}: ${shorten(body)}`);
        assert.ok(!INTERNALS.test(error.message), `${what}: ${shorten(body)}`);
        assert.notEqual(error.code, 'INTERNAL', `${what}: ${shorten(body)}`);
      }
      // The witness and the server took no harm; every raw connection left for good.
      const deadline = Date.now() + 5000;
      while (server.rooms.rooms.get(CAPS_ROOM)!.participants.size > 1) {
        assert.ok(Date.now() < deadline, 'raw connections were never removed');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await settle(witness.socket);
      assert.ok(witness.socket.connected);
      assert.deepEqual(await workerCounts(server), baseline);
      assert.ok((await server.pool.health()).every((w) => w.alive));
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      assert.deepEqual(prototypeKeys(), PROTOTYPE_KEYS_AT_LOAD);
    } finally {
      for (const socket of sockets) socket.disconnect();
      await server.close();
    }
  });

  it('no hostile request is answered INTERNAL or with an error message over 1 KB', function () {
    const lines = [...findings].map(
      ([key, { count, sample }]) => `${key} ×${count}, e.g. ${sample}`,
    );
    if (lines.length > 0) assert.fail(`server defects found by fuzzing:\n  ${lines.join('\n  ')}`);
  });
});
