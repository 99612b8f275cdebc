import assert from 'node:assert/strict';
import type { Speaker } from '@livestage/protocol';
import { levelFromDbov, speakersFrom } from '../../server/src/speakers/levels.js';
import { speakersChanged } from '../../server/src/speakers/speakerChanges.js';
import { SpeakerHold } from '../../server/src/speakers/SpeakerHold.js';
import { SpeakerReporter, type Clock } from '../../server/src/speakers/SpeakerReporter.js';

/** A clock that moves only when told to, running timers as it passes them. */
class ManualClock implements Clock {
  #now = 1_000_000;
  #timers = new Map<number, { at: number; run: () => void }>();
  #nextId = 1;

  now(): number {
    return this.#now;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + ms, run });
    return id;
  }

  clearTimeout(timer: unknown): void {
    this.#timers.delete(timer as number);
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const due = [...this.#timers]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].run();
    }
    this.#now = until;
  }
}

const speaker = (identity: string, level: number): Speaker => ({ identity, level });

describe('active speakers: level mapping', function () {
  it('is linear in dBov from -70 (0) to full scale (1), two decimals', function () {
    assert.equal(levelFromDbov(0), 1);
    assert.equal(levelFromDbov(-35), 0.5);
    assert.equal(levelFromDbov(-10), 0.86);
    assert.equal(levelFromDbov(-70), 0);
  });

  it('clamps to 0..1 and takes nonsense as silence', function () {
    assert.equal(levelFromDbov(-127), 0);
    assert.equal(levelFromDbov(5), 1);
    assert.equal(levelFromDbov(Number.NaN), 0);
  });

  it('lists speakers loudest first, one entry per identity, at most max', function () {
    const speakers = speakersFrom(
      [
        { identity: 'b', dBov: -40 },
        { identity: 'a', dBov: -10 },
        { identity: 'b', dBov: -20 }, // b's other microphone: its loudest counts
        { identity: 'c', dBov: -60 },
      ],
      2,
    );
    assert.deepEqual(speakers, [speaker('a', 0.86), speaker('b', 0.71)]);
  });

  it('orders equal loudness by identity, so that it is stable', function () {
    const volumes = [
      { identity: 'z', dBov: -30 },
      { identity: 'm', dBov: -30 },
    ];
    assert.deepEqual(
      speakersFrom(volumes, 10).map((s) => s.identity),
      ['m', 'z'],
    );
  });
});

describe('active speakers: change detection', function () {
  it('sees speakers starting, stopping and changing places', function () {
    const ab = [speaker('a', 0.8), speaker('b', 0.5)];
    assert.equal(speakersChanged(ab, [speaker('a', 0.8)]), true);
    assert.equal(speakersChanged([], [speaker('a', 0.8)]), true);
    assert.equal(speakersChanged(ab, [speaker('b', 0.5), speaker('a', 0.8)]), true);
    assert.equal(speakersChanged(ab, [speaker('a', 0.8), speaker('c', 0.5)]), true);
    assert.equal(speakersChanged([], []), false);
  });

  it('ignores small level moves and sees a step of 0.1 or more', function () {
    const before = [speaker('a', 0.5)];
    assert.equal(speakersChanged(before, [speaker('a', 0.55)]), false);
    assert.equal(speakersChanged(before, [speaker('a', 0.41)]), false);
    assert.equal(speakersChanged(before, [speaker('a', 0.4)]), true, '0.5 - 0.4 is a step');
    assert.equal(speakersChanged(before, [speaker('a', 0.61)]), true);
  });
});

describe('active speakers: hold', function () {
  it('keeps a speaker missing from one measurement until holdMs after it was heard', function () {
    const hold = new SpeakerHold(450, 10);
    assert.deepEqual(hold.measured([speaker('a', 0.5), speaker('b', 0.3)], 0), [
      speaker('a', 0.5),
      speaker('b', 0.3),
    ]);
    assert.deepEqual(hold.measured([speaker('b', 0.6)], 300), [
      speaker('b', 0.6),
      speaker('a', 0.5),
    ]);
    assert.equal(hold.nextLapse, 450);
    assert.deepEqual(hold.at(451), [speaker('b', 0.6)]);
    assert.deepEqual(hold.measured([], 751), []);
    assert.equal(hold.nextLapse, undefined);
  });
});

