import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { Redis } from 'ioredis';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { NodeRegistry, type NodeStatus } from './NodeRegistry.js';
import { Relay } from './Relay.js';
import { RoomBus } from './RoomBus.js';

type ClusterConfig = NonNullable<Config['cluster']>;

export interface NodeLoad {
  participants: number;
  rooms: number;
  draining: boolean;
}

/**
 * This node's membership in the cluster: its Redis connections (one for commands, one for the
 * rooms' channels), its registration, and the relay of tracks to and from the other nodes.
 */
export class ClusterNode {
  readonly id = randomUUID();
  readonly redis: Redis;
  readonly subscriber: Redis;
  readonly registry: NodeRegistry;
  readonly bus: RoomBus;
  readonly relay: Relay;
  readonly #log: Logger;
  #url = '';

  private constructor(
    config: Config,
    cluster: ClusterConfig,
    pool: WorkerPool,
    load: () => NodeLoad,
    log: Logger,
  ) {
    this.#log = log.child({ node: this.id });
    const options = { maxRetriesPerRequest: 3, enableAutoPipelining: true };
    this.redis = new Redis(cluster.redisUrl, options);
    this.subscriber = new Redis(cluster.redisUrl, { maxRetriesPerRequest: null });
    for (const connection of [this.redis, this.subscriber]) {
      connection.on('error', (error: Error) =>
        this.#log.debug('redis connection error', { error: error.message }),
      );
    }
    this.bus = new RoomBus(this.redis, this.subscriber, this.id, this.#log);
    this.relay = new Relay(config, this.id, this.#log);
    this.registry = new NodeRegistry(
      this.redis,
      (): NodeStatus => {
        const now = load();
        const workers = pool.workers.length;
        const consumers = pool.workers.reduce((sum, w) => sum + w.consumers, 0);
        return {
          id: this.id,
          url: this.#url,
          mediaAddress: config.media.announcedIp ?? config.media.listenIp,
          workers,
          consumers,
          consumerBudget: workers * config.media.maxConsumersPerWorker,
          participants: now.participants,
          participantBudget: config.node.maxParticipants,
          rooms: now.rooms,
          cpu: os.loadavg()[0]! / os.availableParallelism(),
          draining: now.draining,
          updatedAt: Date.now(),
        };
      },
      cluster.heartbeatMs,
      this.#log,
    );
    this.registry.on('nodeLost', (id) => this.relay.nodeLost(id));
  }

  static create(
    config: Config,
    pool: WorkerPool,
    load: () => NodeLoad,
    log: Logger,
  ): ClusterNode | undefined {
    return config.cluster ? new ClusterNode(config, config.cluster, pool, load, log) : undefined;
  }

  get url(): string {
    return this.#url;
  }

  /** Registers once the node's URL is known (after the HTTP server listens). */
  async start(url: string): Promise<void> {
    this.#url = url;
    await this.registry.start();
    this.#log.info('joined the cluster', { url, nodes: this.registry.nodes.size });
  }

  /** Another node to send a client to (least loaded, with room to spare), if any. */
  betterNode(): string | undefined {
    return this.registry.leastLoaded(this.id)?.url;
  }

  async stop(): Promise<void> {
    await this.registry.stop();
    this.redis.disconnect();
    this.subscriber.disconnect();
  }
}
