import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { ErrorBody } from '@livestage/protocol';
import type { Config } from '../config/config.js';

/** A refusal that names the budget that is spent, so a client (and its operator) knows why. */
export type RateLimited = ErrorBody & { code: 'RATE_LIMITED' };

const refusal = (message: string): RateLimited => ({ code: 'RATE_LIMITED', message });

export const RATE_LIMITED = {
  socketRequests: refusal('too many requests on this connection; slow down'),
  ipRequests: refusal('too many requests from this address; slow down'),
  tokenConnections: refusal('too many connections with this token; retry later'),
  ipConnections: refusal('too many connections from this address; retry later'),
  failedConnections: refusal('too many refused tokens from this address; retry later'),
} as const;

/** The connection budget of a verified token: its identity in its room, however often re-minted. */
export interface TokenHolder {
  room: string;
  identity: string;
}

/** Where the budgets that must hold across a cluster are kept; none: this process's memory. */
export interface SharedLimits {
  /** The cluster's Redis (the node's own ioredis client; not closed here). */
  redis?: Redis;
}

/** Keys in Redis: `livestage:rl:<budget>:<key>`. */
const REDIS_KEY_PREFIX = 'livestage:rl:';
/**
 * A charge that Redis does not answer within this long is made in this node's memory instead,
 * and Redis is left alone for REDIS_SILENCE_BACKOFF_MS: a Redis that is slow or cut off behind a
 * connection that still looks open (no RST in a partition) must not hold up every connection and
 * request.
 */
const REDIS_TIMEOUT_MS = 500;
const REDIS_SILENCE_BACKOFF_MS = 5_000;

/** What a budget does: one point per call, rejecting with a RateLimiterRes once spent. */
interface Budget {
  consume(key: string): Promise<unknown>;
}

/** Makes one fixed-window budget of `points` per key every `durationSeconds`. */
type BudgetFactory = (budget: string, points: number, durationSeconds: number) => Budget;

const memoryLimiter = (budget: string, points: number, durationSeconds: number) =>
  new RateLimiterMemory({ keyPrefix: budget, points, duration: durationSeconds });

/** When this node's Redis last failed to answer in time; shared by the node's budgets. */
class RedisSilence {
  #until = 0;

  get ongoing(): boolean {
    return Date.now() < this.#until;
  }

  noticed(): void {
    this.#until = Date.now() + REDIS_SILENCE_BACKOFF_MS;
  }
}

/**
 * One budget for the whole cluster, counted in Redis. When Redis cannot count (not connected,
 * or silent, see REDIS_TIMEOUT_MS) the same budget is counted in this node's memory: an outage
 * loosens the limit to one budget per node for a while, and never refuses a client for it or
 * throws. Once a key's budget is spent, its refusals come from memory until its window ends
 * (`inMemoryBlockOnConsumed`): a client looping past its budget costs Redis nothing more.
 */
function sharedBudgets(redis: Redis): BudgetFactory {
  const silence = new RedisSilence();
  return (budget, points, durationSeconds) => {
    const store = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${REDIS_KEY_PREFIX}${budget}`,
      points,
      duration: durationSeconds,
      inMemoryBlockOnConsumed: points,
      rejectIfRedisNotReady: true,
    });
    const insurance = memoryLimiter(budget, points, durationSeconds);
    return {
      async consume(key) {
        if (silence.ongoing) return insurance.consume(key);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<typeof silence>((resolve) => {
          timer = setTimeout(() => resolve(silence), REDIS_TIMEOUT_MS);
        });
        try {
          const answer = await Promise.race([store.consume(key), timeout]);
          if (answer !== silence) return answer;
          silence.noticed();
        } catch (error) {
          if (error instanceof RateLimiterRes) throw error; // spent: a refusal, not an outage
        } finally {
          clearTimeout(timer);
        }
        return insurance.consume(key);
      },
    };
  };
}

/**
 * Signaling budgets. An audience can sit behind one address (campus or carrier NAT), so the
 * per-address budgets are high ceilings and the tight ones are per socket (requests), per token
 * (connections) and per address for refused tokens only (the abuse signal):
 * - a valid token is charged to its own budget first and to the address's ceiling only if that
 *   passes, so a token looping past its budget costs the address's shared ceiling nothing;
 * - a refused token is charged to the address's failed budget only; once that is spent, further
 *   refused tokens get RATE_LIMITED instead of UNAUTHORIZED, but valid tokens still connect: a
 *   stranger behind the same NAT spraying bad tokens cannot lock its audience out.
 * Each method answers the refusal, or undefined when every budget it charges had room.
 *
 * With `shared.redis`, every budget but the per-socket one (a socket lives on one node) is one
 * budget for the whole cluster, kept in Redis (see sharedBudgets). Without it, all live in memory.
 */
export class SignalingRateLimits {
  readonly #socketRequests: RateLimiterMemory;
  readonly #ipRequests: Budget;
  readonly #tokenConnections: Budget;
  readonly #ipConnections: Budget;
  readonly #failedConnections: Budget;

  constructor(limits: Config['rateLimits'], shared: SharedLimits = {}) {
    const createBudget: BudgetFactory = shared.redis ? sharedBudgets(shared.redis) : memoryLimiter;
    this.#socketRequests = memoryLimiter('socket', limits.requestsPerSecondPerSocket, 1);
    this.#ipRequests = createBudget('ip', limits.requestsPerSecondPerIp, 1);
    this.#tokenConnections = createBudget('connect-token', limits.connectionsPerMinutePerToken, 60);
    this.#ipConnections = createBudget('connect-ip', limits.connectionsPerMinutePerIp, 60);
    this.#failedConnections = createBudget(
      'connect-failed',
      limits.failedConnectionsPerMinutePerIp,
      60,
    );
  }

  /** One request: the socket's budget, then (only if that passes) its address's ceiling. */
  async chargeRequest(socketId: string, ip: string): Promise<RateLimited | undefined> {
    if (!(await take(this.#socketRequests, socketId))) return RATE_LIMITED.socketRequests;
    if (!(await take(this.#ipRequests, ip))) return RATE_LIMITED.ipRequests;
    return undefined;
  }

  /** A connection with a verified token: the token's budget, then the address's ceiling. */
  async chargeConnection(holder: TokenHolder, ip: string): Promise<RateLimited | undefined> {
    // Rooms and identities never contain '/' (grants and token schemas): the key is unambiguous.
    const tokenKey = `${holder.room}/${holder.identity}`;
    if (!(await take(this.#tokenConnections, tokenKey))) return RATE_LIMITED.tokenConnections;
    if (!(await take(this.#ipConnections, ip))) return RATE_LIMITED.ipConnections;
    return undefined;
  }

  /** A connection whose token was refused (missing, malformed, forged, expired). */
  async chargeRefusedToken(ip: string): Promise<RateLimited | undefined> {
    return (await take(this.#failedConnections, ip)) ? undefined : RATE_LIMITED.failedConnections;
  }

  forgetSocket(socketId: string): void {
    void this.#socketRequests.delete(socketId);
  }
}

async function take(limiter: Budget, key: string): Promise<boolean> {
  try {
    await limiter.consume(key);
    return true;
  } catch (error) {
    if (error instanceof RateLimiterRes) return false;
    throw error;
  }
}
