import assert from 'node:assert/strict';
import type { ErrorCode, HandRequest, Role, StageSource } from '@livestage/protocol';
import { AppError } from '../../server/src/errors.js';
import {
  DEFAULT_GUEST_SOURCES,
  STAGE_SOURCES,
  Stage,
  stageSourceOf,
} from '../../server/src/rooms/Stage.js';
import type {
  Invite,
  StageCandidate,
  StageLimits,
  StageSnapshot,
} from '../../server/src/rooms/Stage.js';

const LIMITS: StageLimits = { maxGuests: 2, handTtlMs: 1_000, inviteTtlMs: 500 };
const START = 10_000;

/** A stage on a fake clock: move `clock.now` to travel in time. */
function makeStage(limits: Partial<StageLimits> = {}): { stage: Stage; clock: { now: number } } {
  const clock = { now: START };
  const stage = new Stage({ ...LIMITS, ...limits }, () => clock.now);
  return { stage, clock };
}

function who(identity: string, role: Role = 'audience'): StageCandidate {
  return { identity, name: `name of ${identity}`, role };
}

// Looking up a pending invitation (`invitation`) and sending one (`invite`) go through these two
// helpers, so a rename touches one place.
function inviteOf(stage: Stage, identity: string): Invite | undefined {
  return stage.invitation(identity);
}

function sendInvite(
  stage: Stage,
  from: string,
  target: StageCandidate,
  sources: readonly StageSource[],
): Invite {
  return stage.invite(from, target, sources);
}

/** Asserts that `fn` throws an AppError carrying `code`. */
function throwsCode(fn: () => unknown, code: ErrorCode): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code);
    return true;
  });
}

/** Everything a caller can observe about the stage for `identities`, as plain data. */
function observe(stage: Stage, identities: readonly string[]) {
  return {
    guests: stage.guests.map((seat) => ({
      identity: seat.identity,
      sources: [...seat.sources],
      mutedByHost: [...seat.mutedByHost].sort(),
      since: seat.since,
    })),
    hands: stage.hands.map((hand) => ({ ...hand })),
    handLookups: identities.map((identity) => {
      const hand = stage.hand(identity);
      return hand ? { ...hand } : null;
    }),
    invites: identities.map((identity) => {
      const invite = inviteOf(stage, identity);
      return invite ? { ...invite, sources: [...invite.sources] } : null;
    }),
    seats: identities.map((identity) => stage.seat(identity)?.identity ?? null),
    full: stage.full,
    nextExpiry: stage.nextExpiry(),
  };
}

/** Runs `fn`, expects it to throw `code`, and checks that nothing observable changed. */
function refusedWithoutChange(
  stage: Stage,
  identities: readonly string[],
  fn: () => unknown,
  code: ErrorCode,
): void {
  const before = observe(stage, identities);
  throwsCode(fn, code);
  assert.deepEqual(observe(stage, identities), before);
}

const identitiesOf = (hands: readonly HandRequest[]): string[] => hands.map((h) => h.identity);

