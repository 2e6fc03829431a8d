/**
 * A Run's latency buckets as one base-2 exponential histogram of schema 4
 * (16 buckets per power of two, each 4.4% wide), in seconds: what Prometheus
 * calls a native histogram and OTLP an ExponentialHistogram of scale 4.
 * Native bucket index `i` covers (2^((i-1)/16), 2^(i/16)] seconds; OTLP's
 * index of the same bucket is `i - 1`.
 *
 * Runs store a bucket as integer nanoseconds `[low, high, count]`, `low`
 * inclusive, `high` exclusive. A Run written with schema-4 buckets has
 * `low = floor(1e9 * 2^((i-1)/16)) + 1`, `high = floor(1e9 * 2^(i/16)) + 1`,
 * and converts exactly. A Run written with the older log-linear buckets (16
 * linear sub-buckets per power of two of nanoseconds) is re-bucketed: each
 * old bucket's count goes to the native bucket that holds its largest value
 * (`high - 1` ns). That is exact whenever the old bucket lies inside one
 * native bucket (every old bucket below 16 ns, and about 30% of the others);
 * otherwise its calls are counted at most one old bucket width (6.25%) above
 * where they were, never below: a quantile read from the native histogram is
 * within one old bucket plus one native bucket (6.25% + 4.4%) of the Run's.
 * The bucket `[0, 1)` (calls of 0 ns) is the native zero bucket, with a zero
 * threshold of 0.
 * @module
 */

import {
  type Bucket,
  bucketBounds,
  bucketIndex,
  type RunDocument,
  SLOT_ONE_NATIVE,
  SLOTS,
} from "../../schema/mod.ts";

/** The native index of the programs' last slot: values above 2^48 ns (3.3 days) are counted there. */
const LAST_NATIVE = SLOTS - 2 + SLOT_ONE_NATIVE;

/**
 * The integer nanoseconds native bucket `i` holds: `[low, high)`, from the
 * exact edges of schema/buckets.ts. Buckets below 1 ns hold no integer
 * (`[1, 1)`); indexes past the programs' last slot (2^48 ns) are that slot,
 * as the kernel counts them.
 * @param index a native bucket index (schema 4, seconds)
 * @returns `[low, high]`, low inclusive, high exclusive, in nanoseconds
 * @example
 * ```ts
 * import { nativeBoundsNs } from "./_native_histogram.ts";
 * // 2^0 s = 1e9 ns is the upper bound of bucket 0.
 * console.assert(nativeBoundsNs(0)[1] === 1e9 + 1);
 * ```
 */
export function nativeBoundsNs(index: number): [number, number] {
  if (!Number.isInteger(index)) throw new RangeError(`Bad native bucket index: ${index}`);
  if (index < SLOT_ONE_NATIVE) return [1, 1];
  return bucketBounds(Math.min(index, LAST_NATIVE) + 1 - SLOT_ONE_NATIVE);
}

/**
 * The native bucket index holding a duration of `ns` nanoseconds (at least
 * 1): past 2^48 ns, the last slot's, as the kernel counts it.
 * @param ns a positive integer number of nanoseconds
 * @returns the schema-4 bucket index
 * @example
 * ```ts
 * import { nativeIndexOfNs } from "./_native_histogram.ts";
 * console.assert(nativeIndexOfNs(1e9) === 0 && nativeIndexOfNs(1e9 + 1) === 1);
 * ```
 */
export function nativeIndexOfNs(ns: number): number {
  if (!(ns >= 1)) throw new RangeError(`Bad duration for a native bucket: ${ns} ns`);
  return bucketIndex(ns) - 1 + SLOT_ONE_NATIVE;
}

/** A histogram in native form: counts by schema-4 index, in seconds. */
export interface NativeHistogram {
  /** Calls in all (the zero bucket's included). */
  count: number;
  /** Sum of all durations, seconds. */
  sum: number;
  /** Calls of 0 ns (zero threshold 0). */
  zeroCount: number;
  /** Counts by native index, ascending by index, none zero. */
  buckets: [index: number, count: number][];
  /** False when an old (log-linear) bucket straddled native bounds (see the module doc). */
  exact: boolean;
}

