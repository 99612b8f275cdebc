import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { types } from 'mediasoup';
import type { Logger } from '../logging/logger.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { roomFolder } from './EgressInfo.js';
import type { EgressSettings } from './CompositeEgress.js';
import { FfmpegProcess } from './FfmpegProcess.js';
import { snapshotArgs } from './ffmpegArgs.js';
import { KeyFrameRequests } from './KeyFrameRequests.js';
import { RtpFeed } from './RtpFeed.js';
import { writeSdp } from './sdp.js';

const MAX_CONSECUTIVE_CRASHES = 5;
const RESTART_DELAY_MS = 1_000;

export interface SnapshotTaken {
  room: string;
  identity: string;
  trackId: string;
  /** The REST path it is served at. */
  urlPath: string;
  takenAt: number;
}

export interface SnapshotsOptions {
  settings: EgressSettings;
  rooms: RoomRegistry;
  log: Logger;
  onTaken?: (snapshot: SnapshotTaken) => void;
}

/** One participant's snapshots: an ffmpeg decoding its video and writing a JPEG every interval. */
interface Taker {
  producerId: string;
  feed: RtpFeed;
  process: FfmpegProcess;
  keyFrames: KeyFrameRequests;
  poll: NodeJS.Timeout;
  sdpDir: string;
}

/**
 * With SNAPSHOT_INTERVAL_MS > 0: a JPEG of every live video (one per participant, its camera
 * or else its screen) at `{snapshotDir}/{room}/{identity}.jpg`, replaced every interval, and a
 * callback when it changes. Decoding every frame costs ~2 % of a core per 360p track, which
 * needs no keyframe but the first. The room's files go when it finishes.
 */
export class Snapshots {
  readonly #options: SnapshotsOptions;
  readonly #takers = new Map<string, Taker>();
  /** Per participant: its changes run one at a time. */
  readonly #queues = new Map<string, Promise<void>>();
  readonly #crashes = new Map<string, number>();
  readonly #watched = new WeakSet<types.Producer>();
  readonly #unsubscribe: () => void;
  #closed = false;

