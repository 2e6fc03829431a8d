/**
 * Log-linear latency buckets as chart series: a histogram outline on a
 * logarithmic time axis, bucket merging, and the percentile markers drawn on it.
 * @module
 */

import { type Bucket, validBuckets } from "../schema/mod.ts";

/** A point of a chart series; `y: null` breaks the line (an empty stretch). */
export interface SeriesPoint {
  x: number;
  y: number | null;
}

/** The smallest x drawn on a log axis (a `[0, 1)` bucket starts here). */
const MIN_X = 0.5;

/**
 * The outline of a histogram for a logarithmic x axis: each bucket becomes a
 * flat step from its low to its high bound at its count (or share), and a gap
 * between buckets breaks the line, so empty ranges read as empty.
 * @param buckets `[low_ns, high_ns, count]`, in any order
 * @param options `normalize`: divide counts by the total, so histograms of
 *   different sizes compare (@default false)
 * @returns points `{x, y}`, x ascending
 * @example
 * ```ts
 * import { histogramSeries } from "./_histogram.ts";
 * const s = histogramSeries([[1024, 1088, 3], [1088, 1152, 1]]);
 * console.assert(s.length === 4 && s[0]?.y === 3 && s[3]?.x === 1152);
 * ```
 */
export function histogramSeries(
  buckets: readonly Bucket[],
  options: { normalize?: boolean } = {},
): SeriesPoint[] {
  const { normalize = false } = options;
  const sorted = validBuckets(buckets).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((s, b) => s + b[2], 0);
  const out: SeriesPoint[] = [];
  let prevHigh = -1;
  for (const [low, high, count] of sorted) {
    const y = normalize ? (total > 0 ? count / total : 0) : count;
    const x0 = Math.max(low, MIN_X);
    const x1 = Math.max(high, x0 * 1.0001);
    if (prevHigh >= 0 && x0 > prevHigh) out.push({ x: (prevHigh + x0) / 2, y: null });
    out.push({ x: x0, y }, { x: x1, y });
    prevHigh = x1;
  }
  return out;
}

/** A percentile drawn as a vertical line on a latency chart. */
export interface Marker {
  label: string;
  value: number;
}

/**
 * The percentile markers of a latency summary, in order, skipping values that
 * are not positive numbers.
 * @param stats the `pNN_ns` and `max_ns` fields
 * @returns markers for P50, P90, P99, P99.9 and max
 * @example
 * ```ts
 * import { percentileMarkers } from "./_histogram.ts";
 * const m = percentileMarkers({ p50_ns: 100, p99_ns: 900, max_ns: 5000 });
 * console.assert(m.map((x) => x.label).join() === "P50,P99,max");
 * ```
 */
export function percentileMarkers(
  stats: { p50_ns?: number; p90_ns?: number; p99_ns?: number; p999_ns?: number; max_ns?: number },
): Marker[] {
  const all: [string, number | undefined][] = [
    ["P50", stats.p50_ns],
    ["P90", stats.p90_ns],
    ["P99", stats.p99_ns],
    ["P99.9", stats.p999_ns],
    ["max", stats.max_ns],
  ];
  return all
    .filter((e): e is [string, number] => typeof e[1] === "number" && e[1] > 0)
    .map(([label, value]) => ({ label, value }));
}