describe('active speakers: reporter', function () {
  function setUp(intervalMs = 300, holdMs = 750) {
    const clock = new ManualClock();
    const sent: { at: number; speakers: Speaker[] }[] = [];
    const reporter = new SpeakerReporter({
      intervalMs,
      holdMs,
      maxSpeakers: 10,
      clock,
      send: (speakers) => sent.push({ at: clock.now(), speakers }),
    });
    return {
      clock,
      sent,
      reporter,
      names: () => sent.map((s) => s.speakers.map((x) => x.identity)),
    };
  }

  it('sends a first change at once, then nothing while nothing changes', function () {
    const { clock, reporter, names } = setUp();
    reporter.update([speaker('a', 0.8)]);
    assert.deepEqual(names(), [['a']]);
    for (let i = 0; i < 5; i += 1) {
      clock.advance(300);
      reporter.update([speaker('a', 0.82)]);
    }
    assert.deepEqual(names(), [['a']], 'same speaker, same level: no message');
  });

  it('sends a noticeable level change', function () {
    const { clock, reporter, sent } = setUp();
    reporter.update([speaker('a', 0.8)]);
    clock.advance(300);
    reporter.update([speaker('a', 0.5)]);
    assert.deepEqual(
      sent.map((s) => s.speakers[0]!.level),
      [0.8, 0.5],
    );
  });

  it('never sends twice within the interval: an early change goes out when it is up, as it is by then', function () {
    const { clock, reporter, sent, names } = setUp();
    reporter.update([speaker('a', 0.8)]);
    clock.advance(50);
    reporter.update([speaker('b', 0.9), speaker('a', 0.8)]);
    clock.advance(50);
    reporter.update([speaker('c', 0.9), speaker('b', 0.8), speaker('a', 0.7)]);
    assert.deepEqual(names(), [['a']], 'held back');
    clock.advance(200);
    assert.deepEqual(names(), [['a'], ['c', 'b', 'a']], 'the latest state, once');
    assert.equal(sent[1]!.at - sent[0]!.at, 300);
    for (let i = 1; i < sent.length; i += 1) assert.ok(sent[i]!.at - sent[i - 1]!.at >= 300);
  });

  it('sends nothing when an early change went back to what was reported', function () {
    const { clock, reporter, names } = setUp();
    reporter.update([speaker('a', 0.8)]);
    clock.advance(100);
    reporter.update([speaker('a', 0.3)]);
    clock.advance(100);
    reporter.update([speaker('a', 0.8)]);
    clock.advance(200);
    reporter.update([speaker('a', 0.8)]);
    assert.deepEqual(names(), [['a']]);
  });

  it('bridges a missed measurement, and empties the list once the hold lapses in silence', function () {
    const { clock, reporter, sent, names } = setUp();
    reporter.update([speaker('a', 0.8)]);
    clock.advance(300);
    reporter.update([]); // one interval without a's packets
    clock.advance(300);
    reporter.update([speaker('a', 0.8)]);
    assert.deepEqual(names(), [['a']], 'no flicker');
    clock.advance(300);
    reporter.update([]); // mediasoup's 'silence': no measurements follow
    clock.advance(1_000);
    assert.deepEqual(names(), [['a'], []]);
    assert.equal(sent[1]!.at - sent[0]!.at, 600 + 751, 'empty once the hold (750 ms) lapsed');
    assert.deepEqual(reporter.reported, []);
  });

  it('drops a speaker whose microphone is gone at once, not when its hold lapses', function () {
    const { clock, reporter, sent, names } = setUp();
    reporter.update([speaker('a', 0.8), speaker('b', 0.6)]);
    clock.advance(300);
    reporter.forget('a');
    assert.deepEqual(names(), [['a', 'b'], ['b']]);
    assert.equal(sent[1]!.at - sent[0]!.at, 300, 'at once (the interval was up)');
    reporter.forget('nobody');
    clock.advance(100);
    reporter.forget('b'); // within the interval: sent when it is up
    clock.advance(200);
    assert.deepEqual(names(), [['a', 'b'], ['b'], []]);
    assert.equal(sent[2]!.at - sent[1]!.at, 300);
  });

  it('sends nothing after close', function () {
    const { clock, reporter, names } = setUp();
    reporter.update([speaker('a', 0.8)]);
    clock.advance(10);
    reporter.update([speaker('b', 0.8)]);
    reporter.close();
    clock.advance(1_000);
    reporter.update([speaker('c', 0.8)]);
    assert.deepEqual(names(), [['a']]);
  });
});