  constructor(options: SnapshotsOptions) {
    this.#options = options;
    const events = options.rooms.events;
    const changed = (room: string, identity: string) => this.#schedule(room, identity);
    const left = (room: string, participant: { identity: string }) =>
      this.#schedule(room, participant.identity);
    const finished = (room: string) => void this.#forgetRoom(room);
    events.on('trackPublished', changed);
    events.on('trackUnpublished', changed);
    events.on('participantLeft', left);
    events.on('roomFinished', finished);
    this.#unsubscribe = () => {
      events.off('trackPublished', changed);
      events.off('trackUnpublished', changed);
      events.off('participantLeft', left);
      events.off('roomFinished', finished);
    };
  }

  get enabled(): boolean {
    return this.#options.settings.snapshotIntervalMs > 0;
  }

  /** Where the participant's latest JPEG is (it may not exist yet). */
  file(room: string, identity: string): string {
    return path.join(this.#options.settings.snapshotDir, roomFolder(room), `${identity}.jpg`);
  }

  /** The snapshot ffmpegs running now (tests, operators). */
  get pids(): number[] {
    return [...this.#takers.values()].flatMap(({ process }) =>
      process.running && process.pid !== undefined ? [process.pid] : [],
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe();
    await Promise.all([...this.#queues.values()]);
    await Promise.all([...this.#takers.keys()].map((key) => this.#stopTaker(key)));
  }

  #schedule(room: string, identity: string): void {
    if (!this.enabled || this.#closed) return;
    const key = `${room}\n${identity}`;
    const previous = this.#queues.get(key) ?? Promise.resolve();
    const next = previous
      .then(() => this.#reconcile(key, room, identity))
      .catch((error: unknown) => {
        this.#options.log.warn('snapshot update failed', { room, identity, error: String(error) });
      });
    this.#queues.set(key, next);
    void next.then(() => {
      if (this.#queues.get(key) === next) this.#queues.delete(key);
    });
  }

  /** The participant's live video now, if any: camera first, else screen. */
  #wanted(room: string, identity: string): types.Producer | undefined {
    const participant = this.#options.rooms.rooms.get(room)?.participants.get(identity);
    // Only participants connected to this node: a stand-in's node takes its snapshots.
    if (!participant || participant.remote || participant.closed) return undefined;
    const videos = [...participant.tracks.values()].filter(
      ({ producer }) => producer.kind === 'video' && !producer.closed,
    );
    for (const { producer } of videos) this.#watch(producer, room, identity);
    const live = videos.filter(({ producer }) => !producer.paused);
    return (live.find(({ source }) => source === 'camera') ?? live[0])?.producer;
  }

  #watch(producer: types.Producer, room: string, identity: string): void {
    if (this.#watched.has(producer)) return;
    this.#watched.add(producer);
    const changed = () => this.#schedule(room, identity);
    producer.observer.on('pause', changed);
    producer.observer.on('resume', changed);
  }

  async #reconcile(key: string, room: string, identity: string): Promise<void> {
    if (this.#closed) return;
    const wanted = this.#wanted(room, identity);
    const current = this.#takers.get(key);
    if (current && current.producerId === wanted?.id && current.process.running) return;
    await this.#stopTaker(key);
    if (!wanted) return;
    const roomInstance = this.#options.rooms.rooms.get(room);
    if (!roomInstance) return;
    await this.#startTaker(key, room, identity, roomInstance.router, wanted.id);
  }

  async #startTaker(
    key: string,
    room: string,
    identity: string,
    router: types.Router,
    producerId: string,
  ): Promise<void> {
    const { settings, log } = this.#options;
    const file = this.file(room, identity);
    await mkdir(path.dirname(file), { recursive: true });
    const feed = await RtpFeed.open(router, producerId);
    const sdpDir = await mkdtemp(path.join(os.tmpdir(), 'livestage-snapshot-'));
    const sdpPath = path.join(sdpDir, 'track.sdp');
    await writeFile(sdpPath, writeSdp([feed.sdpStream], `livestage-snapshot-${identity}`));
    const process = new FfmpegProcess(
      settings.ffmpegPath,
      snapshotArgs(sdpPath, file, settings.snapshotIntervalMs),
      log,
    );
    const keyFrames = new KeyFrameRequests([feed]);
    process.onProgress(() => {
      keyFrames.stop();
      this.#crashes.delete(key);
    });
    let lastModified = await stat(file).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    const poll = setInterval(
      () => {
        void stat(file).then(
          (s) => {
            if (s.mtimeMs === lastModified || !this.#takers.has(key)) return;
            lastModified = s.mtimeMs;
            this.#options.onTaken?.({
              room,
              identity,
              trackId: producerId,
              urlPath: `/api/rooms/${encodeURIComponent(room)}/snapshots/${encodeURIComponent(identity)}.jpg`,
              takenAt: Date.now(),
            });
          },
          () => undefined,
        );
      },
      Math.min(500, Math.max(100, settings.snapshotIntervalMs / 2)),
    );
    poll.unref();
    const taker: Taker = { producerId, feed, process, keyFrames, poll, sdpDir };
    this.#takers.set(key, taker);
    feed.consumer.observer.once('close', () => this.#schedule(room, identity));
    void process.exited.then((exit) => {
      if (exit.requested || this.#takers.get(key) !== taker || this.#closed) return;
      const crashes = (this.#crashes.get(key) ?? 0) + 1;
      this.#crashes.set(key, crashes);
      log.warn('snapshot ffmpeg exited by itself', {
        room,
        identity,
        code: exit.code,
        lastLines: exit.lastLines.slice(-3),
      });
      if (crashes > MAX_CONSECUTIVE_CRASHES) {
        log.error('giving up on snapshots of this track', { room, identity });
        void this.#stopTaker(key);
        return;
      }
      setTimeout(() => this.#schedule(room, identity), RESTART_DELAY_MS).unref();
    });
    await feed.resume();
    keyFrames.start();
  }

  async #stopTaker(key: string): Promise<void> {
    const taker = this.#takers.get(key);
    if (!taker) return;
    this.#takers.delete(key);
    clearInterval(taker.poll);
    taker.keyFrames.stop();
    await taker.process.stop();
    taker.feed.close();
    await rm(taker.sdpDir, { recursive: true, force: true });
  }

  async #forgetRoom(room: string): Promise<void> {
    const prefix = `${room}\n`;
    const keys = [...this.#takers.keys(), ...this.#queues.keys()].filter((key) =>
      key.startsWith(prefix),
    );
    await Promise.all(keys.map((key) => this.#queues.get(key)));
    await Promise.all(keys.map((key) => this.#stopTaker(key)));
    for (const key of keys) this.#crashes.delete(key);
    // Unless the room opened again meanwhile (a new session keeps its own snapshots).
    if (!this.#options.rooms.rooms.get(room)) {
      const folder = path.join(this.#options.settings.snapshotDir, roomFolder(room));
      await rm(folder, { recursive: true, force: true });
    }
  }
}
