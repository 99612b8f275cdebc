import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EgressObserver } from '../egress/EgressService.js';
import type { WorkerPool } from '../media/WorkerPool.js';
import { egressMetrics } from './egressMetrics.js';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { watchLayerSwitches } from './layerSwitches.js';
import { MediaSampler } from './mediaSampler.js';
import { countRooms, KINDS, ROLES } from './roomCounts.js';
import type { SignalingMetrics } from './SignalingMetrics.js';
import { workerUsage } from './workerUsage.js';

export interface MetricsDeps {
  pool: WorkerPool;
  rooms: RoomRegistry;
  /** How often transports, tracks and subscriptions are asked for their stats (default 5 s). */
  sampleIntervalMs?: number;
  /** Webhook deliveries so far: given up on (after retries, or pushed out of a full queue), and made. */
  webhooks?: { readonly dropped: number; readonly delivered: number };
  /** WHIP publications and WHEP playbacks open on this node. */
  ingest?: { count(kind: 'whip' | 'whep'): number };
}

const DIRECTIONS = ['in', 'out'] as const;
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * This server's Prometheus registry: its own (not prom-client's global one), so that several
 * servers in one process never share or clash. Labels are bounded sets (role, kind, direction,
 * error code, worker index); never a room name or an identity.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly signaling: SignalingMetrics;
  /** HLS, recording and snapshot counts (the egress service reports to it). */
  readonly egress: EgressObserver;
  readonly #sampler: MediaSampler;
  readonly #stopLayerSwitches: () => void;
  readonly #stopChatCount: () => void;
  readonly #eventLoop = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });

  constructor({ pool, rooms, sampleIntervalMs = 5_000, webhooks, ingest }: MetricsDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.egress = egressMetrics(this.registry);

    if (ingest) {
      new Gauge({
        name: 'livestage_ingest_sessions',
        help: 'WHIP publications (whip) and WHEP playbacks (whep) open on this node.',
        labelNames: ['kind'],
        registers,
        collect() {
          for (const kind of ['whip', 'whep'] as const) this.set({ kind }, ingest.count(kind));
        },
      });
    }

    // Gauges of what this node holds, counted at scrape time.
    // Each gauge walks the rooms itself (cheap: no worker request), so none depends on another.
    new Gauge({
      name: 'livestage_rooms',
      help: 'Rooms open on this node.',
      registers,
      collect() {
        this.set(rooms.rooms.size);
      },
    });
    new Gauge({
      name: 'livestage_participants',
      help: 'Participants connected to this node, by role.',
      labelNames: ['role'],
      registers,
      collect() {
        const { participants } = countRooms(rooms);
        for (const role of ROLES) this.set({ role }, participants[role]);
      },
    });
    new Gauge({
      name: 'livestage_producers',
      help: 'Tracks published by participants connected to this node, by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        const { producers } = countRooms(rooms);
        for (const kind of KINDS) this.set({ kind }, producers[kind]);
      },
    });
    new Gauge({
      name: 'livestage_consumers',
      help: 'Subscriptions of participants connected to this node, by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        const { consumers } = countRooms(rooms);
        for (const kind of KINDS) this.set({ kind }, consumers[kind]);
      },
    });

    // Media, sampled from the workers' stats.
    const bytes = new Counter({
      name: 'livestage_bytes_total',
      help: 'Bytes received from (in) and sent to (out) clients on their WebRTC transports (sampled).',
      labelNames: ['direction'],
      registers,
    });
    const packetsLost = new Counter({
      name: 'livestage_packets_lost_total',
      help: 'RTP packets lost from publishers (in) and, as viewers report, to viewers (out) (sampled).',
      labelNames: ['direction'],
      registers,
    });
    for (const direction of DIRECTIONS) {
      bytes.inc({ direction }, 0);
      packetsLost.inc({ direction }, 0);
    }
    const keyframeRequests = new Counter({
      name: 'livestage_keyframe_requests_total',
      help: 'Keyframe requests (PLI + FIR) sent to publishers (sampled).',
      registers,
    });
    const rtt = new Histogram({
      name: 'livestage_rtt_seconds',
      help: 'Round-trip times the RTCP of published and subscribed streams reports, one per stream per sample.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
      registers,
    });
    this.#sampler = new MediaSampler(
      rooms,
      { bytes, packetsLost, keyframeRequests, rtt },
      sampleIntervalMs,
    );
    const layerSwitches = new Counter({
      name: 'livestage_layer_switches_total',
      help: 'Spatial or temporal layer changes of simulcast and SVC consumers.',
      registers,
    });
    this.#stopLayerSwitches = watchLayerSwitches(pool, () => layerSwitches.inc());

    // Chat: messages accepted, and audience messages shed by a room's flood budget.
    const chatMessages = new Counter({
      name: 'livestage_chat_messages_total',
      help: 'Chat messages accepted on this node (accepted) and refused by the flood budget (shed).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of ['accepted', 'shed'] as const) chatMessages.inc({ outcome }, 0);
    const countChat = (_room: string, outcome: 'accepted' | 'shed') =>
      chatMessages.inc({ outcome });
    rooms.events.on('chatMessage', countChat);
    this.#stopChatCount = () => rooms.events.off('chatMessage', countChat);

    // Signaling.
    const joinSeconds = new Histogram({
      name: 'livestage_join_seconds',
      help: 'From a socket connecting to its join being acknowledged, server side.',
      buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const signalingErrors = new Counter({
      name: 'livestage_signaling_errors_total',
      help: 'Signaling requests and connections refused, by error code.',
      labelNames: ['code'],
      registers,
    });
    const rateLimited = new Counter({
      name: 'livestage_rate_limited_total',
      help: 'Signaling requests and connections refused for a rate limit.',
      registers,
    });
    this.signaling = {
      refused(code) {
        signalingErrors.inc({ code });
        if (code === 'RATE_LIMITED') rateLimited.inc();
      },
      joined(seconds) {
        joinSeconds.observe(seconds);
      },
    };

    // The workers and this process; both worker metrics share one request per worker and scrape.
    const usage = recentlyAsked(() => workerUsage(pool), 1_000);
    new Counter({
      name: 'livestage_worker_cpu_seconds_total',
      help: 'CPU time (user + system) of each mediasoup worker; restarts from 0 with a replaced worker.',
      labelNames: ['worker'],
      registers,
      async collect() {
        const usages = await usage();
        this.reset();
        for (const usage of usages) this.inc({ worker: usage.worker }, usage.cpuSeconds);
      },
    });
    new Gauge({
      name: 'livestage_worker_rss_bytes',
      help: 'Resident memory of each mediasoup worker.',
      labelNames: ['worker'],
      registers,
      async collect() {
        const usages = await usage();
        this.reset();
        for (const usage of usages) this.set({ worker: usage.worker }, usage.rssBytes);
      },
    });
    if (webhooks) {
      for (const [outcome, help] of [
        [
          'dropped',
          'Webhook deliveries given up on (retries exhausted or pushed out of a full queue).',
        ],
        ['delivered', 'Webhook deliveries a receiver accepted.'],
      ] as const) {
        new Counter({
          name: `livestage_webhooks_${outcome}_total`,
          help,
          registers,
          collect() {
            this.reset();
            this.inc(webhooks[outcome]);
          },
        });
      }
    }
    const eventLoop = this.#eventLoop;
    eventLoop.enable();
    new Gauge({
      name: 'livestage_nodejs_eventloop_lag_seconds',
      help: 'Mean event loop delay of the server process since the previous scrape.',
      registers,
      collect() {
        const meanMs = eventLoop.count > 0 ? eventLoop.mean / 1e6 : EVENT_LOOP_RESOLUTION_MS;
        this.set(Math.max(0, meanMs - EVENT_LOOP_RESOLUTION_MS) / 1000);
        eventLoop.reset();
      },
    });
  }

  /** One round of media stats now (tests; the timer does it every sampleIntervalMs). */
  sampleMedia(): Promise<void> {
    return this.#sampler.sample();
  }

  close(): void {
    this.#sampler.close();
    this.#stopLayerSwitches();
    this.#stopChatCount();
    this.#eventLoop.disable();
  }
}

/** Shares one call of `ask` among the callers within `maxAgeMs` of it. */
function recentlyAsked<T>(ask: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; answer: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at > maxAgeMs) last = { at: now, answer: ask() };
    return last.answer;
  };
}
