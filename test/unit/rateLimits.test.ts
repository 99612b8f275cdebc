import assert from 'node:assert/strict';
import { SignalingRateLimits } from '../../server/src/signaling/rateLimits.js';

// SignalingRateLimits over rate-limiter-flexible (RateLimiterMemory), in real time: a key's window
// opens at its first consume and lasts its period. Each test has limiters of its own, and every
// burst is taken in one tick, so it lies wholly in the window its first call opens: exact counts.

function limitsOf(perSocket: number, perIp: number, connections: number): SignalingRateLimits {
  return new SignalingRateLimits({
    requestsPerSecondPerSocket: perSocket,
    requestsPerSecondPerIp: perIp,
    connectionsPerMinutePerIp: connections,
  });
}

/** Takes one request per [socket, ip] pair, all in one tick; the answers in the same order. */
function burst(limits: SignalingRateLimits, requests: [string, string][]): Promise<boolean[]> {
  return Promise.all(requests.map(([socket, ip]) => limits.allowRequest(socket, ip)));
}

const times = <T>(n: number, value: T): T[] => Array<T>(n).fill(value);
const windowOver = () => new Promise((resolve) => setTimeout(resolve, 1100));

describe('signaling rate limits (rate-limiter-flexible, real time)', function () {
  it('exactly the per-socket budget passes in one burst; the socket has it all again in its next window', async function () {
    const limits = limitsOf(3, 1000, 1000);
    assert.deepEqual(await burst(limits, times(5, ['s', 'ip'])), [true, true, true, false, false]);
    await windowOver();
    assert.deepEqual(await burst(limits, times(4, ['s', 'ip'])), [true, true, true, false]);
  });

  it('a request needs both the socket and the IP budget', async function () {
    const limits = limitsOf(2, 3, 1000);
    assert.deepEqual(
      await burst(limits, [
        ['s1', 'ip'],
        ['s1', 'ip'],
        ['s1', 'ip'], // s1's own budget is spent
        ['s2', 'ip'], // the IP's third
        ['s2', 'ip'], // s2 has budget left, the IP has none
        ['s3', 'other'], // another IP is counted apart
      ]),
      [true, true, false, true, false, true],
    );
  });

  it('forgetSocket frees a socket’s budget (not its IP’s)', async function () {
    const limits = limitsOf(2, 3, 1000);
    assert.deepEqual(await burst(limits, times(3, ['s', 'ip'])), [true, true, false]);
    limits.forgetSocket('s');
    assert.deepEqual(await burst(limits, times(2, ['s', 'ip'])), [true, false], 'IP budget: 3');
  });

  it('connections per IP have their own budget, apart from requests', async function () {
    const limits = limitsOf(1, 1, 2);
    const connections = (ip: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => limits.allowConnection(ip)));
    assert.deepEqual(await connections('ip', 3), [true, true, false]);
    assert.deepEqual(await connections('other', 1), [true]);
    assert.deepEqual(await burst(limits, [['s', 'ip']]), [true], 'requests are not connections');
    // The next window, a minute later, is not waited for here: the clock is real time.
  });
});
