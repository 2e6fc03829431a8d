/**
 * Log-linear latency buckets, the scheme the probe programs compute in the
 * kernel: values below 16 get a bucket each; above, every power of two
 * [2^e, 2^(e+1)) is split into 16 equal sub-buckets. A value read back from a
 * bucket is within 1/16 (6.25%) of the truth, and interpolation inside the
 * bucket usually does better.
 *
 * Bucket index: `v` for v < 16, else `e * 16 + ((v >> (e - 4)) & 15)` with
 * `e = floor(log2(v))`. Indexes are unique and increase with the value.
 * @module
 */

import type { Bucket } from "./run.ts";

/** Sub-buckets per power of two. */
export const SUB_BUCKETS = 16;

/**
 * The bucket index of a value, as the probe programs compute it.
 * @param value a non-negative integer (nanoseconds)
 * @returns the bucket index
 * @example
 * ```ts
 * import { bucketIndex } from "./buckets.ts";
 * console.assert(bucketIndex(5) === 5);
 * console.assert(bucketIndex(1000) === 9 * 16 + 15);
 * ```
 */
export function bucketIndex(value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Bad latency value: ${value}`);
  const v = Math.floor(value);
  if (v < SUB_BUCKETS) return v;
  const e = Math.floor(Math.log2(v));
  // log2 of a float may round up at exact powers of two minus one; correct it.
  const exp = 2 ** e > v ? e - 1 : e;
  const sub = Math.floor(v / 2 ** (exp - 4)) - SUB_BUCKETS;
  return exp * SUB_BUCKETS + sub;
}

/**
 * The value range `[low, high)` a bucket index stands for.
 * @param index a bucket index from {@linkcode bucketIndex}
 * @returns `[low, high]`, low inclusive, high exclusive
 * @example
 * ```ts
 * import { bucketBounds } from "./buckets.ts";
 * const [low, high] = bucketBounds(9 * 16 + 15);
 * console.assert(low === 992 && high === 1024);
 * ```
 */
export function bucketBounds(index: number): [number, number] {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`Bad bucket index: ${index}`);
  if (index < SUB_BUCKETS) return [index, index + 1];
  const e = Math.floor(index / SUB_BUCKETS);
  const sub = index % SUB_BUCKETS;
  const width = 2 ** (e - 4);
  return [(SUB_BUCKETS + sub) * width, (SUB_BUCKETS + sub + 1) * width];
}

/**
 * Turns bucket counts keyed by index into sorted `[low, high, count]` buckets.
 * @param counts index to count
 * @returns buckets sorted by low bound, empty ones dropped
 */
export function toBuckets(counts: Map<number, number>): Bucket[] {
  return [...counts.entries()]
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[0] - b[0])
    .map(([i, n]) => [...bucketBounds(i), n] as Bucket);
}

/**
 * A quantile read from buckets, interpolating linearly inside the bucket that
 * holds it (as Prometheus' histogram_quantile does).
 * @param buckets sorted `[low, high, count]` buckets
 * @param q the quantile, 0 to 1
 * @returns the value in the buckets' unit, or 0 with no data
 * @example
 * ```ts
 * import { quantile } from "./buckets.ts";
 * console.assert(quantile([[100, 200, 10]], 0.5) === 150);
 * ```
 */
export function quantile(buckets: readonly Bucket[], q: number): number {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`Quantile must be within 0..1, got ${q}`);
  const total = buckets.reduce((s, b) => s + b[2], 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (const [low, high, n] of buckets) {
    if (seen + n >= rank && n > 0) {
      return low + (high - low) * Math.max(0, rank - seen) / n;
    }
    seen += n;
  }
  const last = buckets[buckets.length - 1];
  return last ? last[1] : 0;
}

/**
 * The well-formed buckets of a list that may come from an untrusted document:
 * `[low, high, count]` with finite numbers, `0 <= low < high` and `count > 0`.
 * @param buckets a bucket list, or anything
 * @returns copies of its well-formed buckets, in their order
 * @example
 * ```ts
 * import { validBuckets } from "./buckets.ts";
 * console.assert(validBuckets([[16, 17, 1], [4, 2, 1], [8, 9, 0]]).length === 1);
 * ```
 */
export function validBuckets(buckets: unknown): Bucket[] {
  if (!Array.isArray(buckets)) return [];
  return buckets.filter((b): b is Bucket =>
    Array.isArray(b) && b.length >= 3 && b.every((v) => typeof v === "number" && isFinite(v)) &&
    b[2] > 0 && b[1] > b[0] && b[0] >= 0
  ).map((b) => [b[0], b[1], b[2]]);
}

/**
 * Merges bucket lists (same scheme) into one sorted list; malformed buckets
 * are dropped (see {@linkcode validBuckets}).
 * @param lists the bucket lists
 * @returns one list sorted by low bound, counts of equal buckets summed
 * @example
 * ```ts
 * import { mergeBuckets } from "./buckets.ts";
 * const m = mergeBuckets([[16, 17, 1]], [[16, 17, 2], [32, 34, 1]]);
 * console.assert(m.length === 2 && m[0]?.[2] === 3);
 * ```
 */
export function mergeBuckets(...lists: readonly (readonly Bucket[])[]): Bucket[] {
  const byBounds = new Map<string, Bucket>();
  for (const list of lists) {
    for (const [low, high, n] of validBuckets(list)) {
      const key = `${low}:${high}`;
      const b = byBounds.get(key);
      if (b) b[2] += n;
      else byBounds.set(key, [low, high, n]);
    }
  }
  return [...byBounds.values()].sort((a, b) => a[0] - b[0]);
}

/** The percentiles the Run document carries, read from buckets. */
export function percentiles(
  buckets: readonly Bucket[],
): { p50_ns: number; p90_ns: number; p99_ns: number; p999_ns: number } {
  const r = (q: number) => Math.round(quantile(buckets, q));
  return { p50_ns: r(0.5), p90_ns: r(0.9), p99_ns: r(0.99), p999_ns: r(0.999) };
}
