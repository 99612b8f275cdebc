import type { QualityReport } from '@livestage/protocol';
import type { Logger } from '../logging/logger.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { collectRoomQuality } from './collect.js';

export type QualityListener = (report: QualityReport) => void;

/**
 * Every `intervalMs`, a quality report per room of this node: kept as the room's latest (REST),
 * sent to the room's hosts on this node (SDK `qualityReport`) and to listeners (webhooks). A
 * round that is still collecting when the next is due is not overlapped: that one is skipped.
 */
export class QualityReporter {
  readonly #rooms: RoomRegistry;
  readonly #intervalMs: number;
  readonly #log: Logger;
  readonly #latest = new Map<string, QualityReport>();
  readonly #listeners = new Set<QualityListener>();
  #timer: NodeJS.Timeout | undefined;
  #collecting = false;

  constructor(rooms: RoomRegistry, intervalMs: number, log: Logger) {
    this.#rooms = rooms;
    this.#intervalMs = intervalMs;
    this.#log = log;
    rooms.events.on('roomFinished', (room) => this.#latest.delete(room));
  }

  /** 0 turns reports off. */
  start(): void {
    if (this.#intervalMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => void this.collectNow(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  onReport(listener: QualityListener): void {
    this.#listeners.add(listener);
  }

  latest(room: string): QualityReport | undefined {
    return this.#latest.get(room);
  }

  /** One round over every room (the timer's; tests and benchmarks may call it too). */
  async collectNow(): Promise<void> {
    if (this.#collecting) return;
    this.#collecting = true;
    try {
      for (const room of [...this.#rooms.rooms.values()]) {
        if (room.closed || !room.hasLocalParticipants) continue;
        const report = await collectRoomQuality(room, room.viewerCount);
        if (room.closed) continue;
        this.#latest.set(room.name, report);
        for (const participant of room.participants.values()) {
          if (!participant.remote && participant.joined && participant.role === 'host') {
            participant.emit('qualityReport', report);
          }
        }
        for (const listener of this.#listeners) {
          try {
            listener(report);
          } catch (error) {
            this.#log.error('a quality report listener failed', { error: String(error) });
          }
        }
      }
    } catch (error) {
      this.#log.warn('quality report round failed', { error: String(error) });
    } finally {
      this.#collecting = false;
    }
  }
}