/**
 * Converts a Run's buckets to a schema-4 native histogram.
 * @param buckets `[low_ns, high_ns, count]`, schema-4 or older log-linear
 * @param sumNs the sum of the durations, nanoseconds
 * @returns the native histogram
 * @example
 * ```ts
 * import { toNative } from "./_native_histogram.ts";
 * const h = toNative([[0, 1, 2], [5, 6, 3]], 15);
 * console.assert(h.count === 5 && h.zeroCount === 2 && h.buckets.length === 1);
 * ```
 */
export function toNative(buckets: readonly Bucket[], sumNs: number): NativeHistogram {
  const counts = new Map<number, number>();
  let zeroCount = 0;
  let exact = true;
  for (const [low, high, n] of buckets) {
    if (!(n > 0) || !(high > low)) continue;
    if (high <= 1) {
      zeroCount += n;
      continue;
    }
    const i = nativeIndexOfNs(high - 1);
    if (low < nativeBoundsNs(i)[0]) exact = false;
    counts.set(i, (counts.get(i) ?? 0) + n);
  }
  const sorted = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  const count = zeroCount + sorted.reduce((s, [, n]) => s + n, 0);
  return { count, sum: sumNs / 1e9, zeroCount, buckets: sorted, exact };
}

/** Prometheus' sparse form: spans of consecutive buckets, and counts as deltas. */
export interface SpansAndDeltas {
  spans: { offset: number; length: number }[];
  deltas: number[];
}

/**
 * Prometheus' spans and deltas of a native histogram's buckets: each span's
 * offset is the gap from the end of the previous one (the first's is its
 * index), each delta the count minus the previous bucket's.
 * @param buckets `[index, count]` ascending
 * @returns spans and deltas; one empty span for no buckets (so a reader sees a native histogram)
 * @example
 * ```ts
 * import { spansAndDeltas } from "./_native_histogram.ts";
 * const s = spansAndDeltas([[-3, 2], [-2, 5], [4, 1]]);
 * console.assert(s.spans.length === 2 && s.spans[1]?.offset === 5 && s.deltas[2] === -4);
 * ```
 */
export function spansAndDeltas(buckets: readonly [number, number][]): SpansAndDeltas {
  const spans: { offset: number; length: number }[] = [];
  const deltas: number[] = [];
  let next = 0;
  let prev = 0;
  for (const [i, n] of buckets) {
    const last = spans[spans.length - 1];
    if (last && i === next) last.length++;
    else spans.push({ offset: spans.length === 0 ? i : i - next, length: 1 });
    next = i + 1;
    deltas.push(n - prev);
    prev = n;
  }
  if (spans.length === 0) spans.push({ offset: 0, length: 0 });
  return { spans, deltas };
}

/**
 * OTLP's dense form: the offset of the first bucket (OTLP index, native - 1)
 * and every count from there to the last, zeros between.
 * @param buckets `[index, count]` ascending
 * @returns offset and counts
 * @example
 * ```ts
 * import { otlpBuckets } from "./_native_histogram.ts";
 * const b = otlpBuckets([[-3, 2], [-1, 1]]);
 * console.assert(b.offset === -4 && b.bucketCounts.join() === "2,0,1");
 * ```
 */
export function otlpBuckets(
  buckets: readonly [number, number][],
): { offset: number; bucketCounts: number[] } {
  const first = buckets[0]?.[0];
  if (first === undefined) return { offset: 0, bucketCounts: [] };
  const last = buckets[buckets.length - 1]?.[0] ?? first;
  const bucketCounts = new Array<number>(last - first + 1).fill(0);
  for (const [i, n] of buckets) bucketCounts[i - first] = n;
  return { offset: first - 1, bucketCounts };
}

/** One histogram series of a Run: its name, its labels, its histogram. */
export interface HistogramSeries {
  name: string;
  help: string;
  labels: Record<string, string>;
  histogram: NativeHistogram;
  /** The Run's own buckets, for a classic rendering. */
  buckets: readonly Bucket[];
}

/** One counter or gauge series of a Run. */
export interface ScalarSeries {
  name: string;
  help: string;
  type: "counter" | "gauge";
  labels: Record<string, string>;
  value: number;
}

