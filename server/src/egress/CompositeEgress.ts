import { appendFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import type { Room } from '../rooms/Room.js';
import { roomFolder, type EgressInfo, type EgressType } from './EgressInfo.js';
import { FfmpegProcess } from './FfmpegProcess.js';
import { compositeArgs, concatArgs, concatList } from './ffmpegArgs.js';
import { RtpFeed } from './RtpFeed.js';
import { writeSdp } from './sdp.js';
import { planSignature, stagePlan, type StagePlan } from './stagePlan.js';
import { KeyFrameRequests } from './KeyFrameRequests.js';

/** Stage changes within this window make one re-layout. */
const RELAYOUT_DEBOUNCE_MS = 300;
/** Crashes in a row (without output in between) before the egress gives up. */
const MAX_CONSECUTIVE_CRASHES = 5;
const RESTART_BASE_DELAY_MS = 500;
const RESTART_MAX_DELAY_MS = 2_000;

export type EgressSettings = Config['egress'];

export interface CompositeEgressOptions {
  id: string;
  room: Room;
  type: EgressType;
  settings: EgressSettings;
  log: Logger;
  /** ffmpeg was started again (a new layout or after a crash). */
  onRestart?: (reason: 'relayout' | 'crash') => void;
  /** The egress ended (stopped, room finished, or failed for good); called once. */
  onEnded: (info: EgressInfo) => void;
}

interface Run {
  process: FfmpegProcess;
  feeds: RtpFeed[];
  signature: string;
  keyFrames: KeyFrameRequests;
  unwatch: () => void;
}

/**
 * One HLS or recording egress: the room's stage composited by one supervised ffmpeg fed by
 * PlainTransport consumers. A stage change starts a new ffmpeg with the new grid (HLS: the
 * playlist continues after a discontinuity; record: a new piece, all pieces joined at the end);
 * a crashed ffmpeg is restarted with backoff, and after MAX_CONSECUTIVE_CRASHES it fails.
 */
export class CompositeEgress {
  readonly #options: CompositeEgressOptions;
  readonly #info: EgressInfo;
  readonly #log: Logger;
  /** Layout changes run one at a time, in order. */
  #queue: Promise<void> = Promise.resolve();
  #run: Run | undefined;
  #runs = 0;
  #crashes = 0;
  #relayoutTimer: NodeJS.Timeout | undefined;
  #restartTimer: NodeJS.Timeout | undefined;
  #sdpDir: string | undefined;
  readonly #pieces: string[] = [];
  #ending: Promise<EgressInfo> | undefined;

  constructor(options: CompositeEgressOptions) {
    this.#options = options;
    this.#log = options.log.child({ egressId: options.id, egressType: options.type });
    const { settings, room, type, id } = options;
    this.#info = {
      id,
      room: room.name,
      type,
      status: 'starting',
      startedAt: Date.now(),
      layout: { videos: [], audios: 0 },
      restarts: 0,
      ...(type === 'hls'
        ? { playlistUrl: `/hls/${encodeURIComponent(room.name)}/index.m3u8` }
        : { file: path.join(settings.recordingsDir, `${roomFolder(room.name)}-${id}.mp4`) }),
    };
  }

  get id(): string {
    return this.#options.id;
  }

  get type(): EgressType {
    return this.#options.type;
  }

  get ended(): boolean {
    return this.#ending !== undefined;
  }

  info(): EgressInfo {
    return structuredClone(this.#info);
  }

  /** The running ffmpeg's pid (tests, operators). */
  get pid(): number | undefined {
    return this.#run?.process.running ? this.#run.process.pid : undefined;
  }

  /** The HLS folder (hls) or the pieces' folder (record). */
  get #outputDir(): string {
    const { settings, room, id } = this.#options;
    return this.type === 'hls'
      ? path.join(settings.hlsDir, roomFolder(room.name))
      : path.join(settings.recordingsDir, `.${id}`);
  }

  /** Prepares the folders and starts the first ffmpeg (once the stage has a track). */
  async start(): Promise<void> {
    // A previous HLS egress of this room left its playlist: this one starts afresh.
    if (this.type === 'hls') await rm(this.#outputDir, { recursive: true, force: true });
    await mkdir(this.#outputDir, { recursive: true });
    this.#sdpDir = await mkdtemp(path.join(os.tmpdir(), 'livestage-egress-'));
    await this.#enqueue(() => this.#relayout());
  }

  /** The stage may have changed: lay out again shortly (several changes make one). */
  stageChanged(): void {
    if (this.ended) return;
    clearTimeout(this.#relayoutTimer);
    this.#relayoutTimer = setTimeout(() => {
      this.#enqueue(() => this.#relayout()).catch(() => undefined);
    }, RELAYOUT_DEBOUNCE_MS);
    this.#relayoutTimer.unref();
  }

  /**
   * Stops ffmpeg (it finishes its output), releases the consumers and, for a recording, joins
   * the pieces into the final MP4. Idempotent: every caller gets the same final info.
   */
  stop(error?: string): Promise<EgressInfo> {
    this.#ending ??= this.#end(error);
    return this.#ending;
  }

  async #end(error: string | undefined): Promise<EgressInfo> {
    clearTimeout(this.#relayoutTimer);
    clearTimeout(this.#restartTimer);
    this.#info.status = 'ending';
    try {
      await this.#queue;
      await this.#stopRun();
      if (this.type === 'record') await this.#finishRecording();
      if (this.type === 'hls') await this.#endPlaylist();
      if (this.#sdpDir) await rm(this.#sdpDir, { recursive: true, force: true });
    } catch (failure) {
      error ??= String(failure);
    }
    this.#info.status = error ? 'failed' : 'complete';
    if (error) this.#info.error = error;
    this.#info.endedAt = Date.now();
    this.#log.info('egress ended', { status: this.#info.status, error });
    const final = this.info();
    this.#options.onEnded(final);
    return final;
  }

  #enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(step);
    this.#queue = next.catch((error: unknown) => {
      this.#log.warn('egress step failed', { error: String(error) });
    });
    return next;
  }

  async #relayout(): Promise<void> {
    if (this.#ending) return;
    const room = this.#options.room;
    const plan = stagePlan(room);
    const signature = planSignature(plan);
    const current = this.#run;
    const healthy = current?.process.running && current.feeds.every((feed) => !feed.closed);
    if (current && healthy && current.signature === signature) {
      current.unwatch();
      current.unwatch = this.#watch(plan);
      return;
    }
    await this.#stopRun();
    await this.#startRun(plan, signature, this.#runs > 0 ? 'relayout' : undefined);
  }

  async #startRun(
    plan: StagePlan,
    signature: string,
    reason: 'relayout' | 'crash' | undefined,
  ): Promise<void> {
    const room = this.#options.room;
    this.#info.layout = {
      videos: plan.videos.map(({ identity }) => identity),
      audios: plan.audios.length,
    };
    if (plan.videos.length + plan.audios.length === 0 || room.closed) {
      // Nothing on stage: no ffmpeg until someone publishes (the watchers bring it back).
      this.#run = undefined;
      this.#watchOnly(plan);
      return;
    }
    const feeds: RtpFeed[] = [];
    try {
      for (const track of [...plan.videos, ...plan.audios]) {
        const feed = await RtpFeed.open(room.router, track.producer.id);
        feeds.push(feed);
        if (feed.consumer.kind === 'video') room.holdLayersFor(feed.consumer);
      }
    } catch (error) {
      for (const feed of feeds) feed.close();
      // A track went away while its consumer was made: the stage changed, lay out again.
      this.#log.info('stage changed while laying out', { error: String(error) });
      this.stageChanged();
      return;
    }
    const runIndex = this.#runs++;
    const sdpPath = path.join(this.#sdpDir!, `run-${runIndex}.sdp`);
    await writeFile(
      sdpPath,
      writeSdp(
        feeds.map((feed) => feed.sdpStream),
        `livestage-${room.name}`,
      ),
    );
    const { settings } = this.#options;
    const piece =
      this.type === 'record' ? path.join(this.#outputDir, `piece-${runIndex}.mp4`) : undefined;
    const args = compositeArgs({
      sdpPath,
      videos: plan.videos.length,
      audios: plan.audios.length,
      videoBitrate: settings.videoBitrate,
      segmentSeconds: settings.hlsSegmentSeconds,
      output: piece
        ? { kind: 'mp4', file: piece }
        : {
            kind: 'hls',
            dir: this.#outputDir,
            continued: runIndex > 0,
            listSize: settings.hlsListSize,
          },
    });
    const process = new FfmpegProcess(settings.ffmpegPath, args, this.#log);
    this.#log.info('ffmpeg started', {
      pid: process.pid,
      videos: plan.videos.length,
      audios: plan.audios.length,
      reason: reason ?? 'start',
    });
    if (reason) {
      this.#info.restarts += 1;
      this.#options.onRestart?.(reason);
    }
    const run: Run = {
      process,
      feeds,
      signature,
      keyFrames: new KeyFrameRequests(feeds),
      unwatch: () => undefined,
    };
    run.unwatch = this.#watch(plan);
    this.#run = run;
    for (const feed of feeds) {
      // Closed by the worker (its router went, the producer closed), not by #stopRun.
      feed.consumer.observer.once('close', () => {
        if (this.#run === run) this.stageChanged();
      });
    }
    process.onProgress(() => {
      run.keyFrames.stop();
      this.#crashes = 0;
      if (piece) this.#pieces.push(piece);
      if (this.#info.status === 'starting') this.#info.status = 'active';
    });
    void process.exited.then((exit) => {
      if (exit.requested || this.#run !== run || this.#ending) return;
      this.#log.warn('ffmpeg exited by itself', {
        code: exit.code,
        signal: exit.signal,
        lastLines: exit.lastLines.slice(-5),
      });
      this.#crashed(run);
    });
    // Consumers were made paused: what reaches ffmpeg starts now, and a keyframe follows.
    await Promise.all(feeds.map((feed) => feed.resume().catch(() => undefined)));
    run.keyFrames.start();
  }

  #crashed(run: Run): void {
    void this.#enqueue(async () => {
      if (this.#run !== run || this.#ending) return;
      await this.#stopRun();
      this.#crashes += 1;
      if (this.#crashes > MAX_CONSECUTIVE_CRASHES) {
        void this.stop(`ffmpeg failed ${this.#crashes} times in a row`);
        return;
      }
      const delay = Math.min(
        RESTART_BASE_DELAY_MS * 2 ** (this.#crashes - 1),
        RESTART_MAX_DELAY_MS,
      );
      clearTimeout(this.#restartTimer);
      this.#restartTimer = setTimeout(() => {
        void this.#enqueue(async () => {
          if (this.#ending || this.#run) return;
          const plan = stagePlan(this.#options.room);
          await this.#startRun(plan, planSignature(plan), 'crash');
        });
      }, delay);
      this.#restartTimer.unref();
    });
  }

  /** A pause, resume or close of any stage track changes what the picture can show. */
  #watch(plan: StagePlan): () => void {
    const changed = () => this.stageChanged();
    for (const producer of plan.watched) {
      producer.observer.on('pause', changed);
      producer.observer.on('resume', changed);
      producer.observer.on('close', changed);
    }
    return () => {
      for (const producer of plan.watched) {
        producer.observer.off('pause', changed);
        producer.observer.off('resume', changed);
        producer.observer.off('close', changed);
      }
    };
  }

  #idleUnwatch: (() => void) | undefined;

  #watchOnly(plan: StagePlan): void {
    this.#idleUnwatch?.();
    this.#idleUnwatch = this.#watch(plan);
  }

  async #stopRun(): Promise<void> {
    this.#idleUnwatch?.();
    this.#idleUnwatch = undefined;
    const run = this.#run;
    if (!run) return;
    this.#run = undefined;
    run.unwatch();
    run.keyFrames.stop();
    await run.process.stop();
    for (const feed of run.feeds) feed.close();
  }

  /** Players stop polling a playlist that says it ended (ffmpeg was told to omit it). */
  async #endPlaylist(): Promise<void> {
    const playlist = path.join(this.#outputDir, 'index.m3u8');
    const text = await readFile(playlist, 'utf8').catch(() => undefined);
    if (text && !text.includes('#EXT-X-ENDLIST')) await appendFile(playlist, '#EXT-X-ENDLIST\n');
  }

  /** Joins the pieces (one per layout) into the final MP4 and removes them. */
  async #finishRecording(): Promise<void> {
    const file = this.#info.file!;
    const pieces: string[] = [];
    for (const piece of this.#pieces) {
      const size = await stat(piece).then(
        (s) => s.size,
        () => 0,
      );
      if (size > 0) pieces.push(piece);
    }
    if (pieces.length === 0) {
      this.#info.durationSeconds = 0;
      delete this.#info.file;
      await rm(this.#outputDir, { recursive: true, force: true });
      return;
    }
    const listFile = path.join(this.#outputDir, 'pieces.txt');
    await writeFile(listFile, concatList(pieces));
    const concat = new FfmpegProcess(
      this.#options.settings.ffmpegPath,
      concatArgs(listFile, file),
      this.#log,
    );
    const exit = await concat.exited;
    if (exit.code !== 0) {
      this.#log.error('could not join the recording', { lastLines: exit.lastLines.slice(-5) });
      throw new Error('could not join the recording');
    }
    this.#info.durationSeconds = concat.outputSeconds;
    await rm(this.#outputDir, { recursive: true, force: true });
  }
}
