import assert from 'node:assert/strict';
import winston from 'winston';
import type { ErrorCode } from '@livestage/protocol';
import { defaultGrants, type Grants, type Role } from '../../server/src/auth/grants.js';
import { AppError } from '../../server/src/errors.js';
import { Participant, type Connection } from '../../server/src/rooms/Participant.js';
import { RoomStage, type StageRoom } from '../../server/src/rooms/RoomStage.js';
import { Stage, type StageLimits, type StageSnapshot } from '../../server/src/rooms/Stage.js';
import {
  LocalStageSync,
  commitsNothing,
  type StageEffect,
  type StageReplica,
  type StageSync,
  type StageSyncFactory,
} from '../../server/src/rooms/StageSync.js';
import { eventually } from '../helpers/server.js';
import { RoomEvents } from '../../server/src/rooms/RoomEvents.js';

const LIMITS: StageLimits = { maxGuests: 2, handTtlMs: 60_000, inviteTtlMs: 60_000 };
const silent = winston.createLogger({ silent: true });

/** A replica that only records what it is given. */
class RecordingReplica implements StageReplica {
  stage = new Stage(LIMITS);
  readonly applied: { stage: Stage; effects: readonly StageEffect[] }[] = [];
  /** What applyCommitted returns: lets a test hold the end of an apply back. */
  settle: Promise<void> = Promise.resolve();

  restore(snapshot: StageSnapshot): Stage {
    return Stage.restore(LIMITS, snapshot);
  }

  applyCommitted(stage: Stage, effects: readonly StageEffect[]): Promise<void> {
    this.stage = stage;
    this.applied.push({ stage, effects });
    return this.settle;
  }
}

const audience = { identity: 'v', name: 'V', role: 'audience' } as const;

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

describe('LocalStageSync', function () {
  it('a change that throws half way changes nothing and applies nothing', async function () {
    const replica = new RecordingReplica();
    const sync = new LocalStageSync(replica);
    await sync.transact((stage) => ({ result: stage.raiseHand(audience, 'hi'), effects: [] }));
    const mirror = replica.stage;
    const before = JSON.stringify(mirror.snapshot());
    const applies = replica.applied.length;

    const failing = sync.transact((stage) => {
      stage.lowerHand('v'); // a transition that succeeds...
      stage.seatDirectly('g', []); // ...then one that is refused
      return { result: undefined, effects: [{ type: 'stageChanged' }] };
    });
    await rejectsWith(failing, 'INVALID_PAYLOAD');
    assert.equal(replica.stage, mirror, 'the mirror is the same object');
    assert.equal(JSON.stringify(mirror.snapshot()), before, 'and holds the same state');
    assert.equal(replica.applied.length, applies, 'nothing was applied');
    assert.equal(mirror.hand('v')?.message, 'hi');
  });

  it('applies the new stage and its effects in the same turn, and resolves after the apply settled', async function () {
    const replica = new RecordingReplica();
    const sync = new LocalStageSync(replica);
    let releaseApply!: () => void;
    replica.settle = new Promise((resolve) => (releaseApply = resolve));
    const effects: StageEffect[] = [{ type: 'stageChanged' }];
    let resolved = false;
    const done = sync
      .transact((stage) => ({ result: stage.seatDirectly('g', ['camera']), effects }))
      .then((seat) => {
        resolved = true;
        return seat;
      });
    // Synchronously, before anything else can run: committed and applied.
    assert.equal(replica.applied.length, 1);
    assert.deepEqual(replica.applied[0]?.effects, effects);
    assert.ok(replica.stage.seat('g'), 'the mirror is the new stage');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(resolved, false, 'not resolved while the apply is still settling');
    releaseApply();
    const seat = await done;
    assert.equal(seat, replica.stage.seat('g'), 'the result is the committed seat');
  });

  it('commits nothing for a change that neither changes the stage nor tells anything', async function () {
    const replica = new RecordingReplica();
    const sync = new LocalStageSync(replica);
    const mirror = replica.stage;
    assert.equal(await sync.transact(() => ({ result: 42, effects: [] })), 42);
    await sync.transact((stage) => ({ result: stage.expire(), effects: [] }));
    assert.equal(replica.applied.length, 0);
    assert.equal(replica.stage, mirror);
    // Telling something is a commit even when the state stays (a host left: stageChanged).
    await sync.transact(() => ({ result: undefined, effects: [{ type: 'stageChanged' }] }));
    assert.equal(replica.applied.length, 1);
    // A change of state with nothing to tell is a commit too (a guest token took its seat).
    await sync.transact((stage) => ({ result: stage.seatDirectly('g', ['camera']), effects: [] }));
    assert.equal(replica.applied.length, 2);
  });

  it('commitsNothing compares the JSON of the snapshots and the effects', function () {
    const stage = new Stage(LIMITS);
    const before = JSON.stringify(stage.snapshot());
    assert.equal(commitsNothing(before, stage, []), true);
    assert.equal(commitsNothing(before, stage, [{ type: 'stageChanged' }]), false);
    stage.raiseHand(audience, '');
    assert.equal(commitsNothing(before, stage, []), false);
  });
});

