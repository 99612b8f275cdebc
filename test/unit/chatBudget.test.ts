import assert from 'node:assert/strict';
import { AppError } from '../../server/src/errors.js';
import { AudienceBudget } from '../../server/src/interaction/AudienceBudget.js';

const audience = (identity: string) => ({ identity, role: 'audience' as const });

/** How many of `count` messages from `sender` at time `now` pass. */
function passed(
  budget: AudienceBudget,
  sender: { identity: string; role: 'host' | 'guest' | 'audience' },
  count: number,
  now: number,
): number {
  let ok = 0;
  for (let i = 0; i < count; i += 1) {
    try {
      budget.charge(sender, now);
      ok += 1;
    } catch (error) {
      assert.ok(error instanceof AppError);
      assert.equal(error.code, 'RATE_LIMITED');
    }
  }
  return ok;
}

describe('AudienceBudget (flood shedding)', function () {
  it('lets at most the room budget of audience messages through per window', function () {
    const budget = new AudienceBudget({ roomBudget: 40, windowMs: 200, senderPerSecond: 5 });
    let total = 0;
    for (let i = 0; i < 100; i += 1) total += passed(budget, audience(`viewer${i}`), 5, 1_000);
    assert.equal(total, 40);
    // The next window has a fresh budget (fresh senders: the others spent their second).
    let next = 0;
    for (let i = 100; i < 200; i += 1) next += passed(budget, audience(`viewer${i}`), 1, 1_200);
    assert.equal(next, 40);
  });

  it('stops one sender at its own limit, leaving the budget to others', function () {
    const budget = new AudienceBudget({ roomBudget: 40, windowMs: 200, senderPerSecond: 5 });
    assert.equal(passed(budget, audience('loud'), 100, 0), 5);
    assert.equal(passed(budget, audience('loud'), 100, 500), 0, 'still the same second');
    assert.equal(passed(budget, audience('quiet'), 5, 500), 5);
    assert.equal(passed(budget, audience('loud'), 1, 1_000), 1, 'a new second');
  });

  it('always passes hosts and guests, and they use none of the audience budget', function () {
    const budget = new AudienceBudget({ roomBudget: 2, windowMs: 200, senderPerSecond: 5 });
    assert.equal(passed(budget, { identity: 'h', role: 'host' }, 1000, 0), 1000);
    assert.equal(passed(budget, { identity: 'g', role: 'guest' }, 1000, 0), 1000);
    assert.equal(passed(budget, audience('a'), 1, 0), 1);
    assert.equal(passed(budget, audience('b'), 1, 0), 1);
    assert.equal(passed(budget, audience('c'), 1, 0), 0);
    assert.equal(passed(budget, { identity: 'h', role: 'host' }, 10, 0), 10, 'over budget still');
  });

  it("a message refused by the room's budget does not use its sender's share", function () {
    const budget = new AudienceBudget({ roomBudget: 1, windowMs: 200, senderPerSecond: 2 });
    assert.equal(passed(budget, audience('a'), 1, 0), 1);
    assert.equal(passed(budget, audience('b'), 5, 0), 0);
    assert.equal(passed(budget, audience('b'), 5, 200), 1);
    assert.equal(passed(budget, audience('b'), 5, 400), 1, 'b had one left in its second');
    assert.equal(passed(budget, audience('b'), 5, 600), 0);
  });

  it('with stageSendersLimited (data): hosts and guests keep their own limit, not the room budget', function () {
    const budget = new AudienceBudget({
      roomBudget: 1,
      windowMs: 1_000,
      senderPerSecond: 3,
      stageSendersLimited: true,
      what: 'data messages',
    });
    assert.equal(passed(budget, audience('a'), 1, 0), 1);
    assert.equal(passed(budget, audience('b'), 1, 0), 0, 'the room budget is spent');
    assert.equal(passed(budget, { identity: 'h', role: 'host' }, 10, 0), 3);
    assert.equal(passed(budget, { identity: 'g', role: 'guest' }, 10, 0), 3);
    assert.throws(
      () => budget.charge({ identity: 'h', role: 'host' }, 0),
      /3 data messages per second/,
    );
  });
});
