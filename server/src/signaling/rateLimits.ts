import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config/config.js';

/**
 * Request and connection budgets for signaling: per socket and per client IP for requests, per
 * IP for new connections (joins). A refused request gets RATE_LIMITED and the socket stays usable.
 */
export class SignalingRateLimits {
  readonly #perSocket: RateLimiterMemory;
  readonly #perIp: RateLimiterMemory;
  readonly #connectionsPerIp: RateLimiterMemory;

  constructor(limits: Config['rateLimits']) {
    this.#perSocket = new RateLimiterMemory({
      keyPrefix: 'socket',
      points: limits.requestsPerSecondPerSocket,
      duration: 1,
    });
    this.#perIp = new RateLimiterMemory({
      keyPrefix: 'ip',
      points: limits.requestsPerSecondPerIp,
      duration: 1,
    });
    this.#connectionsPerIp = new RateLimiterMemory({
      keyPrefix: 'connect',
      points: limits.connectionsPerMinutePerIp,
      duration: 60,
    });
  }

  /** Takes one request from both budgets; false when either is spent. */
  async allowRequest(socketId: string, ip: string): Promise<boolean> {
    return (await take(this.#perSocket, socketId)) && (await take(this.#perIp, ip));
  }

  async allowConnection(ip: string): Promise<boolean> {
    return take(this.#connectionsPerIp, ip);
  }

  forgetSocket(socketId: string): void {
    void this.#perSocket.delete(socketId);
  }
}

async function take(limiter: RateLimiterMemory, key: string): Promise<boolean> {
  try {
    await limiter.consume(key);
    return true;
  } catch (error) {
    if (error instanceof RateLimiterRes) return false;
    throw error;
  }
}
