import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Thrown when an environment variable has a bad value; names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const flag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

// Every variable here is documented in .env.example.
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(3000),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  MEDIA_WORKERS: z.coerce.number().int().min(0).max(256).default(0),
  MEDIA_WORKER_LOG_LEVEL: z.enum(['debug', 'warn', 'error', 'none']).default('warn'),
  MEDIA_WORKER_WATCHDOG_TIMEOUT_MS: positiveInt.default(10_000),
  MEDIA_LISTEN_IP: z.string().min(1).default('127.0.0.1'),
  MEDIA_ANNOUNCED_IP: z.string().optional(),
  MEDIA_PORT_BASE: port.default(40000),
  MEDIA_RELAY_MIN_PORT: port.default(41000),
  MEDIA_RELAY_MAX_PORT: port.default(41999),
  MEDIA_INITIAL_OUTGOING_BITRATE: positiveInt.default(1_000_000),
  MEDIA_MAX_INCOMING_BITRATE: positiveInt.default(5_000_000),
  MEDIA_WORKER_MAX_CONSUMERS: positiveInt.default(600),
  MEDIA_KEYFRAME_REQUEST_DELAY_MS: z.coerce.number().int().min(0).max(10_000).default(500),
  MEDIA_DYNACAST: flag.default(true),
  LIVESTAGE_API_KEY: z.string().min(3).optional(),
  LIVESTAGE_API_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TOKEN_DEFAULT_TTL_SECONDS: positiveInt.default(4 * 3600),
  ALLOWED_ORIGINS: csv.default([]),
  DEV_ENDPOINTS: flag.optional(),
  ROOM_MAX_PARTICIPANTS: positiveInt.default(10_000),
  ROOM_EMPTY_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  MAX_TRANSPORTS_PER_PARTICIPANT: positiveInt.default(4),
  MAX_PRODUCERS_PER_PARTICIPANT: positiveInt.default(4),
  MAX_CONSUMERS_PER_PARTICIPANT: positiveInt.default(200),
  ROOM_AUDIENCE_PRESENCE_LIMIT: z.coerce.number().int().min(0).default(100),
  ROOM_VIEWER_COUNT_INTERVAL_MS: positiveInt.default(2_000),
  RECONNECT_GRACE_MS: z.coerce.number().int().min(0).default(20_000),
  MEDIA_INACTIVE_AFTER_MS: positiveInt.default(5_000),
  MEDIA_CLOSE_AFTER_MS: positiveInt.default(30_000),
  DRAIN_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  RATE_LIMIT_REQUESTS_PER_SECOND: positiveInt.default(50),
  RATE_LIMIT_IP_REQUESTS_PER_SECOND: positiveInt.default(5_000),
  RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE: positiveInt.default(3_000),
  RATE_LIMIT_IP_FAILED_CONNECTIONS_PER_MINUTE: positiveInt.default(60),
  RATE_LIMIT_TOKEN_CONNECTIONS_PER_MINUTE: positiveInt.default(30),
  STAGE_MAX: z.coerce.number().int().min(0).max(64).default(6),
  STAGE_HAND_TTL_MS: positiveInt.default(5 * 60_000),
  STAGE_INVITE_TTL_MS: positiveInt.default(60_000),
  QUALITY_REPORT_INTERVAL_MS: z.coerce.number().int().min(0).default(5_000),
  CHAT_HISTORY_SIZE: z.coerce.number().int().min(0).max(1_000).default(50),
  CHAT_ROOM_BUDGET: positiveInt.default(40),
  CHAT_BUDGET_WINDOW_MS: positiveInt.default(200),
  CHAT_SENDER_PER_SECOND: positiveInt.default(5),
  CHAT_BATCH_MIN_PARTICIPANTS: z.coerce.number().int().min(0).default(50),
  CHAT_BATCH_MS: positiveInt.default(150),
  REACTION_INTERVAL_MS: positiveInt.default(1_000),
  REACTIONS_PER_SECOND: positiveInt.default(10),
  DATA_PER_SECOND: positiveInt.default(20),
  DATA_ROOM_PER_SECOND: positiveInt.default(50),
  ACTIVE_SPEAKER_INTERVAL_MS: z.coerce.number().int().min(250).max(5_000).default(300),
  ACTIVE_SPEAKER_THRESHOLD_DBOV: z.coerce.number().int().min(-127).max(0).default(-70),
  REDIS_URL: z.string().url().optional(),
  CLUSTER_NODE_URL: z.string().url().optional(),
  CLUSTER_HEARTBEAT_MS: positiveInt.default(2_000),
  NODE_MAX_PARTICIPANTS: positiveInt.default(5_000),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  WEBHOOK_URLS: csv.pipe(z.array(z.url({ protocol: /^https?$/ }))).default([]),
  WEBHOOK_TIMEOUT_MS: positiveInt.default(5_000),
  WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(4),
  WEBHOOK_RETRY_BASE_MS: positiveInt.default(1_000),
  WEBHOOK_QUEUE_LIMIT: positiveInt.default(1_000),
  ICE_SERVERS: csv.default([]),
  ICE_USERNAME: z.string().optional(),
  ICE_CREDENTIAL: z.string().optional(),
  FFMPEG_PATH: z.string().min(1).default('ffmpeg'),
  HLS_DIR: z.string().min(1).default('data/hls'),
  HLS_SEGMENT_SECONDS: z.coerce.number().int().min(1).max(10).default(2),
  HLS_LIST_SIZE: z.coerce.number().int().min(3).max(60).default(6),
  RECORDINGS_DIR: z.string().min(1).default('data/recordings'),
  EGRESS_MAX: z.coerce.number().int().min(0).max(64).default(4),
  EGRESS_VIDEO_BITRATE: positiveInt.default(2_500_000),
  SNAPSHOT_INTERVAL_MS: z.coerce.number().int().min(0).default(0),
  SNAPSHOT_DIR: z.string().min(1).default('data/snapshots'),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly http: { readonly host: string; readonly port: number };
  readonly log: { readonly level: string; readonly format: 'json' | 'pretty' };
  readonly media: {
    readonly workers: number;
    readonly workerLogLevel: 'debug' | 'warn' | 'error' | 'none';
    /** A worker that does not answer a ping within timeoutMs is killed (and replaced). */
    readonly watchdog: { readonly intervalMs: number; readonly timeoutMs: number };
    readonly listenIp: string;
    readonly announcedIp: string | undefined;
    /** Worker i listens on portBase + i (UDP and TCP); 0 picks free ports. */
    readonly portBase: number;
    /** Ports the workers take for transports of their own: the pipes between nodes. */
    readonly relayPorts: { readonly min: number; readonly max: number };
    readonly initialOutgoingBitrate: number;
    readonly maxIncomingBitrate: number;
    /**
     * Consumers one worker should carry (all rooms together). A room's viewers go to the
     * least-loaded worker under it; past it on every worker, to the least loaded anyway.
     */
    readonly maxConsumersPerWorker: number;
    /** At most one keyframe request per published stream this often (ms); 0: no throttle. */
    readonly keyFrameRequestDelayMs: number;
    /** Publishers are told to stop encoding simulcast layers that no viewer needs. */
    readonly dynacast: boolean;
  };
  readonly auth: {
    readonly apiKey: string;
    readonly apiSecret: string;
    /** True when no key pair was configured and a throwaway one was generated. */
    readonly generatedKeys: boolean;
    readonly defaultTtlSeconds: number;
  };
  readonly allowedOrigins: readonly string[];
  /**
   * GET /api/dev/token mints any role for anyone. On only with the embedded throwaway key pair
   * (no LIVESTAGE_API_KEY) or with DEV_ENDPOINTS=true; never in production.
   */
  readonly devEndpoints: boolean;
  readonly rooms: {
    readonly maxParticipants: number;
    readonly emptyGraceMs: number;
    readonly maxTransportsPerParticipant: number;
    readonly maxProducersPerParticipant: number;
    readonly maxConsumersPerParticipant: number;
    /** How long a participant whose connection dropped is kept for it to resume. */
    readonly reconnectGraceMs: number;
    /**
     * Past this many participants, a room is large: an audience member's join or leave is told
     * to hosts only (not to the rest of the audience), and everyone follows `viewerCount`.
     */
    readonly audiencePresenceLimit: number;
    /** How often the viewer count is sent while it changes. */
    readonly viewerCountIntervalMs: number;
  };
  readonly liveness: {
    readonly checkIntervalMs: number;
    /** A producer without RTP this long is reported stalled to its subscribers. */
    readonly inactiveAfterMs: number;
    /** A producer without RTP this long is closed. */
    readonly closeAfterMs: number;
  };
  /** On SIGTERM, how long to wait for rooms to empty before exiting anyway. */
  readonly drainTimeoutMs: number;
  readonly rateLimits: {
    readonly requestsPerSecondPerSocket: number;
    readonly requestsPerSecondPerIp: number;
    readonly connectionsPerMinutePerIp: number;
    /** Connections refused for a bad or missing token, per IP: the abuse signal. */
    readonly failedConnectionsPerMinutePerIp: number;
    /** Connections per token (its identity in its room): one client reconnecting in a loop. */
    readonly connectionsPerMinutePerToken: number;
  };
  readonly stage: {
    /** Guests on stage at once (hosts do not count). */
    readonly maxGuests: number;
    /** A raised hand lapses after this long without a decision. */
    readonly handTtlMs: number;
    /** An invitation lapses after this long without an answer. */
    readonly inviteTtlMs: number;
  };
  /** Set when REDIS_URL is: this node is one of the cluster of nodes sharing that Redis. */
  readonly cluster:
    | {
        readonly redisUrl: string;
        /** How clients and other nodes reach this node; default http://HOST:PORT as bound. */
        readonly nodeUrl: string | undefined;
        /** The node re-registers this often; it is gone 3 periods after its last refresh. */
        readonly heartbeatMs: number;
      }
    | undefined;
  readonly quality: {
    /** A quality report per room this often (ms); 0: none. */
    readonly reportIntervalMs: number;
  };
  /** Chat, reactions and data messages (server/src/interaction). */
  readonly interaction: InteractionLimits;
  /** Active speakers (server/src/speakers): who speaks, measured on each room's origin router. */
  readonly speakers: {
    /** Measured and told at most this often (ms; mediasoup takes 250..5000). */
    readonly intervalMs: number;
    /** Quieter than this on average over an interval (dBov, -127..0) is not speaking. */
    readonly thresholdDbov: number;
  };
  /** GET /metrics asks for `Authorization: Bearer <token>` when one is set; open otherwise. */
  readonly metrics: { readonly token: string | undefined };
  readonly node: {
    /** Past this many participants, the node refuses new ones (UNAVAILABLE, naming a better node). */
    readonly maxParticipants: number;
  };
  /** Signed POSTs of room events (LiveKit's webhook format) to every URL; none: off. */
  readonly webhooks: {
    readonly urls: readonly string[];
    /** One attempt's deadline (ms): a receiver slower than this counts as failed. */
    readonly timeoutMs: number;
    /** Attempts per event and URL; between them, retryBaseMs doubled each time. */
    readonly attempts: number;
    readonly retryBaseMs: number;
    /** Events waiting per URL; past it the oldest waiting one is dropped (and counted). */
    readonly queueLimit: number;
  };
  /** WHIP ingress and WHEP playback over HTTP (server/src/ingest). */
  readonly whip: {
    /**
     * STUN/TURN URLs given to WHIP and WHEP clients in `Link: rel="ice-server"` headers; TURN
     * ones carry the username and credential.
     */
    readonly iceServers: readonly string[];
    readonly iceUsername: string | undefined;
    readonly iceCredential: string | undefined;
  };
  /** HLS, recordings and snapshots, made by Debian's ffmpeg (server/src/egress). */
  readonly egress: {
    readonly ffmpegPath: string;
    /** Playlists and segments, one folder per room (served at /hls/{room}/index.m3u8). */
    readonly hlsDir: string;
    readonly hlsSegmentSeconds: number;
    /** Segments kept in the live playlist (older ones are deleted). */
    readonly hlsListSize: number;
    readonly recordingsDir: string;
    /** HLS and recording egresses running at once on this node (each is one ffmpeg). */
    readonly maxEgresses: number;
    /** The composite's H.264 bitrate (bits/s). */
    readonly videoBitrate: number;
    /** A JPEG of every live video this often (ms); 0: no snapshots. */
    readonly snapshotIntervalMs: number;
    readonly snapshotDir: string;
  };
}

