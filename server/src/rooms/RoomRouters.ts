import type { types } from 'mediasoup';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { MEDIA_CODECS } from '../media/codecs.js';
import { RouterLink, type Pipe } from '../media/RouterLink.js';
import type { MediaWorker, WorkerPool } from '../media/WorkerPool.js';

/** One router of a room and the worker it lives on. */
export interface RoomRouter {
  readonly router: types.Router;
  readonly media: MediaWorker;
}

interface Edge extends RoomRouter {
  /** The pipe transports from the current origin; made when the first track is piped here. */
  link: Promise<RouterLink> | undefined;
  /** Tracks piped in, by producer id (the pipe producer keeps the producer's id). */
  readonly pipes: Map<string, PipedTrack>;
}

interface PipedTrack {
  readonly pipe: Promise<Pipe>;
  /** Consumers on the edge that use it; at 0 it is unpiped after PIPE_IDLE_MS. */
  users: number;
  idleTimer: NodeJS.Timeout | undefined;
}

export interface RoomRoutersOptions {
  pool: WorkerPool;
  /** Consumers a worker should carry, all rooms together (MEDIA_WORKER_MAX_CONSUMERS). */
  maxConsumersPerWorker: number;
  keyFrameRequestDelayMs: number;
  log: Logger;
  /**
   * A router of the room died with its worker and the room has routers again: whoever had
   * transports on the dead one needs new ones.
   */
  onRouterLost(): void;
  /** The origin died and no worker could take it over: the room cannot go on. */
  onOriginUnrecoverable(error: unknown): void;
}

/** A track nobody on an edge watches any more stays piped this long (a viewer may come back). */
const PIPE_IDLE_MS = 3_000;
const WORKER_WAIT_MS = 15_000;
/** A move can fail when its target dies too; it is tried again on another worker. */
const MAX_MOVE_ATTEMPTS = 5;
const MOVE_RETRY_DELAY_MS = 100;

/**
 * The routers of one room, at most one per worker (mediasoup 3.12 cannot pipe between two
 * routers of one worker). Publishers send to the origin; viewers are placed on the least-loaded
 * worker under the consumer budget, and a track is piped from the origin to an edge router while
 * a consumer there uses it. When the origin's worker dies, a live edge becomes the origin (its
 * viewers keep their transports) or a new router is made; when an edge's worker dies, only its
 * viewers need new transports.
 */
export class RoomRouters {
  readonly #options: RoomRoutersOptions;
  #origin: RoomRouter;
  readonly #edges = new Map<MediaWorker, Edge>();
  readonly #pendingEdges = new Map<MediaWorker, Promise<Edge>>();
  /** Set while the origin's worker is dead and a new origin is being found. */
  #moving: Deferred | undefined;
  #closed = false;

  private constructor(origin: RoomRouter, options: RoomRoutersOptions) {
    this.#origin = origin;
    this.#options = options;
    this.#watch(origin);
  }

  /** A room's first router: the origin, on the least-loaded worker. */
  static async create(options: RoomRoutersOptions): Promise<RoomRouters> {
    const media = options.pool.leastLoaded();
    const router = await media.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    return new RoomRouters({ router, media }, options);
  }

  /** Where publishers are; closed for a moment while a dead origin is being replaced. */
  get origin(): RoomRouter {
    return this.#origin;
  }

