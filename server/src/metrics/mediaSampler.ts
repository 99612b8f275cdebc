import type { types } from 'mediasoup';
import type { Counter, Histogram } from 'prom-client';
import type { RoomRegistry } from '../rooms/RoomRegistry.js';
import { localParticipants } from './roomCounts.js';

export interface MediaCounters {
  bytes: Counter<'direction'>;
  packetsLost: Counter<'direction'>;
  keyframeRequests: Counter;
  rtt: Histogram;
}

interface RtpStats {
  type: string;
  packetsLost?: number;
  pliCount?: number;
  firCount?: number;
  roundTripTime?: number;
}

/**
 * Turns the workers' cumulative stats into counters: every interval, one getStats per client
 * transport (bytes), per published track (loss and keyframe requests towards publishers) and per
 * subscription (loss and RTT reported by viewers). What happened on an object after its last
 * sample and before it closed is not counted: the figures are sampled, not exact.
 */
export class MediaSampler {
  readonly #rooms: RoomRegistry;
  readonly #counters: MediaCounters;
  readonly #timer: NodeJS.Timeout;
  /** Last cumulative totals per mediasoup object id, to count only what is new. */
  #last = new Map<string, number>();
  #running = false;

  constructor(rooms: RoomRegistry, counters: MediaCounters, intervalMs: number) {
    this.#rooms = rooms;
    this.#counters = counters;
    this.#timer = setInterval(() => void this.sample(), intervalMs);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** One round of stats; a round still running when the next is due makes that one a no-op. */
  async sample(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const seen = new Map<string, number>();
    const work: Promise<void>[] = [];
    try {
      for (const participant of localParticipants(this.#rooms)) {
        for (const transport of participant.transports.values()) {
          work.push(this.#sampleTransport(transport, seen));
        }
        for (const { producer } of participant.tracks.values()) {
          work.push(this.#sampleProducer(producer, seen));
        }
        for (const { consumer } of participant.subscriptions.values()) {
          work.push(this.#sampleConsumer(consumer, seen));
        }
      }
      await Promise.all(work);
      this.#last = seen;
    } finally {
      this.#running = false;
    }
  }

  async #sampleTransport(transport: types.WebRtcTransport, seen: Map<string, number>) {
    const stats = await settled(transport.getStats());
    const totals = stats?.[0];
    if (!totals) return;
    this.#add(`${transport.id}:in`, totals.bytesReceived, seen, (n) =>
      this.#counters.bytes.inc({ direction: 'in' }, n),
    );
    this.#add(`${transport.id}:out`, totals.bytesSent, seen, (n) =>
      this.#counters.bytes.inc({ direction: 'out' }, n),
    );
  }

  async #sampleProducer(producer: types.Producer, seen: Map<string, number>) {
    const streams = ((await settled(producer.getStats())) ?? []) as RtpStats[];
    const inbound = streams.filter((s) => s.type === 'inbound-rtp');
    if (inbound.length === 0) return;
    this.#add(
      `${producer.id}:lost`,
      sum(inbound, (s) => s.packetsLost),
      seen,
      (n) => this.#counters.packetsLost.inc({ direction: 'in' }, n),
    );
    const requests = sum(inbound, (s) => (s.pliCount ?? 0) + (s.firCount ?? 0));
    this.#add(`${producer.id}:keyframes`, requests, seen, (n) =>
      this.#counters.keyframeRequests.inc(n),
    );
    for (const stream of inbound) this.#observeRtt(stream.roundTripTime);
  }

  async #sampleConsumer(consumer: types.Consumer, seen: Map<string, number>) {
    const streams = ((await settled(consumer.getStats())) ?? []) as RtpStats[];
    const outbound = streams.filter((s) => s.type === 'outbound-rtp');
    if (outbound.length === 0) return;
    this.#add(
      `${consumer.id}:lost`,
      sum(outbound, (s) => s.packetsLost),
      seen,
      (n) => this.#counters.packetsLost.inc({ direction: 'out' }, n),
    );
    for (const stream of outbound) this.#observeRtt(stream.roundTripTime);
  }

  #observeRtt(milliseconds: number | undefined): void {
    if (milliseconds !== undefined && milliseconds > 0) {
      this.#counters.rtt.observe(milliseconds / 1000);
    }
  }

  /** Counts the growth of a cumulative total since its last sample (a reset counts from 0). */
  #add(key: string, total: number, seen: Map<string, number>, count: (n: number) => void) {
    if (!Number.isFinite(total)) return;
    seen.set(key, total);
    const previous = this.#last.get(key) ?? 0;
    const growth = total >= previous ? total - previous : total;
    if (growth > 0) count(growth);
  }
}

/** An object closed while its stats were asked for has none; that is not an error. */
function settled<T>(promise: Promise<T>): Promise<T | undefined> {
  return promise.catch(() => undefined);
}

function sum<T>(items: T[], of: (item: T) => number | undefined): number {
  return items.reduce((total, item) => total + (of(item) ?? 0), 0);
}
