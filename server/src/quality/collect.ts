import type { types } from 'mediasoup';
import type {
  LayerQuality,
  QualityReport,
  SubscriptionQuality,
  TrackQuality,
} from '@livestage/protocol';
import type { PublishedTrack, Subscription } from '../rooms/Participant.js';
import type { Room } from '../rooms/Room.js';

/** mediasoup reports RTCP's fraction lost (0–255). */
const FRACTION_SCALE = 256;

/**
 * One quality report of a room, from mediasoup's own statistics: one getStats per published
 * track and per subscription of this node's participants (stand-ins' tracks are reported by
 * their own node).
 */
export async function collectRoomQuality(room: Room, viewerCount: number): Promise<QualityReport> {
  const local = [...room.participants.values()].filter((p) => !p.remote && p.joined && !p.closed);
  const [tracks, subscriptions] = await Promise.all([
    Promise.all(
      local.flatMap((participant) =>
        [...participant.tracks.values()].map((track) => trackQuality(participant.identity, track)),
      ),
    ),
    Promise.all(
      local.flatMap((participant) =>
        [...participant.subscriptions.values()].map((subscription) =>
          subscriptionQuality(participant.identity, subscription),
        ),
      ),
    ),
  ]);
  return {
    room: room.name,
    at: Date.now(),
    viewerCount,
    tracks: tracks.filter((t): t is TrackQuality => t !== undefined),
    subscriptions: subscriptions.filter((s): s is SubscriptionQuality => s !== undefined),
  };
}

async function trackQuality(
  identity: string,
  { producer, source }: PublishedTrack,
): Promise<TrackQuality | undefined> {
  const stats = await producer.getStats().catch(() => undefined);
  if (!stats || producer.closed) return undefined;
  const clockRate = producer.rtpParameters.codecs[0]?.clockRate ?? 90_000;
  const layers: LayerQuality[] = stats.map((stat) => ({
    rid: stat.rid ?? null,
    bitrate: stat.bitrate,
    score: stat.score,
  }));
  return {
    trackId: producer.id,
    identity,
    kind: producer.kind,
    source,
    paused: producer.paused,
    bitrate: sum(stats.map((stat) => stat.bitrate)),
    layers,
    packetsLost: sum(stats.map((stat) => stat.packetsLost)),
    fractionLost: Math.max(0, ...stats.map((stat) => stat.fractionLost)) / FRACTION_SCALE,
    jitterMs: Math.max(0, ...stats.map((stat) => (stat.jitter / clockRate) * 1000)),
    score: stats.length > 0 ? Math.min(...stats.map((stat) => stat.score)) : 0,
  };
}

async function subscriptionQuality(
  identity: string,
  { consumer, publisherIdentity }: Subscription,
): Promise<SubscriptionQuality | undefined> {
  const stats = await consumer.getStats().catch(() => undefined);
  if (!stats || consumer.closed) return undefined;
  const outbound = stats.find((stat) => stat.type === 'outbound-rtp') as
    types.ConsumerStat | undefined;
  return {
    identity,
    trackId: consumer.producerId,
    publisher: publisherIdentity,
    kind: consumer.kind,
    spatialLayer: consumer.currentLayers?.spatialLayer ?? null,
    temporalLayer: consumer.currentLayers?.temporalLayer ?? null,
    paused: consumer.paused || consumer.producerPaused,
    bitrate: outbound?.bitrate ?? 0,
    packetsLost: outbound?.packetsLost ?? 0,
    fractionLost: (outbound?.fractionLost ?? 0) / FRACTION_SCALE,
    rttMs: outbound?.roundTripTime ?? null,
    score: consumer.score.score,
    producerScore: consumer.score.producerScore,
  };
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
