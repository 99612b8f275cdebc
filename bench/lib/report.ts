// Shared by the benchmark scripts: percentiles, rounding, a plain text table and a timeout.

export interface Stats {
  n: number;
  p50: number;
  p95: number;
  min: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function nearestRank(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function stats(values: number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: nearestRank(sorted, 50),
    p95: nearestRank(sorted, 95),
    min: sorted[0] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function roundStats(s: Stats): Stats {
  return { n: s.n, p50: round(s.p50), p95: round(s.p95), min: round(s.min), max: round(s.max) };
}

export const fmt = (value: number): string => (Number.isFinite(value) ? value.toFixed(1) : '—');

/** Column 0 is left-aligned; the others are right-aligned when `numeric`, else left-aligned. */
export function printTable(rows: string[][], numeric = true): void {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => row[col]?.length ?? 0)));
  for (const row of rows) {
    const cells = row.map((cell, col) =>
      col === 0 || !numeric ? cell.padEnd(widths?.[col] ?? 0) : cell.padStart(widths?.[col] ?? 0),
    );
    console.log(`  ${cells.join('  ')}`.trimEnd());
  }
}

/** Prints labelled stats as a p50/p95/min/max table. */
export function printStats(rows: [string, Stats][]): void {
  printTable([
    ['', 'p50', 'p95', 'min', 'max'],
    ...rows.map(([label, s]) => [label, fmt(s.p50), fmt(s.p95), fmt(s.min), fmt(s.max)]),
  ]);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