// ---------------------------------------------------------------------------------------------
// RoomStage over a sync: real Participants with recording connections, a room that cannot make
// transports (so what it was asked for shows, and the failure path runs).

type Sent = [event: string, payload: unknown];

class TestRoom implements StageRoom {
  readonly name = 'test-room';
  readonly lifecycle = new RoomEvents();
  readonly participants = new Map<string, Participant>();
  readonly sent = new Map<string, Sent[]>();
  readonly transportsAsked: string[] = [];
  readonly cameOnStageFor: string[] = [];

  add(identity: string, role: Role, node?: string): Participant {
    const sent: Sent[] = [];
    this.sent.set(identity, sent);
    const connection: Connection = {
      id: `c-${identity}`,
      emit: ((event: string, payload: unknown) =>
        sent.push([event, payload])) as Connection['emit'],
      disconnect: () => undefined,
    };
    const grants: Grants = { ...defaultGrants('r', role), name: identity.toUpperCase() };
    const participant = new Participant(identity, grants, connection, silent);
    participant.joined = true;
    if (node) participant.remote = node;
    this.participants.set(identity, participant);
    return participant;
  }

  events(identity: string): string[] {
    return (this.sent.get(identity) ?? []).map(([event]) => event);
  }

  payloads(identity: string, event: string): unknown[] {
    return (this.sent.get(identity) ?? []).filter(([e]) => e === event).map(([, p]) => p);
  }

  clear(): void {
    for (const sent of this.sent.values()) sent.length = 0;
  }

  /** Transports asked for never come (instead of failing at once). */
  hangTransports = false;

  async createTransport(participant: Participant, direction: 'send' | 'recv'): Promise<never> {
    this.transportsAsked.push(`${participant.identity}:${direction}`);
    if (this.hangTransports) await new Promise(() => undefined);
    throw new AppError('LIMIT_EXCEEDED', 'too many transports');
  }

  cameOnStage(participant: Participant): void {
    this.cameOnStageFor.push(participant.identity);
  }
}

