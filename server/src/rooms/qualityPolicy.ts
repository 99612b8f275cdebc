import type { QualityPreference, Role } from '@livestage/protocol';

/** mediasoup consumer priority (1..255): under scarce bandwidth the higher one is served first. */
export function consumerPriority(publisherRole: Role, kind: 'audio' | 'video'): number {
  const base = publisherRole === 'host' ? 200 : publisherRole === 'guest' ? 150 : 50;
  // Audio is tiny and matters most for "is it stuck?": always ahead of video of the same role.
  return kind === 'audio' ? base + 50 : base;
}

/** Height of each simulcast layer of a 720p publication, lowest first (scaleResolutionDownBy 4, 2, 1). */
const LAYER_HEIGHTS_720P = [180, 360, 720];

/**
 * The highest spatial layer this subscriber needs: an explicit quality wins; 'auto' follows the
 * rendered size of the element (the smallest layer at least as tall as it). mediasoup then
 * forwards the best layer at or below this that the subscriber's bandwidth estimate allows.
 */
export function preferredSpatialLayer(
  layers: number,
  quality: QualityPreference,
  viewportHeight: number | undefined,
): number {
  const top = Math.max(0, layers - 1);
  if (quality === 'low') return 0;
  if (quality === 'medium') return Math.min(1, top);
  if (quality === 'high' || viewportHeight === undefined) return top;
  const heights = LAYER_HEIGHTS_720P.slice(-layers);
  const needed = heights.findIndex((height) => height >= viewportHeight);
  return needed === -1 ? top : Math.min(needed, top);
}
