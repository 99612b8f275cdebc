import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { StageSnapshot } from '../rooms/Stage.js';
import {
  commitsNothing,
  type StageChangeFn,
  type StageEffect,
  type StageReplica,
  type StageSync,
} from '../rooms/StageSync.js';
import { roomChannel, type RoomBus } from './RoomBus.js';

/** A committed stage transition, as it travels on the room's channel. */
export interface StageMessage {
  type: 'stage';
  id: string;
  version: number;
  snapshot: StageSnapshot;
  effects: StageEffect[];
}

interface StoredStage {
  version: number;
  snapshot: StageSnapshot;
}

export const stageKey = (room: string) => `livestage:room:${room}:stage`;

/** A room's stage outlives a quiet spell, not an abandoned room. */
const STAGE_TTL_MS = 24 * 3600_000;
/** Two nodes changing the stage at once: the loser reads again and retries, this many times. */
const MAX_ATTEMPTS = 20;
/** Our own commit should come back on the channel at once; if it got lost, apply it anyway. */
const ECHO_TIMEOUT_MS = 3_000;

/** Writes the new state only if nobody wrote since `version` was read; announces it atomically. */
const COMPARE_AND_SET = `
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = cjson.decode(current).version end
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('PUBLISH', KEYS[2], ARGV[3])
return 1`;

/**
 * The stage of a room that spans nodes: its one state lives in Redis. A node runs a transition
 * on the state it read and writes the result back only if nobody wrote meanwhile (compare-and-set
 * on a version, in a Lua script that also publishes the transition on the room's channel); else
 * it reads again and retries. Every node, the writer included, applies every committed
 * transition in the order Redis published them, each to its own participants. Two hosts on two
 * nodes approving the last seat at once: one write wins, the other's retry finds the stage full.
 */
export class RedisStageSync implements StageSync {
  readonly #replica: StageReplica;
  readonly #redis: Redis;
  readonly #bus: RoomBus;
  readonly #room: string;
  readonly #log: Logger;
  #appliedVersion = 0;
  readonly #waiting = new Map<string, () => void>();
  #closed = false;

  constructor(
    replica: StageReplica,
    deps: { redis: Redis; bus: RoomBus; room: string; log: Logger },
  ) {
    this.#replica = replica;
    this.#redis = deps.redis;
    this.#bus = deps.bus;
    this.#room = deps.room;
    this.#log = deps.log;
  }

  /** Takes the stage as the cluster has it (a room joining the cluster on this node). */
  async load(): Promise<void> {
    const stored = await this.#read();
    if (stored && stored.version > this.#appliedVersion) {
      this.#appliedVersion = stored.version;
      await this.#replica.applyCommitted(this.#replica.restore(stored.snapshot), []);
    }
  }

  async transact<T>(change: StageChangeFn<T>): Promise<T> {
    // A room closing on this node still commits (a leave must free its seat for the others);
    // it just does not wait to hear its own commit back.
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      // Redis without the key (a new room, or a restart that lost it): our mirror is the state.
      const stored = (await this.#read()) ?? {
        version: this.#appliedVersion,
        snapshot: this.#replica.stage.snapshot(),
      };
      const draft = this.#replica.restore(stored.snapshot);
      const { result, effects } = change(draft);
      if (commitsNothing(JSON.stringify(stored.snapshot), draft, effects)) return result;
      const message: StageMessage = {
        type: 'stage',
        id: randomUUID(),
        version: stored.version + 1,
        snapshot: draft.snapshot(),
        effects,
      };
      const applied = this.#echoOf(message);
      const written = (await this.#redis.eval(
        COMPARE_AND_SET,
        2,
        stageKey(this.#room),
        roomChannel(this.#room),
        stored.version,
        JSON.stringify({ version: message.version, snapshot: message.snapshot }),
        this.#bus.envelope(message),
        STAGE_TTL_MS,
      )) as number;
      if (written === 1) {
        if (!this.#closed) await applied.wait();
        else applied.cancel();
        return result;
      }
      applied.cancel();
    }
    throw new AppError('UNAVAILABLE', 'the stage is too busy; try again');
  }

  /** A committed transition from the room's channel (any node's, ours included). */
  onMessage(message: StageMessage): void {
    if (this.#closed) return;
    void this.#apply(message);
  }

  close(): void {
    this.#closed = true;
    for (const resolve of this.#waiting.values()) resolve();
    this.#waiting.clear();
  }

  async #apply(message: StageMessage): Promise<void> {
    if (message.version > this.#appliedVersion) {
      this.#appliedVersion = message.version;
      await this.#replica.applyCommitted(this.#replica.restore(message.snapshot), message.effects);
    }
    const resolve = this.#waiting.get(message.id);
    this.#waiting.delete(message.id);
    resolve?.();
  }

  #echoOf(message: StageMessage): { wait(): Promise<void>; cancel(): void } {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    this.#waiting.set(message.id, resolve);
    return {
      wait: async () => {
        const timer = setTimeout(() => {
          if (!this.#waiting.has(message.id)) return;
          this.#log.warn('stage commit not heard back from Redis; applying it here');
          void this.#apply(message);
        }, ECHO_TIMEOUT_MS);
        await done;
        clearTimeout(timer);
      },
      cancel: () => this.#waiting.delete(message.id),
    };
  }

  async #read(): Promise<StoredStage | undefined> {
    const raw = await this.#redis.get(stageKey(this.#room));
    return raw ? (JSON.parse(raw) as StoredStage) : undefined;
  }
}
