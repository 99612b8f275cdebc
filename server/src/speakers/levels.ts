import type { Speaker } from '@livestage/protocol';

/**
 * The loudness that maps to level 0. Levels are linear in dBov between it and full scale (0 dBov
 * → 1): proportional to perceived loudness, so a UI can draw a meter from `level` directly.
 * (Amplitude, 10^(dBov/20), would put ordinary speech at -30 dBov near 0.03.)
 */
export const LEVEL_FLOOR_DBOV = -70;

/** mediasoup's average loudness over an interval (dBov, -127..0) as a level 0..1. */
export function levelFromDbov(dBov: number): number {
  if (!Number.isFinite(dBov)) return 0;
  const level = (dBov - LEVEL_FLOOR_DBOV) / -LEVEL_FLOOR_DBOV;
  // Two decimals: enough for a meter, and a smaller message for every viewer.
  return Math.round(Math.min(1, Math.max(0, level)) * 100) / 100;
}

/** One audio track's loudness in the last interval, named by its publisher. */
export interface TrackVolume {
  identity: string;
  dBov: number;
}

/**
 * The speakers loudest first, one entry per identity (its loudest track), at most `max`. Ties
 * keep a stable order by identity so that equal loudness does not look like a change.
 */
export function speakersFrom(volumes: readonly TrackVolume[], max: number): Speaker[] {
  const loudest = new Map<string, number>();
  for (const { identity, dBov } of volumes) {
    const known = loudest.get(identity);
    if (known === undefined || dBov > known) loudest.set(identity, dBov);
  }
  return [...loudest]
    .sort(([a, aDbov], [b, bDbov]) => bDbov - aDbov || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, max)
    .map(([identity, dBov]) => ({ identity, level: levelFromDbov(dBov) }));
}