  get all(): RoomRouter[] {
    return [this.#origin, ...this.#edges.values()];
  }

  byRouterId(routerId: string): RoomRouter | undefined {
    return this.all.find((r) => r.router.id === routerId && !r.router.closed);
  }

  /** The origin once it is alive: waits for a move under way. */
  async liveOrigin(): Promise<RoomRouter> {
    while (this.#origin.router.closed) {
      if (this.#closed || !this.#moving) throw new AppError('UNAVAILABLE', 'media server lost');
      await this.#moving.promise;
    }
    return this.#origin;
  }

  /**
   * The router for a new viewer's receiving transport: the least-loaded live worker still under
   * the consumer budget (the origin's on a tie, as it needs no pipe), or the least loaded of all
   * when every worker is past it. `expectedConsumers` is held against the chosen worker until
   * `release` is called (its subscriptions are made by then), so that a storm of joins spreads.
   */
  async placeViewer(expectedConsumers: number): Promise<{ place: RoomRouter; release(): void }> {
    const origin = await this.liveOrigin();
    const live = this.#options.pool.workers.filter((w) => !w.worker.closed && !w.worker.died);
    const load = (w: MediaWorker) => w.consumers + w.reservedConsumers;
    const underBudget = live.filter((w) => load(w) < this.#options.maxConsumersPerWorker);
    const candidates = (underBudget.length > 0 ? underBudget : live).sort(
      (a, b) => load(a) - load(b) || Number(b === origin.media) - Number(a === origin.media),
    );
    const media = candidates[0] ?? origin.media;
    media.reservedConsumers += expectedConsumers;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      media.reservedConsumers -= expectedConsumers;
    };
    try {
      const place = media === origin.media ? origin : await this.#edgeOn(media);
      return { place, release };
    } catch (error) {
      release();
      if (this.#closed) throw error;
      // That worker died meanwhile: fall back to the origin.
      this.#options.log.warn('could not open a router for viewers; using the origin', {
        worker: media.index,
        error: String(error),
      });
      return { place: await this.liveOrigin(), release: () => undefined };
    }
  }

  /**
   * Makes `producer` (on the origin) consumable on `router`, piping it there if needed. Returns
   * the release to call when the consumer made with it closes.
   */
  async acquire(router: types.Router, producer: types.Producer): Promise<() => void> {
    if (router === this.#origin.router) return () => undefined;
    const edge = [...this.#edges.values()].find((e) => e.router === router);
    if (!edge || router.closed) throw new AppError('NOT_FOUND', 'router gone');
    const piped = edge.pipes.get(producer.id) ?? this.#startPipe(edge, producer);
    piped.users += 1;
    clearTimeout(piped.idleTimer);
    piped.idleTimer = undefined;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#unuse(edge, producer.id, piped);
    };
    try {
      const { pipeProducer } = await piped.pipe;
      if (pipeProducer.closed) throw new AppError('NOT_FOUND', 'track gone');
    } catch (error) {
      release();
      throw error;
    }
    return release;
  }

  /** How many tracks are piped into each edge (for tests and diagnostics). */
  pipedTracks(): Map<number, string[]> {
    return new Map([...this.#edges.values()].map((e) => [e.media.index, [...e.pipes.keys()]]));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#moving?.reject(new AppError('UNAVAILABLE', 'media server lost'));
    this.#moving = undefined;
    for (const edge of this.#edges.values()) {
      for (const piped of edge.pipes.values()) clearTimeout(piped.idleTimer);
      edge.router.close();
    }
    this.#edges.clear();
    this.#origin.router.close();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #startPipe(edge: Edge, producer: types.Producer): PipedTrack {
    const pipe = this.#linkOf(edge).then((link) =>
      link.pipe(producer, this.#options.keyFrameRequestDelayMs),
    );
    const piped: PipedTrack = { pipe, users: 0, idleTimer: undefined };
    edge.pipes.set(producer.id, piped);
    const forget = () => {
      clearTimeout(piped.idleTimer);
      if (edge.pipes.get(producer.id) === piped) edge.pipes.delete(producer.id);
    };
    pipe.then(({ pipeProducer }) => pipeProducer.observer.once('close', forget), forget);
    return piped;
  }

  #unuse(edge: Edge, producerId: string, piped: PipedTrack): void {
    piped.users -= 1;
    if (piped.users > 0) return;
    clearTimeout(piped.idleTimer);
    piped.idleTimer = setTimeout(() => {
      if (piped.users > 0) return;
      if (edge.pipes.get(producerId) === piped) edge.pipes.delete(producerId);
      piped.pipe.then(
        ({ pipeConsumer }) => pipeConsumer.close(),
        () => undefined,
      );
    }, PIPE_IDLE_MS);
    piped.idleTimer.unref();
  }

  /** The edge's link to the current origin, opened on first use and again after a failure. */
  #linkOf(edge: Edge): Promise<RouterLink> {
    const current = edge.link;
    if (current) return current;
    const link = RouterLink.open(this.#origin.router, edge.router);
    edge.link = link;
    const forget = () => {
      if (edge.link === link) edge.link = undefined;
    };
    link.then((opened) => {
      if (opened.closed) forget();
      else opened.onClose(forget);
    }, forget);
    return link;
  }

  /** The room's router on `media`, made on first use (one per worker). */
  async #edgeOn(media: MediaWorker): Promise<Edge> {
    const existing = this.#edges.get(media);
    if (existing && !existing.router.closed) return existing;
    let pending = this.#pendingEdges.get(media);
    if (!pending) {
      pending = this.#openEdge(media).finally(() => this.#pendingEdges.delete(media));
      this.#pendingEdges.set(media, pending);
    }
    return pending;
  }

  async #openEdge(media: MediaWorker): Promise<Edge> {
    const router = await media.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    if (this.#closed) {
      router.close();
      throw new AppError('INVALID_STATE', 'room closed');
    }
    if (router.closed) throw new Error('the worker died while a router was made');
    const edge: Edge = { router, media, link: undefined, pipes: new Map() };
    this.#edges.set(media, edge);
    this.#watch(edge);
    this.#options.log.info('room spreads to another worker', { worker: media.index });
    return edge;
  }

  #watch(place: RoomRouter): void {
    place.router.once('workerclose', () => {
      if (this.#closed) return;
      if (place === this.#origin) {
        this.#originLost();
        return;
      }
      if (this.#edges.get(place.media) === place) this.#edges.delete(place.media);
      this.#options.log.warn('a worker holding part of the audience died', {
        worker: place.media.index,
      });
      this.#options.onRouterLost();
    });
  }

