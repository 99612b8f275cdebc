import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestPublisher } from './media.js';
import { ADMIN_AUTH, eventually, workerCounts, type TestServer } from './server.js';

const run = promisify(execFile);

export interface Probe {
  streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
  format: { duration?: string };
}

/** What ffprobe says of a media file: its streams and duration. */
export async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', [
    ...['-v', 'error', '-of', 'json', '-show_streams', '-show_format', file],
  ]);
  return JSON.parse(stdout) as Probe;
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * After an egress test: its publishers leave, and then no ffmpeg and no transport may be left.
 * Every ffmpeg pid seen goes into `seenPids` (checked once more after the server closed).
 */
export async function endEgressTest(
  server: TestServer,
  publishers: TestPublisher[],
  seenPids: Set<number>,
): Promise<void> {
  for (const pid of server.egress.pids) seenPids.add(pid);
  for (const publisher of publishers.splice(0)) await publisher.close();
  // Egresses end with their rooms; the last ffmpeg's SIGINT may take a moment.
  await eventually(() => assert.deepEqual(server.egress.pids, []), 10_000, 'no ffmpeg left');
  await eventually(
    async () => assert.equal((await workerCounts(server)).transports, 0),
    5_000,
    'transports closed',
  );
}

export function assertNoFfmpegLeft(seenPids: Set<number>): void {
  assert.deepEqual([...seenPids].filter(isRunning), [], 'ffmpeg processes left running');
}

/** An admin API call with the test key pair; the JSON answer (an empty body reads as {}). */
export async function adminCall<T>(
  server: TestServer,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: { authorization: ADMIN_AUTH, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as T };
}