/** LocalStageSync, recording every committed list of effects. */
function recordingLocal(log: StageEffect[][]): StageSyncFactory {
  return (replica) => {
    const local = new LocalStageSync(replica);
    return {
      transact: (change) =>
        local.transact((stage) => {
          const made = change(stage);
          log.push(made.effects);
          return made;
        }),
      close: () => local.close(),
    };
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('RoomStage over a StageSync', function () {
  it('each request is one transaction whose effects are what everyone is told, in order', async function () {
    const room = new TestRoom();
    const log: StageEffect[][] = [];
    const stage = new RoomStage(room, LIMITS, silent, { sync: recordingLocal(log) });
    room.hangTransports = true;
    const host = room.add('host', 'host');
    const viewer = room.add('viewer', 'audience');

    const hand = await stage.raiseHand(viewer, 'me please');
    const invite = await stage.invite(host, 'viewer', ['microphone', 'camera']);
    assert.deepEqual(log, [
      [{ type: 'handRaised', hand }],
      [{ type: 'inviteReceived', identity: 'viewer', invite }],
    ]);
    assert.deepEqual(room.sent.get('host'), [['handRaised', hand]]);
    assert.deepEqual(room.sent.get('viewer'), [['inviteReceived', invite]]);

    room.clear();
    log.length = 0;
    await stage.approve(host, 'viewer', ['microphone']);
    assert.deepEqual(log, [
      [
        { type: 'handLowered', identity: 'viewer', reason: 'approved' },
        { type: 'inviteEnded', identity: 'viewer', reason: 'cancelled' },
        { type: 'seated', identity: 'viewer', reason: 'approved' },
      ],
    ]);
    assert.equal(viewer.role, 'guest', 'the seat is on the participant once approve resolves');
    assert.deepEqual(room.events('host'), ['handLowered', 'inviteEnded', 'stageChanged']);
    assert.deepEqual(room.events('viewer'), ['handLowered', 'inviteEnded', 'stageChanged']);
    assert.deepEqual(room.cameOnStageFor, ['viewer']);

    // A mute that changes nothing commits nothing; a real one tells the guest, then everyone.
    await turn();
    room.clear();
    log.length = 0;
    await stage.mute(host, 'viewer', 'microphone', false);
    assert.deepEqual(log, [[]]);
    assert.deepEqual(room.events('viewer'), []);
    await stage.mute(host, 'viewer', 'microphone', true);
    assert.deepEqual(log[1], [
      { type: 'mutedByHost', identity: 'viewer', source: 'microphone', muted: true },
    ]);
    assert.deepEqual(room.sent.get('viewer')?.[0], [
      'mutedByHost',
      { source: 'microphone', muted: true },
    ]);
    assert.deepEqual(room.events('viewer'), ['mutedByHost', 'stageChanged']);

    room.clear();
    log.length = 0;
    await stage.leaveStage(viewer);
    assert.deepEqual(log, [[{ type: 'unseated', identity: 'viewer', reason: 'left-stage' }]]);
    assert.deepEqual(room.sent.get('viewer'), [
      ['roleChanged', { role: 'audience', sources: [], sendTransport: null, reason: 'left-stage' }],
      ['stageChanged', stage.info()],
    ]);
    assert.equal(viewer.role, 'audience');
  });

  it('an approval does not wait for the guest’s queue; the transport is made there, and a failure gives the seat back', async function () {
    const room = new TestRoom();
    const stage = new RoomStage(room, LIMITS, silent);
    const host = room.add('host', 'host');
    const viewer = room.add('viewer', 'audience');
    await stage.raiseHand(viewer, '');
    let unblock!: () => void;
    const busy = viewer.requests.run(() => new Promise<void>((resolve) => (unblock = resolve)));

    await stage.approve(host, 'viewer', ['camera']);
    assert.equal(viewer.role, 'guest');
    assert.deepEqual(room.transportsAsked, [], 'nothing asked while the guest’s queue is busy');
    room.clear();
    unblock();
    await busy;
    await eventually(() => assert.equal(viewer.role, 'audience', 'the seat was given back'));
    assert.deepEqual(room.transportsAsked, ['viewer:send']);
    assert.equal(stage.stage.seat('viewer'), undefined);
    assert.deepEqual(room.payloads('viewer', 'roleChanged'), [
      { role: 'audience', sources: [], sendTransport: null, reason: 'approved' },
    ]);
    assert.deepEqual(room.events('host'), ['stageChanged']);
  });

  it('left forgets hand, invitation and seat and tells hosts; keepSeat keeps all three', async function () {
    const room = new TestRoom();
    const stage = new RoomStage(room, LIMITS, silent);
    const host = room.add('host', 'host');
    const a = room.add('a', 'audience');
    const b = room.add('b', 'audience');
    await stage.raiseHand(a, '');
    await stage.invite(host, 'a', ['camera']);
    await stage.raiseHand(b, '');
    room.clear();

    room.participants.delete('a');
    stage.left(a);
    assert.deepEqual(room.sent.get('host'), [
      ['handLowered', { identity: 'a', reason: 'left' }],
      ['inviteEnded', { identity: 'a', reason: 'left' }],
    ]);
    assert.equal(stage.stage.hand('a'), undefined);

    room.participants.delete('b');
    stage.left(b, { keepSeat: true });
    assert.ok(stage.stage.hand('b'), 'a participant that moved keeps its hand up');
    assert.equal(room.sent.get('host')?.length, 2, 'and nobody is told anything');
  });

  it('seatOnJoin keeps a seat already held; seatRevoked gives back only the seat it took', async function () {
    const room = new TestRoom();
    const stage = new RoomStage(room, LIMITS, silent);
    const first = room.add('g1', 'guest');
    first.joined = false;
    await stage.seatOnJoin(first);
    const seat = stage.stage.seat('g1');
    assert.ok(seat && first.seat?.id === seat.id);

    // The same identity arriving again while its seat is held (it moved from another node).
    room.participants.delete('g1');
    const again = room.add('g1', 'guest');
    again.joined = false;
    await stage.seatOnJoin(again);
    assert.equal(again.seat?.id, seat.id, 'the held seat, not a new one');
    await stage.seatRevoked(again);
    assert.equal(stage.stage.seat('g1')?.id, seat.id, 'a seat it did not take stays');

    const other = room.add('g2', 'guest');
    other.joined = false;
    await stage.seatOnJoin(other);
    assert.ok(stage.stage.seat('g2'));
    await stage.seatRevoked(other);
    assert.equal(stage.stage.seat('g2'), undefined, 'the seat it took is given back');
    assert.equal(other.seat, undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Two nodes over one shared stage: a stand-in for the contract RedisStageSync implements (a
// versioned state, the writer applies before resolving, every other node applies the same
// commit a turn later, from JSON).

class SharedStage {
  snapshot: StageSnapshot = new Stage(LIMITS).snapshot();
  version = 0;
  readonly replicas: StageReplica[] = [];

  syncFor: StageSyncFactory = (replica) => {
    this.replicas.push(replica);
    const sync: StageSync = {
      transact: async (change) => {
        await turn(); // the round trip to the store
        const before = JSON.stringify(this.snapshot);
        const draft = replica.restore(JSON.parse(before) as StageSnapshot);
        const { result, effects } = change(draft);
        if (commitsNothing(before, draft, effects)) return result;
        this.snapshot = draft.snapshot();
        this.version += 1;
        const message = JSON.stringify({ snapshot: this.snapshot, effects });
        for (const other of this.replicas) {
          if (other === replica) continue;
          setImmediate(() => {
            const { snapshot, effects: told } = JSON.parse(message) as {
              snapshot: StageSnapshot;
              effects: StageEffect[];
            };
            void other.applyCommitted(other.restore(snapshot), told);
          });
        }
        await replica.applyCommitted(draft, effects);
        return result;
      },
      close: () => undefined,
    };
    return sync;
  };
}

describe('RoomStage on two nodes sharing one stage', function () {
  it('a host on A approves a viewer on B: both nodes agree, only B makes its transport', async function () {
    const shared = new SharedStage();
    const roomA = new TestRoom();
    const roomB = new TestRoom();
    const stageA = new RoomStage(roomA, LIMITS, silent, { sync: shared.syncFor });
    const stageB = new RoomStage(roomB, LIMITS, silent, { sync: shared.syncFor });
    const host = roomA.add('host', 'host');
    roomA.add('viewer', 'audience', 'B');
    roomB.add('host', 'host', 'A');
    const viewer = roomB.add('viewer', 'audience');

    const hand = await stageB.raiseHand(viewer, 'from B');
    await eventually(() =>
      assert.deepEqual(roomA.sent.get('host'), [['handRaised', hand]], 'the hand reached A'),
    );
    assert.deepEqual(stageA.stage.hands, [hand]);

    await stageA.approve(host, 'viewer', ['microphone']);
    assert.equal(roomA.participants.get('viewer')?.role, 'guest', 'A sees the guest at once');
    assert.deepEqual(roomA.transportsAsked, [], 'A makes no transport for B’s participant');
    // B makes it, on the guest's queue; it cannot: the seat is given back, and A hears of it.
    await eventually(() =>
      assert.equal(roomA.participants.get('viewer')?.role, 'audience', 'seat given back on A'),
    );
    assert.deepEqual(roomB.transportsAsked, ['viewer:send']);
    assert.equal(stageA.stage.seat('viewer'), undefined);
    assert.deepEqual(roomB.payloads('viewer', 'roleChanged'), [
      { role: 'audience', sources: [], sendTransport: null, reason: 'approved' },
    ]);
    assert.equal(shared.version, 3, 'hand, approval, seat given back');
    assert.deepEqual(stageA.stage.snapshot(), stageB.stage.snapshot());
  });

  it('two hosts on two nodes take the last seat at once: one wins, one gets STAGE_FULL', async function () {
    const shared = new SharedStage();
    const roomA = new TestRoom();
    const roomB = new TestRoom();
    const stageA = new RoomStage(roomA, { ...LIMITS, maxGuests: 1 }, silent, {
      sync: shared.syncFor,
    });
    const stageB = new RoomStage(roomB, { ...LIMITS, maxGuests: 1 }, silent, {
      sync: shared.syncFor,
    });
    const hostA = roomA.add('hostA', 'host');
    const hostB = roomB.add('hostB', 'host');
    roomA.hangTransports = roomB.hangTransports = true;
    for (const room of [roomA, roomB]) {
      room.add('a', 'audience', room === roomA ? undefined : 'A');
      room.add('b', 'audience', room === roomB ? undefined : 'B');
    }
    await stageA.raiseHand(roomA.participants.get('a')!, '');
    await stageB.raiseHand(roomB.participants.get('b')!, '');
    await eventually(() => assert.equal(stageA.stage.hands.length, 2, 'both hands on A'));

    const results = await Promise.allSettled([
      stageA.approve(hostA, 'a', ['microphone']),
      stageB.approve(hostB, 'b', ['microphone']),
    ]);
    const codes = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : ((r.reason as AppError).code as string),
    );
    assert.deepEqual([...codes].sort(), ['STAGE_FULL', 'ok']);
    assert.equal(Stage.restore(LIMITS, shared.snapshot).guests.length, 1);
  });
});
