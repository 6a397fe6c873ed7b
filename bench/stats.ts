/** Summary of one series of durations, in milliseconds. */
export interface Summary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** The q-quantile (0 < q <= 1) of ascending values, by nearest rank so it is always a measured value. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('percentile of an empty series');
  if (!(q > 0 && q <= 1)) throw new Error(`quantile must be in (0, 1], got ${q}`);
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** The median of values in any order. */
export function median(values: readonly number[]): number {
  return percentile(ascending(values), 0.5);
}

/** p50, p99 and max of values in any order. */
export function summarize(values: readonly number[]): Summary {
  const sorted = ascending(values);
  return {
    samples: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

function ascending(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}