export interface InteractionLimits {
  /** Room messages kept for newcomers (the join reply); private ones are never kept. */
  readonly chatHistorySize: number;
  /**
   * Audience messages a room takes per window (per node in a cluster); past it they are refused
   * with RATE_LIMITED. Hosts' and guests' messages always pass and do not count.
   */
  readonly chatRoomBudget: number;
  readonly chatBudgetWindowMs: number;
  /** One audience member's messages per second, so that one person cannot take the budget. */
  readonly chatSenderPerSecond: number;
  /** Past this many participants on a node, chat goes out in batches (one write per viewer). */
  readonly chatBatchMinParticipants: number;
  readonly chatBatchMs: number;
  /** Reaction counts go out this often while there are any. */
  readonly reactionIntervalMs: number;
  /** One participant's reactions per second. */
  readonly reactionsPerSecond: number;
  /** One participant's data messages per second. */
  readonly dataPerSecond: number;
  /**
   * The audience's data messages per second for the whole room (per node in a cluster); past it
   * they are refused with RATE_LIMITED. Hosts' and guests' messages do not count.
   */
  readonly dataRoomPerSecond: number;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Reads the environment into a frozen Config; a bad value throws ConfigError naming it. */
export function loadConfig(
  source: Record<string, string | undefined>,
  generateSecret: () => string = () => cryptoRandom(),
): Config {
  const present = Object.fromEntries(
    Object.entries(source).filter(([key, value]) => key in envSchema.shape && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (issue) =>
        `${issue.path.join('.')}=${JSON.stringify(present[String(issue.path[0])])}: ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const env = parsed.data;
  const production = env.NODE_ENV === 'production';
  if (Boolean(env.LIVESTAGE_API_KEY) !== Boolean(env.LIVESTAGE_API_SECRET)) {
    throw new ConfigError(
      'LIVESTAGE_API_KEY and LIVESTAGE_API_SECRET must be set together (or neither, outside production)',
    );
  }
  if (production && !env.LIVESTAGE_API_KEY) {
    throw new ConfigError(
      'LIVESTAGE_API_KEY and LIVESTAGE_API_SECRET are required when NODE_ENV=production',
    );
  }
  if (env.MEDIA_RELAY_MIN_PORT > env.MEDIA_RELAY_MAX_PORT) {
    throw new ConfigError('MEDIA_RELAY_MIN_PORT must not be above MEDIA_RELAY_MAX_PORT');
  }
  if (production && env.DEV_ENDPOINTS) {
    throw new ConfigError('DEV_ENDPOINTS=true is not allowed when NODE_ENV=production');
  }
  return deepFreeze({
    env: env.NODE_ENV,
    http: { host: env.HOST, port: env.PORT },
    log: { level: env.LOG_LEVEL, format: env.LOG_FORMAT ?? (production ? 'json' : 'pretty') },
    media: {
      workers: env.MEDIA_WORKERS === 0 ? os.availableParallelism() : env.MEDIA_WORKERS,
      workerLogLevel: env.MEDIA_WORKER_LOG_LEVEL,
      watchdog: {
        intervalMs: Math.min(5_000, env.MEDIA_WORKER_WATCHDOG_TIMEOUT_MS),
        timeoutMs: env.MEDIA_WORKER_WATCHDOG_TIMEOUT_MS,
      },
      listenIp: env.MEDIA_LISTEN_IP,
      announcedIp: env.MEDIA_ANNOUNCED_IP,
      portBase: env.MEDIA_PORT_BASE,
      relayPorts: { min: env.MEDIA_RELAY_MIN_PORT, max: env.MEDIA_RELAY_MAX_PORT },
      initialOutgoingBitrate: env.MEDIA_INITIAL_OUTGOING_BITRATE,
      maxIncomingBitrate: env.MEDIA_MAX_INCOMING_BITRATE,
      maxConsumersPerWorker: env.MEDIA_WORKER_MAX_CONSUMERS,
      keyFrameRequestDelayMs: env.MEDIA_KEYFRAME_REQUEST_DELAY_MS,
      dynacast: env.MEDIA_DYNACAST,
    },
    auth: {
      apiKey: env.LIVESTAGE_API_KEY ?? 'dev-key',
      apiSecret: env.LIVESTAGE_API_SECRET ?? generateSecret(),
      generatedKeys: !env.LIVESTAGE_API_KEY,
      defaultTtlSeconds: env.TOKEN_DEFAULT_TTL_SECONDS,
    },
    allowedOrigins: env.ALLOWED_ORIGINS,
    // Real API keys mean a real deployment: the token back door stays shut unless asked for.
    devEndpoints: env.DEV_ENDPOINTS ?? !env.LIVESTAGE_API_KEY,
    rooms: {
      maxParticipants: env.ROOM_MAX_PARTICIPANTS,
      emptyGraceMs: env.ROOM_EMPTY_GRACE_MS,
      maxTransportsPerParticipant: env.MAX_TRANSPORTS_PER_PARTICIPANT,
      maxProducersPerParticipant: env.MAX_PRODUCERS_PER_PARTICIPANT,
      maxConsumersPerParticipant: env.MAX_CONSUMERS_PER_PARTICIPANT,
      reconnectGraceMs: env.RECONNECT_GRACE_MS,
      audiencePresenceLimit: env.ROOM_AUDIENCE_PRESENCE_LIMIT,
      viewerCountIntervalMs: env.ROOM_VIEWER_COUNT_INTERVAL_MS,
    },
    liveness: {
      checkIntervalMs: Math.min(1000, env.MEDIA_INACTIVE_AFTER_MS),
      inactiveAfterMs: env.MEDIA_INACTIVE_AFTER_MS,
      closeAfterMs: Math.max(env.MEDIA_CLOSE_AFTER_MS, env.MEDIA_INACTIVE_AFTER_MS),
    },
    drainTimeoutMs: env.DRAIN_TIMEOUT_MS,
    rateLimits: {
      requestsPerSecondPerSocket: env.RATE_LIMIT_REQUESTS_PER_SECOND,
      requestsPerSecondPerIp: env.RATE_LIMIT_IP_REQUESTS_PER_SECOND,
      connectionsPerMinutePerIp: env.RATE_LIMIT_IP_CONNECTIONS_PER_MINUTE,
      failedConnectionsPerMinutePerIp: env.RATE_LIMIT_IP_FAILED_CONNECTIONS_PER_MINUTE,
      connectionsPerMinutePerToken: env.RATE_LIMIT_TOKEN_CONNECTIONS_PER_MINUTE,
    },
    stage: {
      maxGuests: env.STAGE_MAX,
      handTtlMs: env.STAGE_HAND_TTL_MS,
      inviteTtlMs: env.STAGE_INVITE_TTL_MS,
    },
    cluster: env.REDIS_URL
      ? {
          redisUrl: env.REDIS_URL,
          nodeUrl: env.CLUSTER_NODE_URL,
          heartbeatMs: env.CLUSTER_HEARTBEAT_MS,
        }
      : undefined,
    node: { maxParticipants: env.NODE_MAX_PARTICIPANTS },
    metrics: { token: env.METRICS_TOKEN },
    webhooks: {
      urls: env.WEBHOOK_URLS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      attempts: env.WEBHOOK_ATTEMPTS,
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      queueLimit: env.WEBHOOK_QUEUE_LIMIT,
    },
    whip: {
      iceServers: env.ICE_SERVERS,
      iceUsername: env.ICE_USERNAME,
      iceCredential: env.ICE_CREDENTIAL,
    },
    egress: {
      ffmpegPath: env.FFMPEG_PATH,
      hlsDir: path.resolve(env.HLS_DIR),
      hlsSegmentSeconds: env.HLS_SEGMENT_SECONDS,
      hlsListSize: env.HLS_LIST_SIZE,
      recordingsDir: path.resolve(env.RECORDINGS_DIR),
      maxEgresses: env.EGRESS_MAX,
      videoBitrate: env.EGRESS_VIDEO_BITRATE,
      snapshotIntervalMs: env.SNAPSHOT_INTERVAL_MS,
      snapshotDir: path.resolve(env.SNAPSHOT_DIR),
    },
    quality: { reportIntervalMs: env.QUALITY_REPORT_INTERVAL_MS },
    speakers: {
      intervalMs: env.ACTIVE_SPEAKER_INTERVAL_MS,
      thresholdDbov: env.ACTIVE_SPEAKER_THRESHOLD_DBOV,
    },
    interaction: {
      chatHistorySize: env.CHAT_HISTORY_SIZE,
      chatRoomBudget: env.CHAT_ROOM_BUDGET,
      chatBudgetWindowMs: env.CHAT_BUDGET_WINDOW_MS,
      chatSenderPerSecond: env.CHAT_SENDER_PER_SECOND,
      chatBatchMinParticipants: env.CHAT_BATCH_MIN_PARTICIPANTS,
      chatBatchMs: env.CHAT_BATCH_MS,
      reactionIntervalMs: env.REACTION_INTERVAL_MS,
      reactionsPerSecond: env.REACTIONS_PER_SECOND,
      dataPerSecond: env.DATA_PER_SECOND,
      dataRoomPerSecond: env.DATA_ROOM_PER_SECOND,
    },
  });
}

function cryptoRandom(): string {
  return globalThis.crypto
    .getRandomValues(new Uint8Array(32))
    .reduce((hex, byte) => hex + byte.toString(16).padStart(2, '0'), '');
}
