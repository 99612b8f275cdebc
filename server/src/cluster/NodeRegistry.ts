import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.js';

/** What a node tells the cluster about itself, refreshed every heartbeat. */
export interface NodeStatus {
  id: string;
  /** Where clients and other nodes reach it (signaling, REST, relay requests). */
  url: string;
  /** The address its media (browsers' WebRTC and other nodes' relays) reaches it at. */
  mediaAddress: string;
  workers: number;
  consumers: number;
  /** Consumers its workers should carry together (workers × MEDIA_WORKER_MAX_CONSUMERS). */
  consumerBudget: number;
  participants: number;
  participantBudget: number;
  rooms: number;
  /** One-minute load average over the number of cores (1 = every core busy). */
  cpu: number;
  draining: boolean;
  updatedAt: number;
}

const NODES_KEY = 'livestage:nodes';
const nodeKey = (id: string) => `livestage:node:${id}`;

/** How loaded a node is, 0 (idle) to 1 (at a budget); above 1 past it. */
export function loadOf(node: NodeStatus): number {
  return Math.max(
    node.consumers / Math.max(1, node.consumerBudget),
    node.participants / Math.max(1, node.participantBudget),
    node.cpu,
  );
}

export function hasRoom(node: NodeStatus): boolean {
  return (
    !node.draining &&
    node.consumers < node.consumerBudget &&
    node.participants < node.participantBudget
  );
}

interface NodeRegistryEvents {
  nodeLost: [id: string];
}

/**
 * Registers this node in Redis with its load (a key that expires 3 heartbeats after its last
 * refresh, so a dead node disappears on its own) and keeps the list of live nodes. A node that
 * was seen and is gone is reported once (`nodeLost`). Survives Redis restarts: the next
 * heartbeat registers again.
 */
export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  readonly #redis: Redis;
  readonly #self: () => NodeStatus;
  readonly #heartbeatMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #nodes = new Map<string, NodeStatus>();
  #beating: Promise<void> | undefined;
  /** Since when our heartbeats reach Redis without a failure (undefined: they fail now). */
  #healthySince: number | undefined;

  constructor(redis: Redis, self: () => NodeStatus, heartbeatMs: number, log: Logger) {
    super();
    this.#redis = redis;
    this.#self = self;
    this.#heartbeatMs = heartbeatMs;
    this.#log = log;
  }

  get ttlMs(): number {
    return this.#heartbeatMs * 3;
  }

  async start(): Promise<void> {
    await this.heartbeat();
    this.#timer = setInterval(() => void this.heartbeat(), this.#heartbeatMs);
    this.#timer.unref();
  }

  /** The live nodes as of the last heartbeat (this one included). */
  get nodes(): ReadonlyMap<string, NodeStatus> {
    return this.#nodes;
  }

  isLive(id: string): boolean {
    return this.#nodes.has(id);
  }

  /** The least-loaded live node with room to spare (this one if it is), or undefined. */
  leastLoaded(exclude?: string): NodeStatus | undefined {
    const candidates = [...this.#nodes.values()].filter((n) => n.id !== exclude && hasRoom(n));
    candidates.sort((a, b) => loadOf(a) - loadOf(b));
    return candidates[0];
  }

  heartbeat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  async #beat(): Promise<void> {
    const self = this.#self();
    try {
      await this.#redis
        .multi()
        .set(nodeKey(self.id), JSON.stringify(self), 'PX', this.ttlMs)
        .sadd(NODES_KEY, self.id)
        .exec();
      const ids = await this.#redis.smembers(NODES_KEY);
      const values = ids.length > 0 ? await this.#redis.mget(ids.map(nodeKey)) : [];
      const nodes = new Map<string, NodeStatus>();
      const gone: string[] = [];
      ids.forEach((id, i) => {
        const value = values[i];
        if (value) nodes.set(id, JSON.parse(value) as NodeStatus);
        else gone.push(id);
      });
      if (gone.length > 0) await this.#redis.srem(NODES_KEY, ...gone);
      nodes.set(self.id, self);
      const previous = this.#nodes;
      const now = Date.now();
      this.#healthySince ??= now;
      // A node missing from Redis is dead only once Redis has been reachable for a whole expiry
      // period and the node did not register meanwhile: right after Redis comes back (keys
      // lost, or expired while it was down) every live node registers again within a heartbeat.
      const settled = now - this.#healthySince >= this.ttlMs;
      const lost: string[] = [];
      for (const [id, status] of previous) {
        if (nodes.has(id)) continue;
        if (settled && now - status.updatedAt >= this.ttlMs) lost.push(id);
        else nodes.set(id, status);
      }
      this.#nodes = nodes;
      for (const id of lost) {
        this.#log.warn('cluster node gone', { node: id });
        this.emit('nodeLost', id);
      }
    } catch (error) {
      // Redis away: keep the last known list; the next heartbeat registers again.
      this.#healthySince = undefined;
      if (this.#stopped) return;
      this.#log.warn('cluster heartbeat failed', { error: String(error) });
    }
  }

  #stopped = false;

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    const id = this.#self().id;
    await this.#redis
      .multi()
      .del(nodeKey(id))
      .srem(NODES_KEY, id)
      .exec()
      .catch(() => undefined);
  }
}
