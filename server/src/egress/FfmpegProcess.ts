import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../logging/logger.js';

/** Lines of stderr kept to say why an ffmpeg failed. */
const KEPT_LINES = 20;
/** After SIGINT, how long ffmpeg gets to finish its files before SIGKILL. */
export const STOP_GRACE_MS = 5_000;

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stop() was called: the exit was asked for. */
  requested: boolean;
  /** The last lines ffmpeg wrote to stderr. */
  lastLines: string[];
}

/**
 * One ffmpeg run: its stderr goes to the log at debug level (and its last lines are kept for
 * errors); `stop()` asks it to finish its output (SIGINT) and kills it if it does not in time.
 */
export class FfmpegProcess {
  readonly #child: ChildProcess;
  readonly #lines: string[] = [];
  readonly exited: Promise<FfmpegExit>;
  #requested = false;
  #progressed = false;
  #lastProgress = '';
  #onProgress: (() => void) | undefined;

  constructor(ffmpegPath: string, args: readonly string[], log: Logger) {
    this.#child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let partial = '';
    this.#child.stderr?.setEncoding('utf8');
    this.#child.stderr?.on('data', (chunk: string) => {
      // Progress lines end with \r, messages with \n.
      const parts = (partial + chunk).split(/[\r\n]+/);
      partial = parts.pop() ?? '';
      for (const line of parts) this.#line(line, log);
    });
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) =>
        resolve({ code, signal, requested: this.#requested, lastLines: [...this.#lines] });
      this.#child.once('error', (error) => {
        this.#keep(`ffmpeg failed: ${error.message}`);
        // Never started (no such binary): no 'close' is certain to follow.
        if (this.#child.pid === undefined) done(null, null);
      });
      this.#child.once('close', (code, signal) => {
        if (partial) this.#line(partial, log);
        done(code, signal);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** ffmpeg has written output (its progress line counts a frame): it got its keyframe. */
  get progressed(): boolean {
    return this.#progressed;
  }

  /** Called once, when ffmpeg first reports an encoded frame. */
  onProgress(listener: () => void): void {
    this.#onProgress = listener;
    if (this.#progressed) listener();
  }

  /** Seconds of output written so far, from the last progress line (`time=HH:MM:SS.xx`). */
  get outputSeconds(): number | undefined {
    const match = /time=(\d+):(\d+):(\d+(?:\.\d+)?)/.exec(this.#lastProgress);
    if (!match) return undefined;
    return Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]);
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** SIGINT (ffmpeg finishes its files), SIGKILL after graceMs. Resolves once it has exited. */
  async stop(graceMs = STOP_GRACE_MS): Promise<FfmpegExit> {
    this.#requested = true;
    if (this.running) {
      this.#child.kill('SIGINT');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }

  #line(line: string, log: Logger): void {
    if (!line.trim()) return;
    if (!this.#progressed && /^frame=\s*[1-9]|^size=\s*[1-9]/.test(line)) {
      this.#progressed = true;
      this.#onProgress?.();
    }
    if (line.startsWith('frame=') || line.startsWith('size=')) {
      this.#lastProgress = line;
      return;
    }
    this.#keep(line);
    log.debug('ffmpeg', { pid: this.pid, line });
  }

  #keep(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > KEPT_LINES) this.#lines.shift();
  }
}
