export interface Percentiles {
  /** How many values there were (viewers that had this figure). */
  n: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

/** Nearest-rank percentiles; null when there is no value. Undefined values are left out. */
export function percentiles(values: (number | undefined)[]): Percentiles {
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] ?? null;
  return { n: sorted.length, p50: rank(50), p95: rank(95), max: sorted[sorted.length - 1] ?? null };
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function roundPercentiles(p: Percentiles, digits = 1): Percentiles {
  const r = (v: number | null) => (v === null ? null : round(v, digits));
  return { n: p.n, p50: r(p.p50), p95: r(p.p95), max: r(p.max) };
}
