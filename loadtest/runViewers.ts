// A crowd of headless viewers: started at a given rate (or all at once), kept in the room for a
// while, then taken out. Usable from tests: it returns every viewer's figures.
import { randomBytes } from 'node:crypto';
import type { QualityPreference } from '@livestage/protocol';
import { sharedCertificate } from './certificate.js';
import type { ApiCredentials } from './tokens.js';
import { Viewer, type ViewerResult } from './viewer.js';

export interface ViewerRunOptions {
  url: string;
  room: string;
  count: number;
  /** Viewers started per second; 0 (or Infinity) starts them all at once. */
  rate: number;
  /** How long the run lasts after the last viewer started, in seconds. */
  durationSeconds: number;
  /** End as soon as every viewer has video or has failed; the duration is then a ceiling. */
  endWhenAllHaveVideo?: boolean;
  /** Ends the run early (no more viewers start; those in leave and are reported). */
  signal?: AbortSignal;
  credentials: ApiCredentials;
  /** Identities are `${identityPrefix}-${i}`; random by default, so runs never collide. */
  identityPrefix?: string;
  /** Ceiling for each step of a join (token, welcome, each request, ICE + DTLS). */
  stepTimeoutMs?: number;
  quality?: QualityPreference;
  /** Called at the end, just before the viewers leave (e.g. to take a last CPU sample). */
  beforeLeave?: () => Promise<void> | void;
}

export interface ViewerRun {
  results: ViewerResult[];
  /**
   * performance.now() of the first viewer's start, the last one's, the end of the join phase (the
   * last first video packet of any viewer; the end of the run when none got video), and the end.
   */
  startedAt: number;
  lastStartedAt: number;
  joinPhaseEndedAt: number;
  endedAt: number;
}

const DEFAULT_STEP_TIMEOUT_MS = 20_000;
const POLL_MS = 50;

export async function runViewers(options: ViewerRunOptions): Promise<ViewerRun> {
  const certificate = await sharedCertificate();
  const prefix = options.identityPrefix ?? `loadtest-${randomBytes(3).toString('hex')}`;
  const stepTimeoutMs = options.stepTimeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
  const tokenTtlSeconds = Math.ceil(
    options.durationSeconds + options.count / Math.max(options.rate, 1) + 600,
  );
  const viewers = Array.from(
    { length: options.count },
    (_, i) =>
      new Viewer({
        url: options.url,
        room: options.room,
        identity: `${prefix}-${i}`,
        credentials: options.credentials,
        certificate,
        stepTimeoutMs,
        tokenTtlSeconds,
        quality: options.quality,
      }),
  );

  const startedAt = performance.now();
  const intervalMs = options.rate > 0 && Number.isFinite(options.rate) ? 1000 / options.rate : 0;
  const starts: Promise<void>[] = [];
  const aborted = () => options.signal?.aborted === true;
  for (const [i, viewer] of viewers.entries()) {
    if (aborted()) break;
    const due = startedAt + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    starts.push(viewer.start());
  }
  const lastStartedAt = performance.now();
  const endAt = lastStartedAt + options.durationSeconds * 1000;

  const settled = () => viewers.every((v) => v.failed || v.hasVideo);
  while (performance.now() < endAt && !aborted() && !(options.endWhenAllHaveVideo && settled())) {
    await sleep(Math.min(POLL_MS, endAt - performance.now()));
  }
  await options.beforeLeave?.();
  const endedAt = performance.now();
  const started = viewers.slice(0, starts.length);
  const results = started.map((v) => v.result(endedAt));
  const firstVideos = results.flatMap((r) => r.rtp.firstVideoAt ?? []);
  const joinPhaseEndedAt = firstVideos.length ? Math.max(...firstVideos) : endedAt;
  // A start still under way (a slow step) ends with stop(); its result is already taken.
  await Promise.all(started.map((v) => v.stop()));
  await Promise.all(starts);
  return { results, startedAt, lastStartedAt, joinPhaseEndedAt, endedAt };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
