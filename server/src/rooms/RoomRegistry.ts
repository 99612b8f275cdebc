import { ClusterRoom } from '../cluster/ClusterRoom.js';
import type { ClusterNode } from '../cluster/ClusterNode.js';
import { RedisStageSync, type StageMessage } from '../cluster/RedisStageSync.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { AppError } from '../errors.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { Room } from './Room.js';
import { RoomEvents } from './RoomEvents.js';
import { RoomRouters } from './RoomRouters.js';

/** Creates rooms on first join (origin router on the least-loaded worker) and closes empty ones. */
export class RoomRegistry {
  readonly #rooms = new Map<string, Room>();
  readonly #pending = new Map<string, Promise<Room>>();
  readonly #emptyTimers = new Map<string, NodeJS.Timeout>();
  readonly #clusterRooms = new Map<Room, ClusterRoom>();
  /** Every room's lifecycle on this node, for observers (metrics, webhooks). */
  readonly events: RoomEvents;
  readonly #pool: WorkerPool;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #cluster: ClusterNode | undefined;
  #draining = false;

  constructor(pool: WorkerPool, config: Config, log: Logger, cluster?: ClusterNode) {
    this.#pool = pool;
    this.#config = config;
    this.#log = log;
    this.#cluster = cluster;
    this.events = new RoomEvents((error) =>
      log.error('a room observer failed', { error: String(error) }),
    );
    if (cluster) {
      cluster.registry.on('nodeLost', (id) => {
        for (const link of this.#clusterRooms.values()) link.nodeLost(id);
      });
      // Redis came back (perhaps without its data): this node's members are written again.
      let connectedBefore = false;
      cluster.redis.on('ready', () => {
        if (connectedBefore) for (const link of this.#clusterRooms.values()) link.republish();
        connectedBefore = true;
      });
    }
  }

  /** Participants connected to this node, every room's. */
  get localParticipants(): number {
    let count = 0;
    for (const room of this.#rooms.values()) {
      for (const participant of room.participants.values()) if (!participant.remote) count += 1;
    }
    return count;
  }

  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  /** Shutting down: no new rooms and no new joins; participants already in may resume. */
  get draining(): boolean {
    return this.#draining;
  }

  startDraining(): void {
    this.#draining = true;
  }

  /** Concurrent callers for the same new room share one creation. */
  async getOrCreate(name: string): Promise<Room> {
    if (this.#draining) throw new AppError('UNAVAILABLE', 'the server is shutting down');
    const existing = this.#rooms.get(name);
    if (existing && !existing.closed) {
      this.#cancelEmptyTimer(name);
      return existing;
    }
    let pending = this.#pending.get(name);
    if (!pending) {
      pending = this.#create(name).finally(() => this.#pending.delete(name));
      this.#pending.set(name, pending);
    }
    return pending;
  }

  /** For a room someone asked for but never entered: close it later unless somebody comes. */
  releaseIfEmpty(room: Room): void {
    if (!room.hasLocalParticipants) this.#scheduleClose(room);
  }

  closeAll(): void {
    for (const timer of this.#emptyTimers.values()) clearTimeout(timer);
    this.#emptyTimers.clear();
    for (const room of this.#rooms.values()) this.#closeRoom(room);
    this.#rooms.clear();
  }

  async #create(name: string): Promise<Room> {
    const log = this.#log.child({ roomId: name });
    // The room of these routers, once it exists (nothing can be lost before it has anyone).
    const roomOf = (routers: RoomRouters) => {
      const room = this.#rooms.get(name);
      return room?.routers === routers ? room : undefined;
    };
    const routers: RoomRouters = await RoomRouters.create({
      pool: this.#pool,
      maxConsumersPerWorker: this.#config.media.maxConsumersPerWorker,
      keyFrameRequestDelayMs: this.#config.media.keyFrameRequestDelayMs,
      log,
      onRouterLost: () => roomOf(routers)?.routersChanged(),
      onOriginUnrecoverable: (error) => {
        log.error('could not move the room off a dead worker; closing it', {
          error: String(error),
        });
        const room = roomOf(routers);
        if (room) this.#closeUnavailable(room);
      },
    });
    const cluster = this.#cluster;
    let stageSync: RedisStageSync | undefined;
    const room = new Room({
      stageSync: cluster
        ? (replica) =>
            (stageSync = new RedisStageSync(replica, {
              redis: cluster.redis,
              bus: cluster.bus,
              room: name,
              log,
            }))
        : undefined,
      events: this.events,
      name,
      routers,
      mediaConfig: this.#config.media,
      limits: this.#config.rooms,
      stageLimits: this.#config.stage,
      interaction: this.#config.interaction,
      liveness: this.#config.liveness,
      speakers: this.#config.speakers,
      log,
      onEmpty: (empty) => this.#scheduleClose(empty),
    });
    if (cluster && stageSync) {
      const sync = stageSync;
      const link = new ClusterRoom(room, {
        redis: cluster.redis,
        bus: cluster.bus,
        registry: cluster.registry,
        relay: cluster.relay,
        nodeId: cluster.id,
        nodeUrl: cluster.url,
        reconnectGraceMs: this.#config.rooms.reconnectGraceMs,
        log,
        onOtherMessage: (message) => {
          const body = message.body as { type?: string };
          if (body.type === 'stage') sync.onMessage(body as StageMessage);
        },
      });
      room.attachCluster(link);
      try {
        // Listening first, so that nothing committed between the reads below is missed.
        await link.start();
        await sync.load();
      } catch (error) {
        link.close();
        room.close();
        throw error;
      }
      this.#clusterRooms.set(room, link);
    }
    this.#rooms.set(name, room);
    this.events.tell('roomStarted', name);
    log.info('room created', { worker: routers.origin.media.index });
    return room;
  }

  /** No worker could take the room's origin: everyone is told, and the room closes. */
  #closeUnavailable(room: Room): void {
    for (const participant of room.participants.values()) {
      participant.disconnect({ code: 'UNAVAILABLE', message: 'media server lost' });
    }
    if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
    this.#closeRoom(room);
  }

  #closeRoom(room: Room): void {
    this.#clusterRooms.get(room)?.close();
    this.#clusterRooms.delete(room);
    const wasOpen = !room.closed;
    room.close();
    if (wasOpen) this.events.tell('roomFinished', room.name);
  }

  #scheduleClose(room: Room): void {
    this.#cancelEmptyTimer(room.name);
    const timer = setTimeout(() => {
      this.#emptyTimers.delete(room.name);
      if (room.hasLocalParticipants || this.#rooms.get(room.name) !== room) return;
      this.#rooms.delete(room.name);
      this.#closeRoom(room);
      this.#log.info('room closed (empty)', { roomId: room.name });
    }, this.#config.rooms.emptyGraceMs);
    timer.unref();
    this.#emptyTimers.set(room.name, timer);
  }

  #cancelEmptyTimer(name: string): void {
    const timer = this.#emptyTimers.get(name);
    if (timer) clearTimeout(timer);
    this.#emptyTimers.delete(name);
  }
}
