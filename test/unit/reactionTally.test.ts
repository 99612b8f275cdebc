import assert from 'node:assert/strict';
import { ReactionTally } from '../../server/src/interaction/ReactionTally.js';

describe('ReactionTally (reactions as counts)', function () {
  it('counts by emoji and starts afresh after take', function () {
    const tally = new ReactionTally();
    for (let i = 0; i < 10_000; i += 1) tally.add('❤️');
    tally.add('👏');
    assert.deepEqual(tally.take(), { '❤️': 10_000, '👏': 1 });
    assert.equal(tally.take(), undefined, 'nothing since');
  });

  it('has nothing to say when nothing arrived', function () {
    assert.equal(new ReactionTally().take(), undefined);
  });

  it('sums counts heard from other nodes, ignoring what is not a reaction', function () {
    const tally = new ReactionTally();
    tally.add('🔥', 2);
    tally.addAll({ '🔥': 3, '🎉': 1 });
    tally.addAll({ nope: 5, '👍': -1, '😂': 1.5 } as never);
    assert.deepEqual(tally.take(), { '🔥': 5, '🎉': 1 });
  });
});
