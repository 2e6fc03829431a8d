/**
 * Latency buckets: base-2 exponential, 16 per power of two, on edges that are
 * powers of 2^(1/16) **in seconds**: Prometheus' native histogram schema 4 and
 * OpenTelemetry's ExponentialHistogram scale 4, so a histogram read from the
 * kernel is exported, merged across hosts and read back with no re-bucketing.
 * Native bucket `i` holds (2^((i-1)/16), 2^(i/16)] seconds (upper bound
 * included; OTLP's index is i - 1). A value read back from a bucket is within
 * 2^(1/16) - 1 = 4.4% of the truth.
 *
 * Latencies are whole nanoseconds, so each bucket is a range of integers:
 * native bucket `i` is `[floor(E(i-1)) + 1, floor(E(i)) + 1)` ns with
 * `E(i) = 1e9 * 2^(i/16)`, and 0 ns has its own exact bucket `[0, 1)`. The
 * programs count in slots: slot 0 for 0 ns, slot `s >= 1` for native bucket
 * `s - 479` (slot 1 holds 1 ns). In integer arithmetic, with
 * `k = floor(log2 v)` and `m = v << (62 - k)`, the slot is
 * `16k + 1 + #{t in 1..16 : m > SLOT_THRESHOLDS[t - 1]}`: the edges of every
 * octave have the same 16 fractional phases, so 16 constants serve all of them
 * (`tests/schema/buckets_test.ts` checks this against the exact edges).
 *
 * Runs of schema `ioscope.run/1` have log-linear buckets (below 16 ns one per
 * value, above 16 equal sub-buckets per power of two): they are read with
 * their own bounds, as every bucket list is (`quantile`, `percentiles`).
 * @module
 */

import type { Bucket } from "./run.ts";

/** Buckets per power of two. */
export const SUB_BUCKETS = 16;
/** A bucket's width over its low bound, at most: 2^(1/16) - 1 (4.43%). */
export const BUCKET_WIDTH = 2 ** (1 / 16) - 1;
/** The Prometheus native histogram schema of the buckets (OTLP scale 4). */
export const NATIVE_SCHEMA = 4;
/** The native index of slot 1 (the bucket that holds 1 ns). */
export const SLOT_ONE_NATIVE = -478;
/** Slots the programs keep: 0 ns, then up to 2^48 ns (3.3 days); beyond, the last slot. */
export const SLOTS = 48 * SUB_BUCKETS + 2;

/** floor(n^(1/16)) for a non-negative bigint, exactly (Newton's method). */
function root16(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << (BigInt(n.toString(2).length) / 16n + 1n);
  for (;;) {
    const y = (15n * x + n / x ** 15n) / 16n;
    if (y >= x) break;
    x = y;
  }
  while (x ** 16n > n) x--;
  while ((x + 1n) ** 16n <= n) x++;
  return x;
}

/** floor(1e9 * 2^(n/16)), exactly. */
function edgeFloor(n: number): bigint {
  const g = 10n ** 144n; // (1e9)^16
  return root16(n >= 0 ? g << BigInt(n) : g >> BigInt(-n));
}

/**
 * The 16 constants of the in-kernel slot search: `floor(1e9 * 2^((513 + t) / 16))`
 * for t = 1..16, each between 2^62 and 2^63.
 */
export const SLOT_THRESHOLDS: readonly bigint[] = Array.from(
  { length: 16 },
  (_, i) => edgeFloor(513 + i + 1),
);

/** UPPER[s] = the largest value (ns) in slot s; slot 0 holds only 0. */
const UPPER: readonly number[] = Array.from(
  { length: SLOTS },
  (_, s) => s === 0 ? 0 : Number(edgeFloor(s - 1 + SLOT_ONE_NATIVE)),
);

/**
 * The slot of a value, as the probe programs compute it.
 * @param value a non-negative integer (nanoseconds)
 * @returns the slot: 0 for 0 ns, else 1 + the native index + 478, at most SLOTS - 1
 * @example
 * ```ts
 * import { bucketIndex } from "./buckets.ts";
 * console.assert(bucketIndex(0) === 0 && bucketIndex(1) === 1);
 * console.assert(bucketIndex(1_000_000_000) === 479); // native bucket 0: (2^-1/16 s, 1 s]
 * ```
 */
export function bucketIndex(value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`Bad latency value: ${value}`);
  const v = Math.floor(value);
  if (v === 0) return 0;
  // The first slot whose largest value is v or more.
  let lo = 1, hi = SLOTS - 1;
  if (v > UPPER[hi]!) return hi;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (UPPER[mid]! >= v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The values a slot stands for, `[low, high)` over whole nanoseconds.
 * @param index a slot from {@linkcode bucketIndex}
 * @returns `[low, high]`, low inclusive, high exclusive (equal for a slot no integer falls in)
 * @example
 * ```ts
 * import { bucketBounds } from "./buckets.ts";
 * const [low, high] = bucketBounds(479);
 * console.assert(low === 957603281 && high === 1000000001);
 * ```
 */
export function bucketBounds(index: number): [number, number] {
  if (!Number.isInteger(index) || index < 0 || index >= SLOTS) {
    throw new RangeError(`Bad bucket index: ${index}`);
  }
  if (index === 0) return [0, 1];
  return [UPPER[index - 1]! + 1, UPPER[index]! + 1];
}

/**
 * The native (Prometheus schema 4) index of a Run bucket, from its bounds:
 * exact for buckets of this scheme, null for one that is not a native bucket
 * (the zero bucket, or a log-linear bucket of an `ioscope.run/1` Run).
 * @param bucket `[low, high, count]`
 * @returns the index i of (2^((i-1)/16), 2^(i/16)] seconds, or null
 */
export function nativeIndex(bucket: Bucket): number | null {
  const [low, high] = bucket;
  if (high <= 1) return null;
  const s = bucketIndex(high - 1);
  const [l, h] = bucketBounds(s);
  return l === low && h === high ? s - 1 + SLOT_ONE_NATIVE : null;
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
