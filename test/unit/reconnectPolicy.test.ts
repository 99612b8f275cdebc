import assert from 'node:assert/strict';
import {
  BackoffReconnectPolicy,
  runReconnectLoop,
  type ReconnectContext,
  type ReconnectLoop,
  type ReconnectOutcome,
  type ReconnectPolicy,
} from '../../client-sdk/src/ReconnectPolicy.js';
import { LiveStageError } from '../../client-sdk/src/errors.js';

const DEFAULT_DELAYS = [0, 300, 1000, 2000, 4000, 7000, 10000];

/** The delays a policy asks for on attempts 0..count-1, with no time passed. */
function delays(policy: ReconnectPolicy, count: number): (number | null)[] {
  return Array.from({ length: count }, (_, attempt) =>
    policy.nextDelayMs({ attempt, elapsedMs: 0 }),
  );
}

describe('BackoffReconnectPolicy', function () {
  it('without jitter follows the default steps, then repeats the last one', function () {
    const policy = new BackoffReconnectPolicy({ random: () => 0.5 });
    assert.deepEqual(delays(policy, 9), [...DEFAULT_DELAYS, 10000, 10000]);
  });

  it('follows custom steps', function () {
    const policy = new BackoffReconnectPolicy({ delaysMs: [50, 200], jitter: 0 });
    assert.deepEqual(delays(policy, 4), [50, 200, 200, 200]);
  });

  it('spreads each delay by at most ± the jitter fraction (default 30 %)', function () {
    const low = new BackoffReconnectPolicy({ random: () => 0 });
    const high = new BackoffReconnectPolicy({ random: () => 0.999999 });
    assert.deepEqual(delays(low, 7), [0, 210, 700, 1400, 2800, 4900, 7000]);
    assert.deepEqual(delays(high, 7), [0, 390, 1300, 2600, 5200, 9100, 13000]);
  });

  it('stays inside the jitter bounds for every random value, rounded to whole ms', function () {
    const jitter = 0.25;
    for (let i = 0; i <= 100; i += 1) {
      const r = Math.min(i / 100, 0.999999);
      const policy = new BackoffReconnectPolicy({
        delaysMs: [1000, 3000],
        jitter,
        random: () => r,
      });
      for (const [attempt, base] of [
        [0, 1000],
        [1, 3000],
      ] as const) {
        const delay = policy.nextDelayMs({ attempt, elapsedMs: 0 });
        assert.ok(delay !== null);
        assert.ok(Number.isInteger(delay), `${delay} is whole`);
        assert.ok(
          delay >= base * (1 - jitter) && delay <= base * (1 + jitter),
          `${delay} (r=${r})`,
        );
      }
    }
  });

  it('never waits a negative time, even with a jitter over 100 %', function () {
    const policy = new BackoffReconnectPolicy({ delaysMs: [100], jitter: 3, random: () => 0 });
    assert.equal(policy.nextDelayMs({ attempt: 0, elapsedMs: 0 }), 0);
  });

  it('gives up once maxElapsedMs has passed since the drop (default 60 s)', function () {
    const custom = new BackoffReconnectPolicy({ maxElapsedMs: 5000, jitter: 0 });
    assert.equal(custom.nextDelayMs({ attempt: 3, elapsedMs: 4999 }), 2000);
    assert.equal(custom.nextDelayMs({ attempt: 3, elapsedMs: 5000 }), null);
    assert.equal(custom.nextDelayMs({ attempt: 0, elapsedMs: 9000 }), null);

    const byDefault = new BackoffReconnectPolicy({ jitter: 0 });
    assert.equal(byDefault.nextDelayMs({ attempt: 10, elapsedMs: 59_999 }), 10000);
    assert.equal(byDefault.nextDelayMs({ attempt: 10, elapsedMs: 60_000 }), null);
  });
});

/** A fake clock: `sleep` moves time forward and records each wait; no real timer runs. */
function fakeTime() {
  const clock = { now: 1_000_000, slept: [] as number[] };
  return {
    clock,
    now: () => clock.now,
    sleep: async (ms: number) => {
      clock.slept.push(ms);
      clock.now += ms;
    },
  };
}

/** Attempts that fail with `errors` in turn (advancing the clock by `tookMs` each), then succeed. */
function scriptedAttempts(
  clock: { now: number },
  errors: unknown[],
  outcome: ReconnectOutcome = 'resumed',
  tookMs = 0,
) {
  const calls = { count: 0 };
  const attempt = async (): Promise<ReconnectOutcome> => {
    calls.count += 1;
    clock.now += tookMs;
    const error = errors[calls.count - 1];
    if (calls.count <= errors.length) throw error;
    return outcome;
  };
  return { attempt, calls };
}

/** Records what the loop told the policy, and answers with `answer`. */
function recordingPolicy(answer: (context: ReconnectContext) => number | null) {
  const seen: ReconnectContext[] = [];
  const policy: ReconnectPolicy = {
    nextDelayMs: (context) => {
      seen.push({ ...context });
      return answer(context);
    },
  };
  return { policy, seen };
}

