import type { types } from 'mediasoup';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { AppError } from '../errors.js';
import { MEDIA_CODECS } from '../media/codecs.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { Room } from './Room.js';

/** How long one move of a room whose worker died waits for a live worker. */
const WORKER_WAIT_MS = 15_000;
/**
 * A move can fail when the target dies too (every worker killed at once: the next one picked may
 * already be dead without Node knowing yet); it is tried again on another, this many times.
 */
const MAX_MOVE_ATTEMPTS = 5;
const MOVE_RETRY_DELAY_MS = 100;

/** Creates rooms on first join (one router on the least-loaded worker) and closes empty ones. */
export class RoomRegistry {
  readonly #rooms = new Map<string, Room>();
  readonly #pending = new Map<string, Promise<Room>>();
  readonly #emptyTimers = new Map<string, NodeJS.Timeout>();
  readonly #pool: WorkerPool;
  readonly #config: Config;
  readonly #log: Logger;
  #draining = false;

  constructor(pool: WorkerPool, config: Config, log: Logger) {
    this.#pool = pool;
    this.#config = config;
    this.#log = log;
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
    if (room.participants.size === 0) this.#scheduleClose(room);
  }

  closeAll(): void {
    for (const timer of this.#emptyTimers.values()) clearTimeout(timer);
    this.#emptyTimers.clear();
    for (const room of this.#rooms.values()) room.close();
    this.#rooms.clear();
  }

  async #create(name: string): Promise<Room> {
    const media = this.#pool.leastLoaded();
    const router = await media.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    const log = this.#log.child({ roomId: name });
    const room = new Room({
      name,
      router,
      media,
      mediaConfig: this.#config.media,
      limits: this.#config.rooms,
      stageLimits: this.#config.stage,
      liveness: this.#config.liveness,
      log,
      onEmpty: (empty) => this.#scheduleClose(empty),
    });
    this.#watchRouter(room, router);
    this.#rooms.set(name, room);
    log.info('room created', { worker: media.index });
    return room;
  }

  /** A router closed on purpose closes its room; one lost with its worker moves the room. */
  #watchRouter(room: Room, router: types.Router): void {
    let lostWithWorker = false;
    router.once('workerclose', () => {
      lostWithWorker = true;
      room.routerLost();
      void this.#moveRoom(room);
    });
    router.observer.once('close', () => {
      if (lostWithWorker) return;
      if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
      room.close();
    });
  }

  /**
   * Puts a room whose worker died on a live one. Only the router switch happens here; each
   * participant's new transports are made on its own queue (Room.moveTo), so someone leaving
   * meanwhile cannot fail the move. If the new worker dies as well, its router's 'workerclose'
   * starts another move.
   */
  async #moveRoom(room: Room): Promise<void> {
    const log = this.#log.child({ roomId: room.name });
    const started = Date.now();
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_MOVE_ATTEMPTS; attempt += 1) {
      if (room.closed) return;
      try {
        const media = await this.#pool.nextAvailable(WORKER_WAIT_MS);
        const router = await media.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
        if (room.closed) {
          router.close();
          return;
        }
        if (router.closed) throw new Error('the target worker died during the move');
        this.#watchRouter(room, router);
        room.moveTo(router, media);
        log.info('room moved to a healthy worker', {
          worker: media.index,
          attempt,
          ms: Date.now() - started,
        });
        return;
      } catch (error) {
        lastError = error;
        log.warn('moving the room failed; trying another worker', {
          attempt,
          error: String(error),
        });
        await new Promise((resolve) => setTimeout(resolve, MOVE_RETRY_DELAY_MS * attempt));
      }
    }
    log.error('could not move the room off a dead worker; closing it', {
      error: String(lastError),
    });
    for (const participant of room.participants.values()) {
      participant.disconnect({ code: 'UNAVAILABLE', message: 'media server lost' });
    }
    if (this.#rooms.get(room.name) === room) this.#rooms.delete(room.name);
    room.close();
  }

  #scheduleClose(room: Room): void {
    this.#cancelEmptyTimer(room.name);
    const timer = setTimeout(() => {
      this.#emptyTimers.delete(room.name);
      if (room.participants.size > 0 || this.#rooms.get(room.name) !== room) return;
      this.#rooms.delete(room.name);
      room.close();
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