/** What labels every series gets. */
export interface SeriesOptions {
  /**
   * Add `pid` (the first traced process) to every series: one series per
   * process restart, so a fleet store's series multiply. @default false
   */
  pidLabel?: boolean;
}

/**
 * The labels a fleet can afford, on every series of a Run: `host`, `target`
 * (the process name, or the cgroup's path with `--cgroup`) and `backend`;
 * `pid` only when asked.
 * @param run the Run
 * @param options see {@linkcode SeriesOptions}
 * @returns the labels
 */
export function runLabels(run: RunDocument, options: SeriesOptions = {}): Record<string, string> {
  const m = run.meta;
  const labels: Record<string, string> = {
    host: String(m.host ?? ""),
    target: String(m.cgroup?.path ?? m.comm ?? ""),
    backend: String(m.backend ?? ""),
  };
  if (options.pidLabel) labels.pid = String(m.pid ?? 0);
  return labels;
}

/**
 * The two duration histograms of a Run, one series per syscall and per
 * io_uring opcode: `ioscope_syscall_duration_seconds{syscall}` and
 * `ioscope_io_uring_op_duration_seconds{op}` (its sum estimated from the
 * buckets' midpoints: the Run keeps no io_uring total).
 * @param run the Run (cumulative)
 * @param options see {@linkcode SeriesOptions}
 * @returns the series, syscalls first, each sorted by name
 */
export function histogramSeries(run: RunDocument, options: SeriesOptions = {}): HistogramSeries[] {
  const base = runLabels(run, options);
  const out: HistogramSeries[] = [];
  const byName = <T>(o: Record<string, T> | undefined) =>
    Object.entries(o ?? {}).sort(([a], [b]) => a < b ? -1 : 1);
  for (const [name, s] of byName(run.syscalls)) {
    out.push({
      name: "ioscope_syscall_duration_seconds",
      help: "Syscall latency, entry to exit, of the traced processes' successful calls.",
      labels: { ...base, syscall: name },
      histogram: toNative(s.buckets ?? [], Number.isFinite(s.total_ns) ? s.total_ns : 0),
      buckets: s.buckets ?? [],
    });
  }
  for (const [op, s] of byName(run.io_uring)) {
    const buckets = s.buckets ?? [];
    const sum = buckets.reduce((a, [lo, hi, n]) => a + (lo + hi) / 2 * n, 0);
    out.push({
      name: "ioscope_io_uring_op_duration_seconds",
      help: "io_uring request latency, submission to completion, per opcode " +
        "(the sum is estimated from bucket midpoints).",
      labels: { ...base, op },
      histogram: toNative(buckets, sum),
      buckets,
    });
  }
  return out;
}

/**
 * The counters and gauges of a Run that a push carries besides the
 * histograms: calls, errors and bytes per syscall, lost events, seconds traced.
 * @param run the Run (cumulative)
 * @param options see {@linkcode SeriesOptions}
 * @returns the series
 */
export function scalarSeries(run: RunDocument, options: SeriesOptions = {}): ScalarSeries[] {
  const base = runLabels(run, options);
  const out: ScalarSeries[] = [];
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v) ? v : 0;
  for (const [name, s] of Object.entries(run.syscalls ?? {}).sort(([a], [b]) => a < b ? -1 : 1)) {
    out.push({
      name: "ioscope_syscall_bytes_total",
      help: "Bytes moved by successful syscalls (their return values).",
      type: "counter",
      labels: { ...base, syscall: name },
      value: num(s.bytes),
    });
    out.push({
      name: "ioscope_syscall_errors_total",
      help: "Syscalls that returned an error.",
      type: "counter",
      labels: { ...base, syscall: name },
      value: num(s.errors),
    });
  }
  out.push({
    name: "ioscope_lost_events_total",
    help: "Trace events the backend lost.",
    type: "counter",
    labels: base,
    value: num(run.meta.lost_events),
  });
  out.push({
    name: "ioscope_trace_duration_seconds",
    help: "Seconds traced so far.",
    type: "gauge",
    labels: base,
    value: num(run.meta.duration_s),
  });
  return out;
}
