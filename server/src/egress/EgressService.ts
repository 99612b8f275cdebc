import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import type { Room } from '../rooms/Room.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { CompositeEgress, type EgressSettings } from './CompositeEgress.js';
import type { EgressInfo, EgressType } from './EgressInfo.js';
import { Snapshots, type SnapshotTaken } from './Snapshots.js';

/** What an egress tells its observers (webhooks, metrics). */
export interface EgressObserver {
  started?(info: EgressInfo): void;
  ended?(info: EgressInfo): void;
  restarted?(type: EgressType, reason: 'relayout' | 'crash'): void;
  snapshotTaken?(snapshot: SnapshotTaken): void;
}

export interface EgressServiceOptions {
  settings: EgressSettings;
  rooms: RoomRegistry;
  log: Logger;
  observers?: EgressObserver[];
}

/**
 * This node's egresses: HLS and recordings of rooms' stages (at most one of each type per
 * room, at most `maxEgresses` in all), and the snapshots. Stage changes reach the egresses
 * from the rooms' lifecycle events; a finished room ends its egresses.
 */
export class EgressService {
  readonly snapshots: Snapshots;
  readonly #options: EgressServiceOptions;
  readonly #egresses = new Map<string, CompositeEgress>();
  /** Egresses whose start was told: only those tell their end. */
  readonly #announced = new Set<string>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(options: EgressServiceOptions) {
    this.#options = options;
    const tell = (fn: (observer: EgressObserver) => void) => {
      for (const observer of options.observers ?? []) {
        try {
          fn(observer);
        } catch (error) {
          options.log.error('an egress observer failed', { error: String(error) });
        }
      }
    };
    this.#tell = tell;
    this.snapshots = new Snapshots({
      settings: options.settings,
      rooms: options.rooms,
      log: options.log,
      onTaken: (snapshot) => tell((observer) => observer.snapshotTaken?.(snapshot)),
    });
    const events = options.rooms.events;
    const changed = (room: string) => {
      for (const egress of this.#ofRoom(room)) egress.stageChanged();
    };
    const finished = (room: string) => {
      for (const egress of this.#ofRoom(room)) void egress.stop();
    };
    const stageEvents = [
      'trackPublished',
      'trackUnpublished',
      'stageJoined',
      'stageLeft',
      'participantLeft',
    ] as const;
    for (const event of stageEvents) events.on(event, changed);
    events.on('roomFinished', finished);
    this.#unsubscribe = () => {
      for (const event of stageEvents) events.off(event, changed);
      events.off('roomFinished', finished);
    };
  }

  readonly #tell: (fn: (observer: EgressObserver) => void) => void;

  /**
   * Starts an egress of `roomName`'s stage. NOT_FOUND: no such room open here; INVALID_STATE:
   * one of this type already runs for the room; UNAVAILABLE: this node runs maxEgresses.
   */
  async start(roomName: string, type: EgressType): Promise<EgressInfo> {
    if (this.#closed) throw new AppError('UNAVAILABLE', 'the server is shutting down');
    const room = this.#openRoom(roomName);
    if (this.#ofRoom(roomName).some((egress) => egress.type === type)) {
      throw new AppError('INVALID_STATE', `the room already has a ${type} egress`);
    }
    if (this.#egresses.size >= this.#options.settings.maxEgresses) {
      throw new AppError('UNAVAILABLE', 'this node runs as many egresses as it may');
    }
    const id = `EG_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const egress = new CompositeEgress({
      id,
      room,
      type,
      settings: this.#options.settings,
      log: this.#options.log.child({ roomId: roomName }),
      onRestart: (reason) => this.#tell((observer) => observer.restarted?.(type, reason)),
      onEnded: (info) => {
        this.#egresses.delete(id);
        if (this.#announced.delete(id)) this.#tell((observer) => observer.ended?.(info));
      },
    });
    this.#egresses.set(id, egress);
    try {
      await egress.start();
    } catch (error) {
      await egress.stop(`could not start: ${String(error)}`);
      throw error;
    }
    const info = egress.info();
    if (!egress.ended) {
      this.#announced.add(id);
      this.#tell((observer) => observer.started?.(info));
    }
    return info;
  }

  /** Stops an egress; resolves with its final info (a recording's file and duration). */
  async stop(roomName: string, id: string): Promise<EgressInfo> {
    this.#openRoom(roomName);
    const egress = this.#egresses.get(id);
    if (!egress || egress.info().room !== roomName)
      throw new AppError('NOT_FOUND', 'no such egress');
    return egress.stop();
  }

  /** The room's running egresses. */
  list(roomName: string): EgressInfo[] {
    this.#openRoom(roomName);
    return this.#ofRoom(roomName).map((egress) => egress.info());
  }

  /** ffmpeg pids of the running egresses and snapshots (tests check none is left). */
  get pids(): number[] {
    const egressPids = [...this.#egresses.values()].flatMap((egress) =>
      egress.pid === undefined ? [] : [egress.pid],
    );
    return [...egressPids, ...this.snapshots.pids];
  }

  /** The running egress's ffmpeg pid. */
  pidOf(id: string): number | undefined {
    return this.#egresses.get(id)?.pid;
  }

  /** Ends every egress (recordings finalised) and the snapshots. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe();
    await Promise.all([...this.#egresses.values()].map((egress) => egress.stop()));
    await this.snapshots.close();
  }

  #ofRoom(roomName: string): CompositeEgress[] {
    // Ending ones too: a new egress of the same type must not write while one finishes.
    return [...this.#egresses.values()].filter((egress) => egress.info().room === roomName);
  }

  #openRoom(name: string): Room {
    const room = this.#options.rooms.rooms.get(name);
    if (!room || room.closed) throw new AppError('NOT_FOUND', 'no such room');
    return room;
  }
}