function loop(overrides: Partial<ReconnectLoop> & Pick<ReconnectLoop, 'attempt'>): ReconnectLoop {
  return {
    policy: new BackoffReconnectPolicy({ jitter: 0 }),
    isFatal: () => false,
    isClosed: () => false,
    ...overrides,
  };
}

describe('runReconnectLoop', function () {
  it('retries failed attempts after the policy delays until one succeeds', async function () {
    const time = fakeTime();
    const failures = [new Error('a'), new Error('b'), new Error('c')];
    const { attempt, calls } = scriptedAttempts(time.clock, failures, 'rejoined');
    const result = await runReconnectLoop(loop({ attempt, sleep: time.sleep, now: time.now }));
    assert.deepEqual(result, { outcome: 'rejoined' });
    assert.equal(calls.count, 4);
    assert.deepEqual(time.clock.slept, [0, 300, 1000, 2000]);
  });

  it('tells the policy the attempt number and the time since the drop', async function () {
    const time = fakeTime();
    const { policy, seen } = recordingPolicy(({ attempt }) => 100 * (attempt + 1));
    const { attempt } = scriptedAttempts(time.clock, [1, 2, 3], 'resumed', 40);
    await runReconnectLoop(loop({ policy, attempt, sleep: time.sleep, now: time.now }));
    assert.deepEqual(seen, [
      { attempt: 0, elapsedMs: 0 },
      { attempt: 1, elapsedMs: 140 },
      { attempt: 2, elapsedMs: 140 + 240 },
      { attempt: 3, elapsedMs: 140 + 240 + 340 },
    ]);
  });

  it('gives up once the policy does, returning the last attempt error', async function () {
    const time = fakeTime();
    const errors = Array.from({ length: 50 }, (_, i) => new Error(`failure ${i}`));
    const { attempt, calls } = scriptedAttempts(time.clock, errors, 'resumed', 1000);
    const policy = new BackoffReconnectPolicy({ maxElapsedMs: 10_000, jitter: 0 });
    const result = await runReconnectLoop(
      loop({ policy, attempt, sleep: time.sleep, now: time.now }),
    );
    // Waits of 0, 300, 1000, 2000, 4000 ms and 1 s per attempt: 12.3 s after the 5th failure.
    assert.equal(calls.count, 5);
    assert.deepEqual(time.clock.slept, [0, 300, 1000, 2000, 4000]);
    assert.deepEqual(result, { error: errors[4] });
  });

  it('gives up before any attempt when the policy says so at once', async function () {
    const time = fakeTime();
    const { attempt, calls } = scriptedAttempts(time.clock, []);
    const result = await runReconnectLoop(
      loop({ policy: { nextDelayMs: () => null }, attempt, sleep: time.sleep, now: time.now }),
    );
    assert.equal(calls.count, 0);
    assert.deepEqual(time.clock.slept, []);
    assert.ok('error' in result && result.error instanceof Error);
  });

  it('stops at the first fatal error, without another wait or attempt', async function () {
    const time = fakeTime();
    const fatal = new LiveStageError('UNAUTHORIZED', 'token expired');
    const { attempt, calls } = scriptedAttempts(time.clock, [
      new LiveStageError('TIMEOUT', 'slow'),
      fatal,
      new LiveStageError('TIMEOUT', 'never reached'),
    ]);
    const result = await runReconnectLoop(
      loop({
        attempt,
        isFatal: (error) => error instanceof LiveStageError && error.code === 'UNAUTHORIZED',
        sleep: time.sleep,
        now: time.now,
      }),
    );
    assert.deepEqual(result, { error: fatal });
    assert.equal(calls.count, 2);
    assert.deepEqual(time.clock.slept, [0, 300]);
  });

  it('makes no attempt once the room was closed during the wait', async function () {
    const time = fakeTime();
    const state = { closed: false };
    const first = new Error('first');
    const { attempt, calls } = scriptedAttempts(time.clock, [first, first, first]);
    const sleep = async (ms: number) => {
      await time.sleep(ms);
      if (time.clock.slept.length === 2) state.closed = true; // closed during the second wait
    };
    const result = await runReconnectLoop(
      loop({ attempt, isClosed: () => state.closed, sleep, now: time.now }),
    );
    assert.equal(calls.count, 1);
    assert.deepEqual(result, { error: first });
  });

  it('never throws: a policy or a sleep that throws ends the loop with that error', async function () {
    const time = fakeTime();
    const broken = new Error('policy bug');
    const { attempt } = scriptedAttempts(time.clock, [new Error('x')]);
    const fromPolicy = await runReconnectLoop(
      loop({
        policy: {
          nextDelayMs: ({ attempt: n }) => {
            if (n === 1) throw broken;
            return 0;
          },
        },
        attempt,
        sleep: time.sleep,
        now: time.now,
      }),
    );
    assert.deepEqual(fromPolicy, { error: broken });

    const sleepFailure = new Error('timer gone');
    const fromSleep = await runReconnectLoop(
      loop({
        attempt,
        sleep: () => Promise.reject(sleepFailure),
        now: time.now,
      }),
    );
    assert.deepEqual(fromSleep, { error: sleepFailure });
  });
});