  #originLost(): void {
    if (this.#moving) return;
    this.#moving = deferred();
    // Rejected if the room closes instead; only those waiting for it care.
    this.#moving.promise.catch(() => undefined);
    void this.#moveOrigin();
  }

  /** A live edge becomes the origin (its viewers keep their transports), or a new router does. */
  async #moveOrigin(): Promise<void> {
    const log = this.#options.log;
    const started = Date.now();
    let lastError: unknown;
    for (let attempt = 1; attempt <= MAX_MOVE_ATTEMPTS; attempt += 1) {
      if (this.#closed) return;
      // Every link led from the dead origin; the pipes through them are gone with it.
      for (const edge of this.#edges.values()) edge.link = undefined;
      try {
        const next = await this.#nextOrigin();
        if (this.#closed) return;
        if (next.router.closed) throw new Error('the new origin died during the move');
        this.#edges.delete(next.media);
        this.#origin = next;
        const moving = this.#moving;
        this.#moving = undefined;
        moving?.resolve();
        log.info('room origin moved to a healthy worker', {
          worker: next.media.index,
          attempt,
          ms: Date.now() - started,
        });
        this.#options.onRouterLost();
        return;
      } catch (error) {
        lastError = error;
        log.warn('moving the room origin failed; trying another worker', {
          attempt,
          error: String(error),
        });
        await new Promise((resolve) => setTimeout(resolve, MOVE_RETRY_DELAY_MS * attempt));
      }
    }
    this.#moving?.reject(new AppError('UNAVAILABLE', 'media server lost'));
    this.#moving = undefined;
    this.#options.onOriginUnrecoverable(lastError);
  }

  async #nextOrigin(): Promise<RoomRouter> {
    const liveEdges = [...this.#edges.values()].filter(
      (e) => !e.router.closed && !e.media.worker.closed,
    );
    const load = (w: MediaWorker) => w.consumers + w.reservedConsumers;
    const promoted = liveEdges.sort((a, b) => load(a.media) - load(b.media))[0];
    if (promoted) return promoted;
    const media = await this.#options.pool.nextAvailable(WORKER_WAIT_MS);
    const pending = this.#pendingEdges.get(media);
    if (pending) return pending;
    const router = await media.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    if (this.#closed) router.close();
    const next = { router, media };
    this.#watch(next);
    return next;
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

/** Promise.withResolvers, which Node 20 lacks. */
function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  return { promise, resolve, reject };
}
