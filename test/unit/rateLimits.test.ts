import assert from 'node:assert/strict';
import type { Config } from '../../server/src/config/config.js';
import {
  RATE_LIMITED,
  SignalingRateLimits,
  type RateLimited,
  type TokenHolder,
} from '../../server/src/signaling/rateLimits.js';

// SignalingRateLimits over rate-limiter-flexible (RateLimiterMemory), in real time: a key's window
// opens at its first consume and lasts its period. Each test has limiters of its own, and every
// burst is taken in one tick, so it lies wholly in the window its first call opens: exact counts.

const ROOMY = 1000;

function limitsOf(budgets: Partial<Config['rateLimits']>): SignalingRateLimits {
  return new SignalingRateLimits({
    requestsPerSecondPerSocket: ROOMY,
    requestsPerSecondPerIp: ROOMY,
    connectionsPerMinutePerIp: ROOMY,
    failedConnectionsPerMinutePerIp: ROOMY,
    connectionsPerMinutePerToken: ROOMY,
    ...budgets,
  });
}

const OK = undefined;
type Verdict = RateLimited | undefined;

/** Takes one request per [socket, ip] pair, all in one tick; the answers in the same order. */
function requests(limits: SignalingRateLimits, pairs: [string, string][]): Promise<Verdict[]> {
  return Promise.all(pairs.map(([socket, ip]) => limits.chargeRequest(socket, ip)));
}

/** One connection per [identity, ip] pair in room 'r', all in one tick. */
function connections(limits: SignalingRateLimits, pairs: [string, string][]): Promise<Verdict[]> {
  return Promise.all(
    pairs.map(([identity, ip]) => limits.chargeConnection({ room: 'r', identity }, ip)),
  );
}

function refusedTokens(limits: SignalingRateLimits, ips: string[]): Promise<Verdict[]> {
  return Promise.all(ips.map((ip) => limits.chargeRefusedToken(ip)));
}

const times = <T>(n: number, value: T): T[] => Array<T>(n).fill(value);
const windowOver = () => new Promise((resolve) => setTimeout(resolve, 1100));

describe('signaling rate limits (rate-limiter-flexible, real time)', function () {
  it('every refusal is RATE_LIMITED and names its budget', function () {
    const messages = Object.values(RATE_LIMITED).map((refusal) => {
      assert.equal(refusal.code, 'RATE_LIMITED');
      return refusal.message;
    });
    assert.equal(new Set(messages).size, messages.length, 'five budgets, five messages');
  });

  describe('requests', function () {
    it('exactly the per-socket budget passes in one burst; the socket has it all again in its next window', async function () {
      const limits = limitsOf({ requestsPerSecondPerSocket: 3 });
      const spent = RATE_LIMITED.socketRequests;
      assert.deepEqual(await requests(limits, times(5, ['s', 'ip'])), [OK, OK, OK, spent, spent]);
      await windowOver();
      assert.deepEqual(await requests(limits, times(4, ['s', 'ip'])), [OK, OK, OK, spent]);
    });

    it('a request needs both the socket and the IP budget; a socket over its own costs the IP nothing', async function () {
      const limits = limitsOf({ requestsPerSecondPerSocket: 2, requestsPerSecondPerIp: 3 });
      assert.deepEqual(
        await requests(limits, [
          ['s1', 'ip'],
          ['s1', 'ip'],
          ['s1', 'ip'], // s1's own budget is spent (the IP's is not charged)
          ['s2', 'ip'], // the IP's third
          ['s2', 'ip'], // s2 has budget left, the IP has none
          ['s3', 'other'], // another IP is counted apart
        ]),
        [OK, OK, RATE_LIMITED.socketRequests, OK, RATE_LIMITED.ipRequests, OK],
      );
    });

    it('forgetSocket frees a socket’s budget (not its IP’s)', async function () {
      const limits = limitsOf({ requestsPerSecondPerSocket: 2, requestsPerSecondPerIp: 3 });
      assert.deepEqual(await requests(limits, times(3, ['s', 'ip'])), [
        OK,
        OK,
        RATE_LIMITED.socketRequests,
      ]);
      limits.forgetSocket('s');
      assert.deepEqual(
        await requests(limits, times(2, ['s', 'ip'])),
        [OK, RATE_LIMITED.ipRequests],
        'IP budget: 3',
      );
    });
  });

  describe('connections', function () {
    // The next one-minute window is not waited for here: the limiter's clock is real time.

    it('a token has its own budget, keyed by room and identity; other tokens of its IP are not touched', async function () {
      const limits = limitsOf({ connectionsPerMinutePerToken: 2 });
      const spent = RATE_LIMITED.tokenConnections;
      assert.deepEqual(await connections(limits, times(3, ['a', 'ip'])), [OK, OK, spent]);
      assert.deepEqual(await connections(limits, [['a', 'elsewhere']]), [spent], 'any address');
      assert.deepEqual(await connections(limits, [['b', 'ip']]), [OK]);
      const sameIdentityElsewhere: TokenHolder = { room: 'other', identity: 'a' };
      assert.equal(await limits.chargeConnection(sameIdentityElsewhere, 'ip'), OK, 'another room');
    });

    it('a token over its budget costs the IP ceiling nothing: a loop cannot spend a NAT’s share', async function () {
      const limits = limitsOf({ connectionsPerMinutePerToken: 2, connectionsPerMinutePerIp: 4 });
      const looped = await connections(limits, times(10, ['looper', 'nat']));
      assert.deepEqual(looped, [OK, OK, ...times(8, RATE_LIMITED.tokenConnections)]);
      // 2 of the ceiling's 4 are used: two more tokens fit, the third is refused by the ceiling.
      assert.deepEqual(
        await connections(limits, [
          ['v1', 'nat'],
          ['v2', 'nat'],
          ['v3', 'nat'],
          ['v4', 'other'],
        ]),
        [OK, OK, RATE_LIMITED.ipConnections, OK],
      );
    });

    it('refused tokens spend only the IP’s failed budget: valid tokens from that IP still connect', async function () {
      const limits = limitsOf({ failedConnectionsPerMinutePerIp: 2, connectionsPerMinutePerIp: 2 });
      const spent = RATE_LIMITED.failedConnections;
      assert.deepEqual(await refusedTokens(limits, times(5, 'nat')), [OK, OK, spent, spent, spent]);
      assert.deepEqual(await refusedTokens(limits, ['other']), [OK], 'another IP is apart');
      // Five refused tokens took nothing from the ceiling of 2.
      assert.deepEqual(
        await connections(limits, [
          ['a', 'nat'],
          ['b', 'nat'],
          ['c', 'nat'],
        ]),
        [OK, OK, RATE_LIMITED.ipConnections],
      );
      // And valid connections take nothing from the failed budget of 'other'.
      assert.deepEqual(await refusedTokens(limits, ['other']), [OK]);
    });

    it('connections and requests are separate budgets', async function () {
      const limits = limitsOf({
        connectionsPerMinutePerIp: 1,
        requestsPerSecondPerIp: 1,
        failedConnectionsPerMinutePerIp: 1,
      });
      assert.deepEqual(await connections(limits, [['a', 'ip']]), [OK]);
      assert.deepEqual(await requests(limits, [['s', 'ip']]), [OK], 'requests are not connections');
      assert.deepEqual(await refusedTokens(limits, ['ip']), [OK], 'nor failed connections');
    });
  });
});