describe('stage', function () {
  describe('sources', function () {
    it('screen audio rides on the screen permission', function () {
      assert.equal(stageSourceOf('screen-audio'), 'screen');
      assert.equal(stageSourceOf('screen'), 'screen');
      assert.equal(stageSourceOf('camera'), 'camera');
      assert.equal(stageSourceOf('microphone'), 'microphone');
    });

    it('knows three stage sources, guests default to mic and camera', function () {
      assert.deepEqual([...STAGE_SOURCES], ['microphone', 'camera', 'screen']);
      assert.deepEqual([...DEFAULT_GUEST_SOURCES], ['microphone', 'camera']);
    });
  });

  describe('raising hands', function () {
    it('an audience member raises a hand that lasts handTtlMs', function () {
      const { stage } = makeStage();
      const hand = stage.raiseHand(who('a'), 'let me talk');
      assert.deepEqual(hand, {
        identity: 'a',
        name: 'name of a',
        message: 'let me talk',
        raisedAt: START,
        expiresAt: START + LIMITS.handTtlMs,
      });
      assert.deepEqual(stage.hand('a'), hand);
      assert.deepEqual(stage.hands, [hand]);
      assert.equal(stage.seat('a'), undefined);
      assert.deepEqual(stage.guests, []);
    });

    it('hosts and guests cannot raise a hand', function () {
      const { stage } = makeStage();
      for (const role of ['host', 'guest'] as const) {
        refusedWithoutChange(
          stage,
          ['x'],
          () => stage.raiseHand(who('x', role), 'hi'),
          'INVALID_STATE',
        );
      }
      assert.deepEqual(stage.hands, []);
    });

    it('a seated audience member cannot raise a hand', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), 'first');
      stage.approve('a', ['microphone']);
      stage.seatDirectly('b', ['camera']);
      for (const identity of ['a', 'b']) {
        refusedWithoutChange(
          stage,
          ['a', 'b'],
          () => stage.raiseHand(who(identity), 'again'),
          'INVALID_STATE',
        );
      }
      assert.equal(stage.hand('a'), undefined);
      assert.equal(stage.hand('b'), undefined);
    });

    it('raising again keeps raisedAt and the place in the queue, refreshes message and expiry', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), 'one');
      clock.now += 10;
      stage.raiseHand(who('b'), 'two');
      clock.now += 10;
      const again = stage.raiseHand(who('a'), 'one, louder');
      assert.equal(again.raisedAt, START);
      assert.equal(again.message, 'one, louder');
      assert.equal(again.expiresAt, START + 20 + LIMITS.handTtlMs);
      assert.deepEqual(identitiesOf(stage.hands), ['a', 'b']);
      assert.deepEqual(stage.hand('a'), again);

      // The refreshed expiry keeps it alive past the original one, and past b's.
      clock.now = START + 10 + LIMITS.handTtlMs;
      assert.deepEqual(identitiesOf(stage.hands), ['a']);
      assert.equal(stage.hand('a')?.message, 'one, louder');
    });

    it('raising again after the hand lapsed starts over at the back of the queue', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), 'one');
      clock.now = START + 500;
      stage.raiseHand(who('b'), 'two');
      clock.now = START + LIMITS.handTtlMs + 1;
      assert.equal(stage.hand('a'), undefined);
      const fresh = stage.raiseHand(who('a'), 'one again');
      assert.equal(fresh.raisedAt, clock.now);
      assert.deepEqual(identitiesOf(stage.hands), ['b', 'a']);
    });

    it('lists live hands oldest first and drops them at exactly expiresAt', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('c'), '');
      clock.now += 1;
      stage.raiseHand(who('a'), '');
      clock.now += 1;
      stage.raiseHand(who('b'), '');
      assert.deepEqual(identitiesOf(stage.hands), ['c', 'a', 'b']);

      clock.now = START + LIMITS.handTtlMs - 1;
      assert.deepEqual(identitiesOf(stage.hands), ['c', 'a', 'b']);
      clock.now = START + LIMITS.handTtlMs;
      assert.deepEqual(identitiesOf(stage.hands), ['a', 'b']);
      assert.equal(stage.hand('c'), undefined);
      clock.now = START + LIMITS.handTtlMs + 2;
      assert.deepEqual(stage.hands, []);
    });

    it('lowerHand returns the hand and removes it', function () {
      const { stage } = makeStage();
      const hand = stage.raiseHand(who('a'), 'hi');
      stage.raiseHand(who('b'), 'hi');
      assert.deepEqual(stage.lowerHand('a'), hand);
      assert.equal(stage.hand('a'), undefined);
      assert.deepEqual(identitiesOf(stage.hands), ['b']);
    });

    it('lowerHand without a live hand is NOT_FOUND', function () {
      const { stage, clock } = makeStage();
      refusedWithoutChange(stage, ['a'], () => stage.lowerHand('a'), 'NOT_FOUND');
      stage.raiseHand(who('a'), 'hi');
      stage.lowerHand('a');
      refusedWithoutChange(stage, ['a'], () => stage.lowerHand('a'), 'NOT_FOUND');
      stage.raiseHand(who('a'), 'hi');
      clock.now += LIMITS.handTtlMs;
      refusedWithoutChange(stage, ['a'], () => stage.lowerHand('a'), 'NOT_FOUND');
    });

    it('deny removes the hand like lowerHand, NOT_FOUND when there is none', function () {
      const { stage } = makeStage();
      const hand = stage.raiseHand(who('a'), 'hi');
      assert.deepEqual(stage.deny('a'), hand);
      assert.equal(stage.hand('a'), undefined);
      assert.equal(stage.seat('a'), undefined);
      refusedWithoutChange(stage, ['a'], () => stage.deny('a'), 'NOT_FOUND');
    });
  });

  describe('approving hands', function () {
    it('seats the hand with normalized sources and drops the hand', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      clock.now += 7;
      const seat = stage.approve('a', ['microphone']);
      assert.equal(seat.identity, 'a');
      assert.deepEqual([...seat.sources], ['microphone']);
      assert.deepEqual([...seat.mutedByHost], []);
      assert.equal(seat.since, START + 7);
      assert.equal(stage.seat('a'), seat);
      assert.deepEqual(stage.guests, [seat]);
      assert.equal(stage.hand('a'), undefined);
      assert.deepEqual(stage.hands, []);
      assert.equal(stage.nextExpiry(), undefined);
    });

    it('without a live hand is NOT_FOUND', function () {
      const { stage } = makeStage();
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['camera']), 'NOT_FOUND');
      assert.deepEqual(stage.guests, []);
    });

    it('of someone already seated is INVALID_STATE', function () {
      const { stage } = makeStage();
      stage.seatDirectly('a', ['camera']);
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['camera']), 'INVALID_STATE');
    });

    it('at maxGuests is STAGE_FULL, keeps the hand queued and changes nothing', function () {
      const { stage } = makeStage({ maxGuests: 1 });
      stage.seatDirectly('g', ['camera']);
      assert.equal(stage.full, true);
      const hand = stage.raiseHand(who('a'), 'hi');
      refusedWithoutChange(
        stage,
        ['a', 'g'],
        () => stage.approve('a', ['microphone']),
        'STAGE_FULL',
      );
      assert.deepEqual(stage.hands, [hand]);
      assert.equal(stage.seat('a'), undefined);

      // Once a seat frees, the same hand can be approved.
      stage.unseat('g');
      assert.equal(stage.full, false);
      assert.equal(stage.approve('a', ['microphone']).identity, 'a');
      assert.deepEqual(stage.hands, []);
      assert.equal(stage.full, true);
    });

    it('dedupes sources into a stable order and drops unknown ones', function () {
      const { stage } = makeStage({ maxGuests: 3 });
      stage.raiseHand(who('a'), '');
      stage.raiseHand(who('b'), '');
      stage.raiseHand(who('c'), '');
      const a = stage.approve('a', ['screen', 'microphone', 'screen', 'camera', 'microphone']);
      assert.deepEqual([...a.sources], ['microphone', 'camera', 'screen']);
      const b = stage.approve('b', ['camera', 'camera']);
      assert.deepEqual([...b.sources], ['camera']);
      const unknown = ['screen-audio', 'bogus', 'screen'] as unknown as StageSource[];
      const c = stage.approve('c', unknown);
      assert.deepEqual([...c.sources], ['screen']);
    });

    it('with no usable source is INVALID_PAYLOAD and changes nothing', function () {
      const { stage } = makeStage();
      const hand = stage.raiseHand(who('a'), 'hi');
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', []), 'INVALID_PAYLOAD');
      const unknown = ['screen-audio'] as unknown as StageSource[];
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', unknown), 'INVALID_PAYLOAD');
      assert.deepEqual(stage.hand('a'), hand);
      assert.deepEqual(stage.guests, []);
    });

    it('also clears a pending invitation for the same identity', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      sendInvite(stage, 'host', who('a'), ['camera']);
      assert.ok(inviteOf(stage, 'a'));
      stage.approve('a', ['microphone']);
      assert.equal(inviteOf(stage, 'a'), undefined);
      assert.equal(stage.nextExpiry(), undefined);
      throwsCode(() => stage.acceptInvite('a'), 'NOT_FOUND');
      throwsCode(() => stage.declineInvite('a'), 'NOT_FOUND');
      assert.deepEqual([...(stage.seat('a')?.sources ?? [])], ['microphone']);
    });

    it('leaves other hands and invitations alone', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), '');
      stage.raiseHand(who('b'), '');
      sendInvite(stage, 'host', who('c'), ['camera']);
      stage.approve('a', ['camera']);
      assert.deepEqual(identitiesOf(stage.hands), ['b']);
      assert.equal(inviteOf(stage, 'c')?.identity, 'c');
    });
  });

  describe('invitations', function () {
    it('invites an audience member with normalized sources for inviteTtlMs', function () {
      const { stage } = makeStage();
      const invite = sendInvite(stage, 'host', who('a'), ['screen', 'camera', 'screen']);
      assert.deepEqual(invite, {
        identity: 'a',
        from: 'host',
        sources: ['camera', 'screen'],
        expiresAt: START + LIMITS.inviteTtlMs,
      });
      assert.deepEqual(inviteOf(stage, 'a'), invite);
      assert.equal(stage.seat('a'), undefined);
      assert.equal(stage.nextExpiry(), START + LIMITS.inviteTtlMs);
    });

    it('does not touch the invitee’s raised hand', function () {
      const { stage } = makeStage();
      const hand = stage.raiseHand(who('a'), 'hi');
      sendInvite(stage, 'host', who('a'), ['camera']);
      assert.deepEqual(stage.hand('a'), hand);
    });

    it('hosts, guests and seated participants cannot be invited', function () {
      const { stage } = makeStage();
      stage.seatDirectly('s', ['camera']);
      const ids = ['h', 'g', 's'];
      refusedWithoutChange(
        stage,
        ids,
        () => sendInvite(stage, 'x', who('h', 'host'), ['camera']),
        'INVALID_STATE',
      );
      refusedWithoutChange(
        stage,
        ids,
        () => sendInvite(stage, 'x', who('g', 'guest'), ['camera']),
        'INVALID_STATE',
      );
      refusedWithoutChange(
        stage,
        ids,
        () => sendInvite(stage, 'x', who('s'), ['camera']),
        'INVALID_STATE',
      );
    });

    it('is STAGE_FULL when the stage is full', function () {
      const { stage } = makeStage({ maxGuests: 1 });
      stage.seatDirectly('g', ['camera']);
      refusedWithoutChange(
        stage,
        ['a', 'g'],
        () => sendInvite(stage, 'host', who('a'), ['camera']),
        'STAGE_FULL',
      );
      assert.equal(inviteOf(stage, 'a'), undefined);
    });

    it('with no usable source is INVALID_PAYLOAD and changes nothing', function () {
      const { stage } = makeStage();
      refusedWithoutChange(
        stage,
        ['a'],
        () => sendInvite(stage, 'host', who('a'), []),
        'INVALID_PAYLOAD',
      );
      const first = sendInvite(stage, 'host', who('a'), ['camera']);
      refusedWithoutChange(
        stage,
        ['a'],
        () => sendInvite(stage, 'host2', who('a'), []),
        'INVALID_PAYLOAD',
      );
      assert.deepEqual(inviteOf(stage, 'a'), first);
    });

    it('inviting again replaces the invitation: new sender, sources and expiry', function () {
      const { stage, clock } = makeStage();
      sendInvite(stage, 'host1', who('a'), ['camera']);
      clock.now += 100;
      const second = sendInvite(stage, 'host2', who('a'), ['microphone', 'screen']);
      assert.deepEqual(second, {
        identity: 'a',
        from: 'host2',
        sources: ['microphone', 'screen'],
        expiresAt: START + 100 + LIMITS.inviteTtlMs,
      });
      assert.deepEqual(inviteOf(stage, 'a'), second);
      clock.now = START + LIMITS.inviteTtlMs + 50;
      assert.deepEqual(inviteOf(stage, 'a'), second);
      const seat = stage.acceptInvite('a');
      assert.deepEqual([...seat.sources], ['microphone', 'screen']);
    });

    it('accepting seats the invitee with the invited sources and clears invite and hand', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      sendInvite(stage, 'host', who('a'), ['screen', 'microphone']);
      clock.now += 3;
      const seat = stage.acceptInvite('a');
      assert.equal(seat.identity, 'a');
      assert.deepEqual([...seat.sources], ['microphone', 'screen']);
      assert.deepEqual([...seat.mutedByHost], []);
      assert.equal(seat.since, START + 3);
      assert.equal(stage.seat('a'), seat);
      assert.equal(inviteOf(stage, 'a'), undefined);
      assert.equal(stage.hand('a'), undefined);
      assert.deepEqual(stage.hands, []);
      assert.equal(stage.nextExpiry(), undefined);
    });

    it('accepting without an invitation is NOT_FOUND', function () {
      const { stage } = makeStage();
      refusedWithoutChange(stage, ['a'], () => stage.acceptInvite('a'), 'NOT_FOUND');
      sendInvite(stage, 'host', who('b'), ['camera']);
      refusedWithoutChange(stage, ['a', 'b'], () => stage.acceptInvite('a'), 'NOT_FOUND');
    });

    it('accepting an expired invitation is NOT_FOUND', function () {
      const { stage, clock } = makeStage();
      sendInvite(stage, 'host', who('a'), ['camera']);
      clock.now = START + LIMITS.inviteTtlMs - 1;
      assert.ok(inviteOf(stage, 'a'));
      clock.now = START + LIMITS.inviteTtlMs;
      assert.equal(inviteOf(stage, 'a'), undefined);
      refusedWithoutChange(stage, ['a'], () => stage.acceptInvite('a'), 'NOT_FOUND');
      assert.equal(stage.seat('a'), undefined);
    });

    it('accepting on a full stage is STAGE_FULL and keeps the invitation for later', function () {
      const { stage } = makeStage({ maxGuests: 1 });
      const invite = sendInvite(stage, 'host', who('a'), ['camera']);
      stage.seatDirectly('g', ['microphone']);
      refusedWithoutChange(stage, ['a', 'g'], () => stage.acceptInvite('a'), 'STAGE_FULL');
      assert.deepEqual(inviteOf(stage, 'a'), invite);
      stage.unseat('g');
      const seat = stage.acceptInvite('a');
      assert.equal(seat.identity, 'a');
      assert.equal(inviteOf(stage, 'a'), undefined);
    });

    it('declining returns the invitation and removes it', function () {
      const { stage } = makeStage();
      const invite = sendInvite(stage, 'host', who('a'), ['camera']);
      assert.deepEqual(stage.declineInvite('a'), invite);
      assert.equal(inviteOf(stage, 'a'), undefined);
      assert.equal(stage.nextExpiry(), undefined);
      refusedWithoutChange(stage, ['a'], () => stage.declineInvite('a'), 'NOT_FOUND');
      refusedWithoutChange(stage, ['a'], () => stage.acceptInvite('a'), 'NOT_FOUND');
    });

    it('declining an expired or missing invitation is NOT_FOUND', function () {
      const { stage, clock } = makeStage();
      refusedWithoutChange(stage, ['a'], () => stage.declineInvite('a'), 'NOT_FOUND');
      sendInvite(stage, 'host', who('a'), ['camera']);
      clock.now += LIMITS.inviteTtlMs;
      refusedWithoutChange(stage, ['a'], () => stage.declineInvite('a'), 'NOT_FOUND');
    });
  });

  describe('seats', function () {
    it('seatDirectly seats with normalized sources', function () {
      const { stage } = makeStage();
      const seat = stage.seatDirectly('g', ['screen', 'camera', 'camera']);
      assert.deepEqual(
        {
          identity: seat.identity,
          sources: [...seat.sources],
          muted: [...seat.mutedByHost],
          since: seat.since,
        },
        { identity: 'g', sources: ['camera', 'screen'], muted: [], since: START },
      );
      assert.equal(stage.seat('g'), seat);
    });

    it('seatDirectly refuses the seated, a full stage and empty sources', function () {
      const { stage } = makeStage({ maxGuests: 1 });
      refusedWithoutChange(stage, ['g'], () => stage.seatDirectly('g', []), 'INVALID_PAYLOAD');
      stage.seatDirectly('g', ['camera']);
      refusedWithoutChange(
        stage,
        ['g'],
        () => stage.seatDirectly('g', ['camera']),
        'INVALID_STATE',
      );
      refusedWithoutChange(
        stage,
        ['g', 'h'],
        () => stage.seatDirectly('h', ['camera']),
        'STAGE_FULL',
      );
    });

    it('a stage with no room for guests refuses every seat', function () {
      const { stage } = makeStage({ maxGuests: 0 });
      assert.equal(stage.full, true);
      stage.raiseHand(who('a'), '');
      throwsCode(() => stage.approve('a', ['camera']), 'STAGE_FULL');
      throwsCode(() => sendInvite(stage, 'host', who('a'), ['camera']), 'STAGE_FULL');
      throwsCode(() => stage.seatDirectly('g', ['camera']), 'STAGE_FULL');
      assert.deepEqual(stage.guests, []);
    });

    it('lists guests in the order they came on stage', function () {
      const { stage } = makeStage({ maxGuests: 3 });
      stage.seatDirectly('b', ['camera']);
      stage.raiseHand(who('a'), '');
      stage.approve('a', ['camera']);
      sendInvite(stage, 'host', who('c'), ['camera']);
      stage.acceptInvite('c');
      assert.deepEqual(
        stage.guests.map((s) => s.identity),
        ['b', 'a', 'c'],
      );
      stage.unseat('b');
      stage.seatDirectly('b', ['camera']);
      assert.deepEqual(
        stage.guests.map((s) => s.identity),
        ['a', 'c', 'b'],
      );
    });

    it('unseat returns the seat, frees it, and is NOT_FOUND when not seated', function () {
      const { stage } = makeStage({ maxGuests: 1 });
      refusedWithoutChange(stage, ['g'], () => stage.unseat('g'), 'NOT_FOUND');
      const seat = stage.seatDirectly('g', ['camera']);
      assert.equal(stage.full, true);
      assert.equal(stage.unseat('g'), seat);
      assert.equal(stage.seat('g'), undefined);
      assert.deepEqual(stage.guests, []);
      assert.equal(stage.full, false);
      refusedWithoutChange(stage, ['g'], () => stage.unseat('g'), 'NOT_FOUND');
    });

    it('an unseated audience member may raise a hand again', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), 'first');
      stage.approve('a', ['camera']);
      stage.unseat('a');
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['camera']), 'NOT_FOUND');
      stage.raiseHand(who('a'), 'second');
      assert.equal(stage.approve('a', ['camera']).identity, 'a');
    });

    it('setMutedByHost mutes and unmutes, reporting whether anything changed', function () {
      const { stage } = makeStage();
      const seat = stage.seatDirectly('g', ['microphone', 'camera']);
      assert.equal(stage.setMutedByHost('g', 'microphone', true), true);
      assert.deepEqual([...seat.mutedByHost], ['microphone']);
      assert.equal(stage.setMutedByHost('g', 'microphone', true), false);
      assert.deepEqual([...seat.mutedByHost], ['microphone']);
      assert.equal(stage.setMutedByHost('g', 'camera', true), true);
      assert.deepEqual([...seat.mutedByHost].sort(), ['camera', 'microphone']);
      assert.equal(stage.setMutedByHost('g', 'microphone', false), true);
      assert.deepEqual([...seat.mutedByHost], ['camera']);
      assert.equal(stage.setMutedByHost('g', 'microphone', false), false);
      assert.deepEqual([...seat.mutedByHost], ['camera']);
    });

    it('setMutedByHost is NOT_FOUND off stage and INVALID_STATE for a source the seat lacks', function () {
      const { stage } = makeStage();
      refusedWithoutChange(
        stage,
        ['g'],
        () => stage.setMutedByHost('g', 'camera', true),
        'NOT_FOUND',
      );
      stage.seatDirectly('g', ['microphone']);
      refusedWithoutChange(
        stage,
        ['g'],
        () => stage.setMutedByHost('g', 'camera', true),
        'INVALID_STATE',
      );
      refusedWithoutChange(
        stage,
        ['g'],
        () => stage.setMutedByHost('g', 'screen', false),
        'INVALID_STATE',
      );
      assert.deepEqual([...(stage.seat('g')?.mutedByHost ?? [])], []);
    });

    it('a host mute does not survive leaving the stage', function () {
      const { stage } = makeStage();
      stage.seatDirectly('g', ['microphone']);
      stage.setMutedByHost('g', 'microphone', true);
      stage.unseat('g');
      const again = stage.seatDirectly('g', ['microphone']);
      assert.deepEqual([...again.mutedByHost], []);
    });
  });

  describe('forget, expire and nextExpiry', function () {
    it('forget returns the hand, invitation and seat and clears them all', function () {
      const { stage } = makeStage();
      const hand = stage.raiseHand(who('a'), 'hi');
      const invite = sendInvite(stage, 'host', who('a'), ['camera']);
      const seat = stage.seatDirectly('g', ['camera']);

      assert.deepEqual(stage.forget('a'), { hand, invite, seat: undefined });
      assert.equal(stage.hand('a'), undefined);
      assert.equal(inviteOf(stage, 'a'), undefined);
      assert.deepEqual(stage.hands, []);
      assert.equal(stage.nextExpiry(), undefined);

      const forgotten = stage.forget('g');
      assert.equal(forgotten.seat, seat);
      assert.equal(forgotten.hand, undefined);
      assert.equal(forgotten.invite, undefined);
      assert.equal(stage.seat('g'), undefined);
      assert.deepEqual(stage.guests, []);
      assert.equal(stage.full, false);
    });

    it('forget of a stranger returns nothing and changes nothing', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), '');
      stage.seatDirectly('g', ['camera']);
      const before = observe(stage, ['a', 'g', 'z']);
      assert.deepEqual(stage.forget('z'), { hand: undefined, invite: undefined, seat: undefined });
      assert.deepEqual(observe(stage, ['a', 'g', 'z']), before);
    });

    it('forget does not report lapsed entries but still drops them', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), '');
      sendInvite(stage, 'host', who('a'), ['camera']);
      clock.now += LIMITS.handTtlMs;
      assert.deepEqual(stage.forget('a'), { hand: undefined, invite: undefined, seat: undefined });
      assert.equal(stage.nextExpiry(), undefined);
      assert.deepEqual(stage.expire(), { hands: [], invites: [] });
    });

    it('expire returns and removes lapsed hands and invitations only', function () {
      const { stage, clock } = makeStage({ maxGuests: 3 });
      const oldHand = stage.raiseHand(who('a'), '');
      const oldInvite = sendInvite(stage, 'host', who('b'), ['camera']);
      const seat = stage.seatDirectly('g', ['camera']);
      clock.now = START + 400;
      const newHand = stage.raiseHand(who('c'), '');
      const newInvite = sendInvite(stage, 'host', who('d'), ['camera']);

      assert.deepEqual(stage.expire(), { hands: [], invites: [] });

      // The first invitation lapses at exactly its expiresAt.
      clock.now = START + LIMITS.inviteTtlMs;
      assert.deepEqual(stage.expire(), { hands: [], invites: [oldInvite] });
      assert.equal(inviteOf(stage, 'b'), undefined);

      clock.now = START + 400 + LIMITS.handTtlMs;
      const expired = stage.expire();
      assert.deepEqual(expired.hands, [oldHand, newHand]);
      assert.deepEqual(expired.invites, [newInvite]);
      assert.deepEqual(stage.hands, []);
      assert.equal(stage.nextExpiry(), undefined);
      assert.equal(stage.seat('g'), seat, 'seats never expire');
      assert.deepEqual(stage.expire(), { hands: [], invites: [] });
    });

    it('an expired-then-reraised hand is not reported by expire', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), 'old');
      clock.now += LIMITS.handTtlMs + 1;
      const fresh = stage.raiseHand(who('a'), 'new');
      assert.deepEqual(stage.expire(), { hands: [], invites: [] });
      assert.deepEqual(stage.hand('a'), fresh);
    });

    it('nextExpiry is the earliest pending hand or invitation', function () {
      const { stage, clock } = makeStage();
      assert.equal(stage.nextExpiry(), undefined);
      stage.seatDirectly('g', ['camera']);
      assert.equal(stage.nextExpiry(), undefined, 'seats do not expire');

      stage.raiseHand(who('a'), '');
      assert.equal(stage.nextExpiry(), START + LIMITS.handTtlMs);
      clock.now += 100;
      sendInvite(stage, 'host', who('b'), ['camera']);
      assert.equal(stage.nextExpiry(), START + 100 + LIMITS.inviteTtlMs);
      stage.declineInvite('b');
      assert.equal(stage.nextExpiry(), START + LIMITS.handTtlMs);

      // Raising again pushes the expiry out.
      stage.raiseHand(who('a'), '');
      assert.equal(stage.nextExpiry(), START + 100 + LIMITS.handTtlMs);
      stage.lowerHand('a');
      assert.equal(stage.nextExpiry(), undefined);
    });

    it('nextExpiry keeps reporting a lapsed entry until expire() removes it', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), '');
      clock.now = START + 50;
      stage.raiseHand(who('b'), '');
      clock.now = START + LIMITS.handTtlMs + 10;
      assert.equal(stage.nextExpiry(), START + LIMITS.handTtlMs);
      stage.expire();
      assert.equal(stage.nextExpiry(), START + 50 + LIMITS.handTtlMs);
    });
  });

  describe('races', function () {
    it('approving a viewer who already left is NOT_FOUND', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      stage.forget('a');
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['camera']), 'NOT_FOUND');
      assert.deepEqual(stage.guests, []);
    });

    it('two hosts approving the same hand: the second is INVALID_STATE, one seat', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      const seat = stage.approve('a', ['camera']);
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['microphone']), 'INVALID_STATE');
      assert.deepEqual(stage.guests, [seat]);
      assert.deepEqual([...seat.sources], ['camera']);
    });

    it('approving a hand that expired is NOT_FOUND, before or after expire()', function () {
      const { stage, clock } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      clock.now += LIMITS.handTtlMs;
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['camera']), 'NOT_FOUND');
      stage.expire();
      refusedWithoutChange(stage, ['a'], () => stage.approve('a', ['camera']), 'NOT_FOUND');
      assert.deepEqual(stage.guests, []);
    });

    it('approve then accept is NOT_FOUND, accept then approve is INVALID_STATE', function () {
      {
        const { stage } = makeStage();
        stage.raiseHand(who('a'), '');
        sendInvite(stage, 'host', who('a'), ['screen']);
        stage.approve('a', ['camera']);
        throwsCode(() => stage.acceptInvite('a'), 'NOT_FOUND');
        assert.deepEqual([...(stage.seat('a')?.sources ?? [])], ['camera']);
      }
      {
        const { stage } = makeStage();
        stage.raiseHand(who('a'), '');
        sendInvite(stage, 'host', who('a'), ['screen']);
        stage.acceptInvite('a');
        throwsCode(() => stage.approve('a', ['camera']), 'INVALID_STATE');
        assert.deepEqual([...(stage.seat('a')?.sources ?? [])], ['screen']);
        assert.equal(stage.guests.length, 1);
      }
    });

    it('never seats more than maxGuests however many approvals and accepts arrive', function () {
      const maxGuests = 3;
      const { stage } = makeStage({ maxGuests, handTtlMs: 60_000, inviteTtlMs: 60_000 });
      const handIds = Array.from({ length: 6 }, (_, i) => `h${i}`);
      const inviteIds = Array.from({ length: 6 }, (_, i) => `i${i}`);
      for (const id of handIds) stage.raiseHand(who(id), '');
      for (const id of inviteIds) sendInvite(stage, 'host', who(id), ['camera']);

      let seated = 0;
      let refused = 0;
      for (let i = 0; i < 6; i++) {
        for (const attempt of [
          () => stage.approve(handIds[i] ?? '', ['microphone']),
          () => stage.acceptInvite(inviteIds[i] ?? ''),
        ]) {
          try {
            attempt();
            seated++;
          } catch (error) {
            assert.ok(error instanceof AppError);
            assert.equal(error.code, 'STAGE_FULL');
            refused++;
          }
          assert.ok(stage.guests.length <= maxGuests);
        }
      }
      assert.equal(seated, maxGuests);
      assert.equal(refused, 12 - maxGuests);
      assert.equal(stage.guests.length, maxGuests);
      assert.equal(stage.full, true);
      // Refused hands and invitations are still waiting.
      assert.equal(
        stage.hands.length + inviteIds.filter((id) => inviteOf(stage, id)).length,
        12 - maxGuests,
      );
    });
  });

  describe('seatDirectly and pending requests', function () {
    it('nobody ends up both seated and holding a live hand or invitation', function () {
      const { stage } = makeStage();
      stage.raiseHand(who('a'), 'hi');
      sendInvite(stage, 'host', who('a'), ['camera']);
      stage.seatDirectly('a', ['microphone']);
      assert.ok(stage.seat('a'));
      assert.equal(stage.hand('a'), undefined, 'a seated guest still has a raised hand');
      assert.equal(inviteOf(stage, 'a'), undefined, 'a seated guest still has an invitation');
    });
  });

  describe('snapshot and restore', function () {
    /** A stage with a bit of everything: live and lapsed hands, invitations, seats, a mute. */
    function busyStage() {
      const made = makeStage({ maxGuests: 3 });
      const { stage, clock } = made;
      stage.raiseHand(who('old'), 'lapses');
      clock.now += 100;
      stage.raiseHand(who('b'), 'second');
      stage.raiseHand(who('a'), 'first');
      sendInvite(stage, 'host', who('inv'), ['screen', 'microphone']);
      stage.seatDirectly('g1', ['camera', 'microphone']);
      stage.setMutedByHost('g1', 'camera', true);
      stage.setMutedByHost('g1', 'microphone', true);
      stage.seatDirectly('g2', ['microphone']);
      stage.unseat('g2');
      stage.seatDirectly('g3', ['screen']);
      clock.now = START + LIMITS.handTtlMs; // 'old' has lapsed, not yet expired
      return made;
    }
    const IDS = ['old', 'a', 'b', 'inv', 'g1', 'g2', 'g3', 'z'];
    const viaJson = (snapshot: StageSnapshot): StageSnapshot =>
      JSON.parse(JSON.stringify(snapshot)) as StageSnapshot;

    it('a restored stage is the same stage: what it shows, its snapshot, and what it does next', function () {
      const { stage, clock } = busyStage();
      const copy = Stage.restore(stage.limits, viaJson(stage.snapshot()), () => clock.now);
      assert.deepEqual(observe(copy, IDS), observe(stage, IDS));
      assert.deepEqual(copy.snapshot(), stage.snapshot());
      assert.equal(JSON.stringify(copy.snapshot()), JSON.stringify(stage.snapshot()));
      assert.deepEqual(
        copy.guests.map((seat) => [seat.id, [...seat.mutedByHost]]),
        stage.guests.map((seat) => [seat.id, [...seat.mutedByHost]]),
        'seat ids and the order of mutes survive',
      );
      // Lapsed entries are kept, so both report them the same way.
      assert.deepEqual(copy.expire(), stage.expire());
      // Seat ids go on from where they were: a new seat is told from every earlier one.
      const next = stage.seatDirectly('n', ['camera']);
      const nextInCopy = copy.seatDirectly('n', ['camera']);
      assert.equal(nextInCopy.id, next.id);
      assert.ok(
        next.id > Math.max(...copy.guests.filter((s) => s !== nextInCopy).map((s) => s.id)),
      );
      assert.deepEqual(copy.snapshot(), stage.snapshot());
    });

    it('an empty stage round-trips too', function () {
      const { stage } = makeStage();
      const copy = Stage.restore(stage.limits, viaJson(stage.snapshot()));
      assert.deepEqual(copy.snapshot(), {
        hands: [],
        invites: [],
        seats: [],
        nextSeatId: stage.snapshot().nextSeatId,
      });
      assert.equal(copy.nextExpiry(), undefined);
    });

    it('shares nothing: changing a snapshot or a restored copy leaves the original alone', function () {
      const { stage, clock } = busyStage();
      const before = JSON.stringify(stage.snapshot());
      const snapshot = stage.snapshot();
      snapshot.hands[0]!.message = 'changed';
      snapshot.invites[0]!.sources.push('camera');
      snapshot.seats[0]!.mutedByHost.length = 0;
      const copy = Stage.restore(stage.limits, stage.snapshot(), () => clock.now);
      copy.setMutedByHost('g1', 'camera', false);
      copy.lowerHand('a');
      sendInvite(copy, 'host', who('inv2'), ['camera']);
      copy.seat('g3')!.mutedByHost.add('screen');
      assert.equal(JSON.stringify(stage.snapshot()), before);
      const restoredFromEdited = Stage.restore(stage.limits, snapshot);
      snapshot.seats[0]!.sources.length = 0;
      assert.deepEqual([...restoredFromEdited.seat('g1')!.sources], ['microphone', 'camera']);
    });
  });

  describe('random operation sequences', function () {
    /** mulberry32: small, fast, good enough to drive a state machine deterministically. */
    function prng(seed: number): () => number {
      let state = seed >>> 0;
      return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }

    it('a copy restored from a snapshot at any step answers every next step exactly alike', function () {
      const random = prng(7);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
      const ids = Array.from({ length: 6 }, (_, i) => `p${i}`);
      const { stage, clock } = makeStage({ maxGuests: 2, handTtlMs: 700, inviteTtlMs: 400 });
      const asData = (value: unknown) =>
        JSON.stringify(value, (_key, v: unknown) =>
          v instanceof Set ? [...(v as Set<unknown>)] : v,
        );
      const run = (target: Stage, op: (s: Stage) => unknown): string => {
        try {
          return asData(op(target) ?? null);
        } catch (error) {
          assert.ok(error instanceof AppError, String(error));
          return `refused ${error.code}`;
        }
      };
      const outcomes = new Set<string>();
      for (let step = 0; step < 1500; step++) {
        const id = pick(ids);
        const candidate = {
          identity: id,
          name: id,
          role: random() < 0.85 ? 'audience' : 'host',
        } as const;
        const sources = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
          pick(STAGE_SOURCES),
        );
        const source = pick(STAGE_SOURCES);
        const muted = random() < 0.5;
        const ops: [string, (s: Stage) => unknown][] = [
          ['raiseHand', (s) => s.raiseHand(candidate, `m${step}`)],
          ['lowerHand', (s) => s.lowerHand(id)],
          ['approve', (s) => s.approve(id, sources)],
          ['invite', (s) => s.invite('host', candidate, sources)],
          ['acceptInvite', (s) => s.acceptInvite(id)],
          ['declineInvite', (s) => s.declineInvite(id)],
          ['seatDirectly', (s) => s.seatDirectly(id, sources)],
          ['unseat', (s) => s.unseat(id)],
          ['setMutedByHost', (s) => s.setMutedByHost(id, source, muted)],
          ['forget', (s) => s.forget(id)],
          ['expire', (s) => s.expire()],
        ];
        if (random() < 0.2) clock.now += Math.floor(random() * 300);
        const [name, op] = pick(ops);
        const twin = Stage.restore(
          stage.limits,
          JSON.parse(JSON.stringify(stage.snapshot())) as StageSnapshot,
          () => clock.now,
        );
        const outcome = run(stage, op);
        assert.equal(run(twin, op), outcome, `step ${step}: ${name}(${id})`);
        assert.deepEqual(twin.snapshot(), stage.snapshot(), `step ${step}: ${name}(${id}) state`);
        assert.deepEqual(observe(twin, ids), observe(stage, ids), `step ${step}: ${name}(${id})`);
        outcomes.add(`${name}:${outcome.startsWith('refused') ? outcome : 'ok'}`);
      }
      for (const expected of ['approve:ok', 'acceptInvite:ok', 'setMutedByHost:ok', 'expire:ok']) {
        assert.ok(outcomes.has(expected), `never saw ${expected}`);
      }
    });

    for (const seed of [1, 42, 20240607]) {
      it(`keeps its invariants over 2000 random steps (seed ${seed})`, function () {
        const random = prng(seed);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
        const ids = Array.from({ length: 8 }, (_, i) => `p${i}`);
        const maxGuests = 3;
        const { stage, clock } = makeStage({ maxGuests, handTtlMs: 1_000, inviteTtlMs: 600 });

        const role = (): Role => (random() < 0.85 ? 'audience' : pick(['host', 'guest'] as const));
        const sources = (): StageSource[] =>
          Array.from({ length: Math.floor(random() * 4) }, () => pick(STAGE_SOURCES));

        const ops: Record<string, (id: string) => unknown> = {
          raiseHand: (id) =>
            stage.raiseHand({ identity: id, name: id, role: role() }, `m${random()}`),
          lowerHand: (id) => stage.lowerHand(id),
          approve: (id) => stage.approve(id, sources()),
          deny: (id) => stage.deny(id),
          invite: (id) =>
            sendInvite(stage, 'host', { identity: id, name: id, role: role() }, sources()),
          acceptInvite: (id) => stage.acceptInvite(id),
          declineInvite: (id) => stage.declineInvite(id),
          // Guest tokens join without a pending hand or invitation; seating over pending ones is
          // covered by its own test. Kept rare so the full-stage paths still come up.
          seatDirectly: (id) =>
            stage.hand(id) || inviteOf(stage, id) ? undefined : stage.seatDirectly(id, sources()),
          unseat: (id) => stage.unseat(id),
          setMutedByHost: (id) => stage.setMutedByHost(id, pick(STAGE_SOURCES), random() < 0.5),
          forget: (id) => stage.forget(id),
          expire: () => stage.expire(),
          tick: () => (clock.now += Math.floor(random() * 150)),
        };
        const names = Object.keys(ops);
        const outcomes = new Map<string, number>();

        for (let step = 0; step < 2000; step++) {
          const name = pick(names);
          const id = pick(ids);
          const before = observe(stage, ids);
          let outcome = 'ok';
          try {
            ops[name]?.(id);
          } catch (error) {
            if (!(error instanceof AppError)) {
              throw new Error(
                `step ${step}: ${name}(${id}) threw a non-AppError: ${String(error)}`,
                { cause: error },
              );
            }
            outcome = error.code;
            assert.deepEqual(
              observe(stage, ids),
              before,
              `step ${step}: ${name}(${id}) threw ${error.code} but changed the stage`,
            );
          }
          outcomes.set(`${name}:${outcome}`, (outcomes.get(`${name}:${outcome}`) ?? 0) + 1);

          const where = `step ${step} after ${name}(${id})`;
          const guests = stage.guests;
          assert.ok(guests.length <= maxGuests, `${where}: ${guests.length} guests`);
          assert.equal(stage.full, guests.length >= maxGuests, where);
          for (const seat of guests) {
            assert.equal(
              stage.hand(seat.identity),
              undefined,
              `${where}: ${seat.identity} seated with a hand`,
            );
            assert.equal(stage.seat(seat.identity), seat, where);
            assert.ok(seat.sources.size > 0, where);
            for (const muted of seat.mutedByHost) assert.ok(seat.sources.has(muted), where);
          }
          const hands = stage.hands;
          for (let i = 1; i < hands.length; i++) {
            assert.ok(
              (hands[i - 1]?.raisedAt ?? 0) <= (hands[i]?.raisedAt ?? 0),
              `${where}: queue order`,
            );
          }
          for (const hand of hands) assert.ok(hand.expiresAt > clock.now, where);
          const next = stage.nextExpiry();
          for (const id2 of ids) {
            const pending = [stage.hand(id2)?.expiresAt, inviteOf(stage, id2)?.expiresAt];
            for (const at of pending)
              if (at !== undefined) assert.ok(next !== undefined && next <= at, where);
          }
        }

        // The walk should have exercised the interesting paths, not just refusals.
        for (const expected of [
          'approve:ok',
          'acceptInvite:ok',
          'approve:STAGE_FULL',
          'acceptInvite:STAGE_FULL',
        ]) {
          assert.ok((outcomes.get(expected) ?? 0) > 0, `never saw ${expected}`);
        }
      });
    }
  });
});
