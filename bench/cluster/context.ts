// What every part of the cluster benchmark shares: its knobs (environment variables, so that
// `npm run bench:cluster` takes them without argument plumbing), the running nodes, and the
// ways to put a publisher or a viewer on one of them.
import { sharedCertificate, type DtlsCertificate } from '../../loadtest/certificate.js';
import { PublisherProcess } from '../../loadtest/publisherProcess.js';
import type { TestNode } from '../../test/helpers/cluster.js';
import { startNode } from '../../test/helpers/cluster.js';
import type { TestRedis } from '../../test/helpers/redis.js';
import { TEST_KEYS } from '../../test/helpers/server.js';
import { ProbeViewer } from './probeViewer.js';

export const SECTIONS = ['redis', 'latency', 'cpu', 'failover'] as const;
export type Section = (typeof SECTIONS)[number];

export interface Settings {
  sections: Section[];
  /** Joins per kind of path for connect → first packet. */
  joins: number;
  /** Seconds of paired arrivals for the hop's one-way latency. */
  latencySeconds: number;
  /** Seconds of each CPU phase. */
  cpuSeconds: number;
  /** Kills of each kind (viewer's node, publisher's node). */
  failoverTrials: number;
  redisViewers: number;
  redisStaySeconds: number;
  redisBaselineSeconds: number;
  heartbeatMs: number;
  nodeLogLevel: string;
  video: { width: number; height: number; fps: number; kbps: number; keyframeSeconds: number };
}

function number(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number ≥ 0`);
  return value;
}

export function readSettings(): Settings {
  const sections = (process.env.BENCH_CLUSTER_SECTIONS ?? SECTIONS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of sections) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new Error(`BENCH_CLUSTER_SECTIONS: unknown "${s}" (known: ${SECTIONS.join(', ')})`);
    }
  }
  const [width, height] = (process.env.BENCH_CLUSTER_VIDEO_SIZE ?? '640x360')
    .split('x')
    .map(Number);
  return {
    sections: sections as Section[],
    joins: number('BENCH_CLUSTER_JOINS', 8),
    latencySeconds: number('BENCH_CLUSTER_LATENCY_S', 10),
    cpuSeconds: number('BENCH_CLUSTER_CPU_S', 20),
    failoverTrials: number('BENCH_CLUSTER_FAILOVER_TRIALS', 2),
    redisViewers: number('BENCH_CLUSTER_REDIS_VIEWERS', 20),
    redisStaySeconds: number('BENCH_CLUSTER_REDIS_STAY_S', 60),
    redisBaselineSeconds: number('BENCH_CLUSTER_REDIS_BASELINE_S', 20),
    heartbeatMs: number('BENCH_CLUSTER_HEARTBEAT_MS', 500),
    nodeLogLevel: process.env.BENCH_CLUSTER_NODE_LOG_LEVEL ?? 'warn',
    video: {
      width: width ?? 640,
      height: height ?? 360,
      fps: number('BENCH_CLUSTER_VIDEO_FPS', 30),
      kbps: number('BENCH_CLUSTER_VIDEO_KBPS', 800),
      keyframeSeconds: number('BENCH_CLUSTER_KEYFRAME_S', 1),
    },
  };
}

export const STEP_TIMEOUT_MS = 20_000;
export const MEDIA_TIMEOUT_MS = 20_000;

/** The nodes' environment over the test helper's: production defaults where they matter here. */
export function nodeEnv(settings: Settings): Record<string, string> {
  return {
    CLUSTER_HEARTBEAT_MS: String(settings.heartbeatMs),
    LOG_LEVEL: settings.nodeLogLevel,
    // The test helper turns the periodic viewer count off; a real room sends it (via Redis).
    ROOM_VIEWER_COUNT_INTERVAL_MS: '',
  };
}

export const log = (line: string): void => void process.stderr.write(`[bench:cluster] ${line}\n`);

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export class BenchContext {
  readonly settings: Settings;
  readonly redis: TestRedis;
  readonly room = `bench-cluster-${Date.now()}`;
  /** Live nodes (killed ones are taken out), and every node ever started (for their logs). */
  readonly nodes: TestNode[];
  readonly everyNode: TestNode[];
  readonly certificate: DtlsCertificate;
  readonly credentials = { apiKey: TEST_KEYS.apiKey, apiSecret: TEST_KEYS.apiSecret };
  #viewerSerial = 0;

  constructor(settings: Settings, redis: TestRedis, nodes: TestNode[], cert: DtlsCertificate) {
    this.settings = settings;
    this.redis = redis;
    this.nodes = [...nodes];
    this.everyNode = [...nodes];
    this.certificate = cert;
  }

  static async create(settings: Settings, redis: TestRedis, nodes: TestNode[]) {
    return new BenchContext(settings, redis, nodes, await sharedCertificate());
  }

  node(name: string): TestNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no live node ${name}`);
    return node;
  }

  /** Starts another node on the same Redis, named after the ones before it. */
  async addNode(): Promise<TestNode> {
    const index = this.everyNode.length;
    const name = index < 26 ? String.fromCharCode(65 + index) : `N${index}`;
    const node = await startNode({ redisUrl: this.redis.url, name, env: nodeEnv(this.settings) });
    this.nodes.push(node);
    this.everyNode.push(node);
    return node;
  }

  /** SIGKILLs a node (with its worker); resolves once it has exited. */
  async kill(node: TestNode): Promise<void> {
    await node.kill('SIGKILL');
    this.nodes.splice(this.nodes.indexOf(node), 1);
  }

  viewer(node: TestNode, identity = `viewer-${++this.#viewerSerial}`): ProbeViewer {
    return new ProbeViewer({
      url: node.url,
      room: this.room,
      identity,
      credentials: this.credentials,
      certificate: this.certificate,
      stepTimeoutMs: STEP_TIMEOUT_MS,
    });
  }

  /** The real publisher (ffmpeg VP8 + Opus) in a process of its own, live on `node`. */
  publisherProcess(node: TestNode, identity = 'host'): Promise<PublisherProcess> {
    return PublisherProcess.start(this.publisherOptions(node, identity));
  }

  publisherOptions(node: TestNode, identity: string) {
    const { video } = this.settings;
    return {
      url: node.url,
      room: this.room,
      identity,
      credentials: this.credentials,
      stepTimeoutMs: STEP_TIMEOUT_MS,
      tokenTtlSeconds: 3600,
      width: video.width,
      height: video.height,
      fps: video.fps,
      videoBitrateKbps: video.kbps,
      keyframeIntervalSeconds: video.keyframeSeconds,
      audio: true,
    };
  }

  /** The last lines of every node's log, for a report of what went wrong. */
  nodeLogs(): string {
    return this.everyNode
      .map((node) => `--- node ${node.name} (${node.url}) ---\n${node.output() || '(nothing)'}`)
      .join('\n');
  }
}

/** Rooms a node holds now (GET /healthz). */
export async function roomsOn(node: TestNode): Promise<number> {
  const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(2000) });
  return ((await response.json()) as { rooms: number }).rooms;
}

/** Waits until `check` holds (polled every 50 ms); throws `why()` past the deadline. */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  why: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(why());
    await sleep(50);
  }
}
