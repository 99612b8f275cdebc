import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { withTimeout } from './report.js';

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Runs the server as its own process (as `npm start` does), so that a benchmark's clients do not
 * share its event loop. `env` is added to the process environment; the port is picked free.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/src/index.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_FORMAT: 'json',
      ...env,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The start-up line is an info line; stdout is read for it and otherwise discarded.
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      let seen = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /livestage listening on (http:\/\/[^\s"]+)/.exec(seen);
        if (match?.[1]) resolve(match[1]);
      });
      child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}`)));
    }),
    60_000,
    'server start',
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  child.stdout?.resume();
  return {
    url,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }),
  };
}
