// A cluster of real node processes (`node --import tsx server/src/index.ts`) sharing one private
// Redis: what an operator runs, so a test can SIGKILL a node as a machine would die.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, keepingAlive, startRedis, type TestRedis } from './redis.js';
import { TEST_KEYS } from './server.js';

export interface TestNode {
  readonly name: string;
  /** http://127.0.0.1:<port>: signaling, REST and /healthz; also its CLUSTER_NODE_URL. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /**
   * Sends `signal` (default SIGKILL) and resolves once the node has exited. SIGKILL takes its
   * mediasoup workers with it, as when its machine dies; SIGTERM drains (the server's own
   * shutdown). Idempotent: a node that has exited resolves at once.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** The last ~200 lines the node printed (stdout and stderr), for failure messages. */
  output(): string;
}

export interface NodeOptions {
  redisUrl: string;
  name: string;
  /**
   * Overrides the defaults below; `undefined` removes one (the server's own default applies), and
   * so does an empty string (loadConfig ignores empty values).
   */
  env?: Record<string, string | undefined>;
}

export interface ClusterOptions {
  /** For every node, over the defaults (as NodeOptions.env). */
  env?: Record<string, string | undefined>;
  /** For node `index` (0-based), over `env`. */
  nodeEnv?: (index: number) => Record<string, string | undefined>;
}

export interface TestCluster {
  redis: TestRedis;
  /** Named A, B, C, … in order. */
  nodes: TestNode[];
  /** Kills every node (SIGKILL) and stops Redis. Idempotent. */
  stop(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = 'server/src/index.ts';
const HEALTHY_CEILING_MS = 30_000;
const OUTPUT_LINES = 200;
/**
 * Loaded into each node before the server: the node SIGKILLs itself when its IPC channel to the
 * test process closes, so no node (nor, with it, its workers) outlives the test process, however
 * that ends (even SIGKILL, which runs no exit hook).
 */
const DIE_WITH_PARENT =
  'data:text/javascript,process.on("disconnect",()=>process.kill(process.pid,"SIGKILL"))';

/** Nodes not yet exited: killed if the test process exits first. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) killTree(child.pid, 'SIGKILL');
  });
}

export async function startNode(options: NodeOptions): Promise<TestNode> {
  killAllOnExit();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    MEDIA_PORT_BASE: '0',
    MEDIA_WORKERS: '1',
    LIVESTAGE_API_KEY: TEST_KEYS.apiKey,
    LIVESTAGE_API_SECRET: TEST_KEYS.apiSecret,
    DEV_ENDPOINTS: 'true',
    // Every test client comes from 127.0.0.1; per-IP budgets are tested where they matter.
    RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: '100000',
    RATE_LIMIT_IP_REQUESTS_PER_SECOND: '100000',
    RECONNECT_GRACE_MS: '3000',
    ROOM_EMPTY_GRACE_MS: '0',
    ROOM_VIEWER_COUNT_INTERVAL_MS: '600000',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    REDIS_URL: options.redisUrl,
    CLUSTER_NODE_URL: url,
    CLUSTER_HEARTBEAT_MS: '500',
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', DIE_WITH_PARENT, ENTRY], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    lines.splice(0, Math.max(0, lines.length - OUTPUT_LINES));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const output = () => lines.join('\n');

  let killing = false;
  let started = false;
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (started && !killing) {
        const how = signal ?? `code ${String(code)}`;
        process.stderr.write(`[cluster] node ${options.name} exited by itself (${how}):\n`);
        process.stderr.write(`${output()}\n`);
      }
      resolve();
    }),
  );
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawned || child.pid === undefined) {
    live.delete(child);
    throw new Error(`node ${options.name}: cannot start: ${spawned?.message ?? 'no pid'}`);
  }
  const pid = child.pid;
  // Nothing here keeps the test process alive: a forgotten stop() must not hang mocha (the exit
  // hook and DIE_WITH_PARENT end the nodes).
  child.unref();
  for (const handle of [child.stdout, child.stderr, child.channel]) {
    (handle as unknown as { unref?: () => void } | null | undefined)?.unref?.();
  }

  const node: TestNode = {
    name: options.name,
    url,
    port,
    pid,
    output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killing = true;
      if (signal === 'SIGKILL') killTree(pid, signal);
      else child.kill(signal);
      await keepingAlive(exited);
    },
  };
  try {
    await waitHealthy(node, exited);
    started = true;
  } catch (error) {
    await node.kill();
    throw error;
  }
  return node;
}

/** Redis, then `count` nodes started side by side. */
export async function startCluster(
  count: number,
  options: ClusterOptions = {},
): Promise<TestCluster> {
  const redis = await startRedis();
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, index) =>
      startNode({
        redisUrl: redis.url,
        name: nodeName(index),
        env: { ...options.env, ...options.nodeEnv?.(index) },
      }),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((node) => node.kill()));
    await redis.stop();
  };
  const failed = started.find((result) => result.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { redis, nodes, stop };
}

/**
 * Mocha hooks for a suite on one cluster: started before (with a ceiling of its own), stopped
 * after. `options` as for startCluster.
 */
export function useCluster(
  count: number,
  options: ClusterOptions = {},
): { readonly cluster: TestCluster } {
  const context = { cluster: undefined as unknown as TestCluster };
  before(async function () {
    this.timeout(HEALTHY_CEILING_MS + 30_000);
    context.cluster = await startCluster(count, options);
  });
  after(async function () {
    this.timeout(30_000);
    await context.cluster?.stop();
  });
  return context;
}

/** A, B, …, Z, then N26, N27, … */
function nodeName(index: number): string {
  return index < 26 ? String.fromCharCode(65 + index) : `N${index}`;
}

async function waitHealthy(node: TestNode, exited: Promise<void>): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + HEALTHY_CEILING_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (gone) throw new Error(`node ${node.name} exited while starting:\n${node.output()}`);
    try {
      const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `node ${node.name} (${node.url}) not healthy within ${HEALTHY_CEILING_MS} ms ` +
      `(${last}):\n${node.output()}`,
  );
}

/**
 * Signals `pid` and its child processes (the mediasoup workers). The children are found first:
 * once their parent is dead they belong to init and can no longer be told apart.
 */
function killTree(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  for (const target of [pid, ...childrenOf(pid)]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}
