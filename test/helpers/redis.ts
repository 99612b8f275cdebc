// A private Redis for a test: its own redis-server process on a free port, with its data in a
// temp dir (AOF on, so a graceful restart keeps everything). Never the system service.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface TestRedis {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Graceful SHUTDOWN (the AOF keeps the data), then the same port and dir again, answering. */
  restart(): Promise<void>;
  /** Kills the server and removes its data. Idempotent. */
  stop(): Promise<void>;
  /** The last lines redis-server printed, for failure messages. */
  output(): string;
}

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const READY_CEILING_MS = 10_000;
const OUTPUT_LINES = 100;

/** Data dirs of servers still running, removed if the test process exits first. */
const dirs = new Set<string>();
let exitHookInstalled = false;

function removeDirsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Runs redis-server ($0 "$@") under a shell that kills it as soon as its stdin closes: when we
 * close it (stop), and when the test process dies, however it dies (even SIGKILL), since the
 * kernel closes our end of the pipe. The shell exits when redis-server does (SHUTDOWN).
 */
const GUARD = `exec 3<&0
"$0" "$@" </dev/null 3<&- &
server=$!
(cat <&3 >/dev/null; kill -9 "$server" 2>/dev/null) &
wait "$server"`;

/**
 * Awaits `promise` with the event loop held open: the processes here are unref'd (so that a
 * forgotten stop() cannot hang mocha), and waiting for one of them to exit must not let the test
 * process end first.
 */
export async function keepingAlive<T>(promise: Promise<T>): Promise<T> {
  const hold = setInterval(() => {}, 1000);
  try {
    return await promise;
  } finally {
    clearInterval(hold);
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export async function startRedis(): Promise<TestRedis> {
  removeDirsOnExit();
  const dir = mkdtempSync(join(tmpdir(), 'livestage-redis-'));
  dirs.add(dir);
  let lastError: unknown;
  // Another process may take the free port before redis-server binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      const server = await launch(port, dir);
      return handle(port, dir, server);
    } catch (error) {
      lastError = error;
      if (error instanceof RedisMissingError) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
  throw lastError;
}

class RedisMissingError extends Error {}

async function ensureInstalled(): Promise<void> {
  const found = await new Promise<boolean>((resolve) => {
    const check = spawn(REDIS_SERVER, ['--version'], { stdio: 'ignore' });
    check.once('error', () => resolve(false));
    check.once('exit', (code) => resolve(code === 0));
  });
  if (!found) {
    throw new RedisMissingError(
      `${REDIS_SERVER} not found: install Debian's redis-server ` +
        '(bash scripts/install-system-deps.sh) or set REDIS_SERVER_BIN',
    );
  }
}

interface RunningRedis {
  child: ChildProcess;
  exited: Promise<void>;
  output: string[];
}

function handle(port: number, dir: string, first: RunningRedis): TestRedis {
  let current: RunningRedis | undefined = first;
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    output: () => (current?.output ?? []).join('\n'),
    async restart() {
      if (stopped || !current) throw new Error('restart: this Redis is stopped');
      const previous = current;
      current = undefined;
      await shutdown(port);
      await keepingAlive(previous.exited);
      current = await launch(port, dir);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const last = current;
      current = undefined;
      if (last) {
        last.child.stdin?.end();
        await keepingAlive(last.exited);
      }
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
}

/** Starts redis-server on `port` with its data in `dir`; resolves once it answers PING. */
async function launch(port: number, dir: string): Promise<RunningRedis> {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'no',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    '',
  ];
  await ensureInstalled();
  const child = spawn('sh', ['-c', GUARD, REDIS_SERVER, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString().split('\n').filter(Boolean));
    output.splice(0, Math.max(0, output.length - OUTPUT_LINES));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // The guard's watcher may outlive the shell by a moment: its exit is the shell's.
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      child.stdin?.end();
      resolve();
    }),
  );
  // Nothing here keeps the test process alive: a forgotten stop() must not hang mocha.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  const server = { child, exited, output };
  try {
    await waitForPing(port, exited, () => output.join('\n'));
    return server;
  } catch (error) {
    child.stdin?.end();
    await keepingAlive(exited);
    throw error;
  }
}

async function waitForPing(port: number, exited: Promise<void>, output: () => string) {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + READY_CEILING_MS;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`redis-server on port ${port} exited:\n${output()}`);
    if (await answersPing(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING in time:\n${output()}`);
}

async function answersPing(port: number): Promise<boolean> {
  const client = probe(port);
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** SHUTDOWN: Redis fsyncs its AOF and exits (the connection drops, which is the answer). */
async function shutdown(port: number): Promise<void> {
  const client = probe(port);
  try {
    await client.connect();
    await client.call('SHUTDOWN').catch(() => {});
  } finally {
    client.disconnect();
  }
}

/** A one-shot connection: no retries, no offline queue, no reconnects. */
function probe(port: number): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  client.on('error', () => {}); // a refused probe is an answer, not a failure
  return client;
}
