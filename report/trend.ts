/**
 * Trend analysis over a store of Run documents: runs grouped by target
 * (process name and command line), a series per metric that matters (P50,
 * P99 and P99.9 of the hot syscalls and io_uring ops, bytes/s, zero-copy
 * ratio, faults/s, context switches/s), and the latest run judged against a
 * baseline window of the runs before it.
 *
 * The regression rule knows that these machines are noisy. A metric of the
 * latest run is a regression when it is worse than the baseline median
 *
 * 1. by more than the threshold (10% by default),
 * 2. by more than the baseline's own run-to-run spread allows: k robust
 *    standard deviations (1.4826 x MAD) times sqrt(1 + 1/n), with k the
 *    one-sided 99% Student t quantile for n - 1 degrees of freedom, which is
 *    a 99% prediction interval for one more run like the n baseline runs,
 * 3. by more than its own sampling noise allows: for a percentile, the spread
 *    of the values at ranks q -+ 2.33 sqrt(q(1-q)/n) in the run's buckets; for
 *    a count per second, Poisson noise (2.33 sqrt(2/N) for N events),
 * 4. and is worse than every baseline run.
 *
 * Judged: the latency percentiles, the zero-copy ratio (lower is worse), page
 * faults/s, major faults/s and voluntary context switches/s. Charted but never
 * flagged: bytes/s (it follows the load on the target) and involuntary context
 * switches/s (they follow the host's CPU contention).
 *
 * Latencies and rates are compared on a log scale (a change is a ratio), each
 * after adding a floor below which changes do not matter (3 us for a P50,
 * 20 us for a P99 or P99.9: see LATENCY_FLOOR_NS, TAIL_FLOOR_NS). With
 * fewer than 3 baseline runs the spread cannot be estimated, so only a change
 * of 2x or more is flagged. A percentile is judged only when the run had at
 * least 10 calls above it (P99 needs 1000 calls), so one slow call is never a
 * "P99.9 regression", and a P99.9 only once there are 5 baseline runs. Pure functions: no I/O.
 * @module
 */

import {
  type MetricTrend,
  type Regression,
  type RunDocument,
  targetId,
  targetName,
  type TargetTrend,
  TREND_SCHEMA,
  type TrendSummary,
  type TrendUnit,
} from "../schema/mod.ts";

/** One run given to {@linkcode analyzeTrends}. */
export interface TrendInput {
  /** The run's file name in the store. */
  file: string;
  /** The Run document. */
  run: RunDocument;
}

/** Options of {@linkcode analyzeTrends}. */
export interface TrendOptions {
  /** The smallest change that can be a regression, as a fraction. @default 0.1 */
  threshold?: number;
  /** How many runs before the latest make the baseline. @default 7 */
  baselineRuns?: number;
  /** How many syscalls (and io_uring ops) per target get latency series. @default 6 */
  hotLimit?: number;
}

/** Baseline runs needed to estimate their spread. */
export const MIN_SPREAD_RUNS = 3;
/** Change flagged when the spread is unknown (fewer baseline runs): 2x. */
export const FEW_RUNS_FACTOR = 2;
/** Baseline runs a P99.9 needs before it is judged. */
export const TAIL_BASELINE_RUNS = 5;
/** Calls above a percentile needed to judge it. */
export const MIN_TAIL_CALLS = 10;

// One-sided 99% Student t quantiles by degrees of freedom (2 and up).
const T99: [number, number][] = [
  [2, 6.965],
  [3, 4.541],
  [4, 3.747],
  [5, 3.365],
  [6, 3.143],
  [7, 2.998],
  [8, 2.896],
  [9, 2.821],
  [10, 2.764],
  [12, 2.681],
  [15, 2.602],
  [20, 2.528],
  [30, 2.457],
  [60, 2.390],
];

/**
 * The one-sided 99% Student t quantile for `dof` degrees of freedom.
 * @param dof degrees of freedom, 1 or more
 * @returns the quantile (2.390 from 60 on; the limit is 2.326)
 */
export function t99(dof: number): number {
  if (dof < 2) return 31.82;
  let t = 6.965;
  for (const [d, q] of T99) if (dof >= d) t = q;
  return t;
}

/**
 * The median of numbers.
 * @param xs the numbers (not empty)
 * @returns the median
 * @example
 * ```ts
 * import { median } from "./trend.ts";
 * console.assert(median([3, 1, 2, 10]) === 2.5);
 * ```
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] ?? NaN : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** What {@linkcode judge} needs to know about a metric. */
export interface JudgeSpec {
  worse: "higher" | "lower";
  /** "log": compare ratios (values >= 0; `floor` is added first); "linear": differences. */
  scale: "log" | "linear";
  /** Log scale: a value added before taking logs, below which changes do not matter. */
  floor?: number;
  /** Linear scale: the smallest absolute change that matters. */
  minDelta?: number;
  /**
   * Log scale: the latest value's own sampling noise, as a log ratio (about
   * 99% one-sided): a change smaller than it could be chance within the runs.
   * @default 0
   */
  samplingD?: number;
}

/** The result of {@linkcode judge}. */
export interface Judgement {
  verdict: "regression" | "improvement" | "ok" | "no-baseline";
  baseline: number | null;
  change: number | null;
  tolerance: number | null;
  reason: string;
}

/**
 * Judges a latest value against baseline values with the noise-aware rule
 * (see the module doc).
 * @param baseline the baseline runs' values
 * @param latest the latest run's value
 * @param spec which way is worse and how values compare
 * @param threshold the smallest relative change that can matter (0.1)
 * @returns the verdict, the baseline median, the change and the tolerance
 * @example
 * ```ts
 * import { judge } from "./trend.ts";
 * const spec = { worse: "higher", scale: "log" } as const;
 * console.assert(judge([100, 104, 98], 103, spec, 0.1).verdict === "ok");
 * console.assert(judge([100, 104, 98], 300, spec, 0.1).verdict === "regression");
 * ```
 */
export function judge(
  baseline: readonly number[],
  latest: number,
  spec: JudgeSpec,
  threshold: number,
): Judgement {
  const n = baseline.length;
  if (n === 0) {
    return {
      verdict: "no-baseline",
      baseline: null,
      change: null,
      tolerance: null,
      reason: "no earlier runs to compare with",
    };
  }
  const med = median(baseline);
  const change = med !== 0 ? (latest - med) / med : latest === 0 ? 0 : null;
  const sign = spec.worse === "higher" ? 1 : -1;
  const f = spec.scale === "log"
    ? (v: number) => Math.log(Math.max(v, 0) + (spec.floor ?? 0))
    : (v: number) => v;
  const tb = baseline.map(f);
  const tm = f(med);
  // The worse-direction distance of the latest value from the median, in f's units.
  const d = sign * (f(latest) - tm);
  const sigma = 1.4826 * median(tb.map((v) => Math.abs(v - median(tb))));
  const few = n < MIN_SPREAD_RUNS;
  const rel = few ? Math.max(threshold, FEW_RUNS_FACTOR - 1) : threshold;
  // The threshold, in f's units.
  const thresholdD = spec.scale === "log"
    ? Math.log(1 + rel)
    : Math.max(rel * Math.abs(med), spec.minDelta ?? 0);
  const spreadD = few ? 0 : t99(n - 1) * sigma * Math.sqrt(1 + 1 / n);
  const samplingD = spec.scale === "log" ? spec.samplingD ?? 0 : 0;
  const allowedD = Math.max(thresholdD, spreadD, samplingD);
  // The tolerance as a relative change of the baseline median (none from 0).
  const tolerance = med === 0
    ? null
    : spec.scale === "log"
    ? (Math.exp(tm + sign * allowedD) - (spec.floor ?? 0)) / med - 1
    : sign * allowedD / Math.abs(med);
  // Worse than every baseline run; from TAIL_BASELINE_RUNS runs on, every one
  // but the worst: one run hit by a burst of host noise (a P99 of 2.2 ms among
  // five of 0.42-0.44 ms here) must not hide a 1.75x regression for good.
  const ds = tb.map((v) => sign * (f(latest) - v)).sort((a, b) => a - b);
  const worstD = (n >= TAIL_BASELINE_RUNS ? ds[1] : ds[0]) ?? 0;
  const runs = `${n} baseline run${n > 1 ? "s" : ""}`;
  const limit = few
    ? `${Math.round(rel * 100 + 100) / 100}x (${runs}: too few to know their spread)`
    : allowedD === thresholdD
    ? `the ${Math.round(threshold * 1000) / 10}% threshold (${runs} agree closely)`
    : allowedD === samplingD
    ? "the sampling noise of one run"
    : `what the spread of ${runs} allows`;
  const verdict = (v: Judgement["verdict"], reason: string): Judgement => ({
    verdict: v,
    baseline: med,
    change,
    tolerance,
    reason,
  });
  if (d > allowedD && worstD > 0) {
    const than = n >= TAIL_BASELINE_RUNS ? "every baseline run but one" : "every baseline run";
    return verdict("regression", `worse than ${than}, and by more than ${limit}`);
  }
  const bestD = Math.min(...tb.map((v) => -sign * (f(latest) - v)));
  if (-d > allowedD && bestD > 0) {
    return verdict("improvement", `better than every baseline run, and by more than ${limit}`);
  }
  return verdict(
    "ok",
    d > allowedD
      ? n >= TAIL_BASELINE_RUNS
        ? "no worse than the second worst baseline run"
        : "no worse than the worst baseline run"
      : `within ${limit}`,
  );
}

/**
 * Added to latencies before their ratio is taken. A syscall tracepoint times a
 * call of a microsecond or two only to within a microsecond or so (the
 * transitions and the probes' own cost), and on a VM such calls move by a third
 * between like runs: 1.24 us in three runs and 1.62 us in the next were
 * measured here. So 1.2 us must rise past 1.6 us to count as 10% worse, while a
 * 50 us call still counts at 55 us.
 */
const LATENCY_FLOOR_NS = 3000;
/**
 * The same for P99 and P99.9: a tail of a few microseconds is moved by one
 * burst of interrupts, preemption or host steal. Like runs here moved a P99
 * from 1.66 to 2.43 us and from 2.21 to 4.28 us, and a P99.9 from 2.8 to 29.7
 * us; O_DIRECT reads after page-cache hits moved the P99 from 6.9 to 92 us.
 */
const TAIL_FLOOR_NS = 20_000;

interface MetricDef {
  metric: string;
  label: string;
  unit: TrendUnit;
  chart: string;
  spec: JudgeSpec;
  judged: boolean;
  /** Judged only with at least this many baseline runs; shown before. @default 0 */
  minBaselineRuns?: number;
  /**
   * The value of a run, or null; `enough`: whether it stands on enough samples
   * to judge; `samplingD`: its sampling noise as a log ratio.
   */
  value(run: RunDocument): { v: number | null; enough: boolean; samplingD?: number };
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function perSecond(v: unknown, run: RunDocument): number | null {
  const x = num(v);
  const s = num(run.meta?.duration_s);
  return x === null || s === null || s <= 0 ? null : x / s;
}

/** z for about 99% one-sided. */
const Z99 = 2.326;

/**
 * A quantile of `[low, high, count]` buckets, interpolating inside the bucket
 * (as the Run's own percentiles are read).
 */
function bucketQuantile(buckets: readonly (readonly number[])[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + (b[2] ?? 0), 0);
  if (!(total > 0)) return null;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let seen = 0;
  for (const [low = 0, high = 0, n = 0] of buckets) {
    if (n > 0 && seen + n >= rank) return low + (high - low) * Math.max(0, rank - seen) / n;
    seen += n;
  }
  return buckets[buckets.length - 1]?.[1] ?? null;
}

/**
 * How far a percentile read from one run's buckets may be off by chance: the
 * values at ranks q -+ z*sqrt(q(1-q)/n), as half their log ratio, times sqrt 2
 * (the latest run and a baseline run each carry it).
 */
function percentileNoise(buckets: readonly (readonly number[])[], q: number): number {
  const n = buckets.reduce((a, b) => a + (b[2] ?? 0), 0);
  if (!(n > 0)) return 0;
  const se = Math.sqrt(q * (1 - q) / n);
  const lo = bucketQuantile(buckets, q - Z99 * se);
  const hi = bucketQuantile(buckets, q + Z99 * se);
  if (!lo || !hi || lo <= 0) return 0;
  return Math.log(hi / lo) / 2 * Math.SQRT2;
}

/**
 * A per-second rate of a count, with its Poisson noise as a log ratio: two
 * runs of N events each differ by about sqrt(2/N) by chance alone.
 */
function countRate(
  total: unknown,
  run: RunDocument,
  floorPerS: number,
): { v: number | null; enough: boolean; samplingD: number } {
  const v = perSecond(total, run);
  const s = num(run.meta?.duration_s) ?? 0;
  const events = (v ?? 0) * s + floorPerS * s;
  return { v, enough: true, samplingD: events > 0 ? Z99 * Math.sqrt(2 / events) : 0 };
}

const PERCENTILES = [
  ["p50_ns", "P50", 0.5],
  ["p99_ns", "P99", 0.99],
  ["p999_ns", "P99.9", 0.999],
] as const;

function latencyDefs(kind: "syscalls" | "io_uring", name: string): MetricDef[] {
  const what = kind === "io_uring" ? `io_uring ${name}` : name;
  return PERCENTILES.map(([field, label, q]) => ({
    metric: `${kind}.${name}.${field}`,
    label: `${what} ${label}`,
    unit: "ns" as const,
    chart: `${kind}.${name}`,
    // A P99.9 is a handful of calls in a thousand: one burst of host noise in a
    // run moves it 4-6x (like runs here: 3.0 -> 17.3 us, 3.95 -> 16.0 us), so
    // its run-to-run spread takes more nights to know.
    ...(q === 0.999 ? { minBaselineRuns: TAIL_BASELINE_RUNS } : {}),
    spec: {
      worse: "higher",
      scale: "log",
      floor: q === 0.5 ? LATENCY_FLOOR_NS : TAIL_FLOOR_NS,
    } as const,
    judged: true,
    value(run: RunDocument) {
      const s = run[kind]?.[name];
      const v = num(s?.[field]);
      const count = num(s?.count) ?? 0;
      return {
        v: v !== null && count > 0 ? v : null,
        enough: count * (1 - q) >= MIN_TAIL_CALLS,
        samplingD: percentileNoise(Array.isArray(s?.buckets) ? s.buckets : [], q),
      };
    },
  }));
}

const RATE_DEFS: MetricDef[] = [
  {
    // Bytes/s measures the load the target had as much as its I/O paths: shown, not judged.
    metric: "bytes_per_s",
    label: "bytes/s",
    unit: "bytes/s",
    chart: "throughput",
    spec: { worse: "lower", scale: "log", floor: 65536 },
    judged: false,
    value: (run) => ({
      v: perSecond((num(run.copy?.copied_bytes) ?? 0) + (num(run.copy?.zero_copy_bytes) ?? 0), run),
      enough: true,
    }),
  },
  {
    metric: "copy.zero_copy_ratio",
    label: "zero-copy ratio",
    unit: "percent",
    chart: "zero_copy",
    spec: { worse: "lower", scale: "linear", minDelta: 0.02 },
    judged: true,
    value: (run) => {
      const c = num(run.copy?.copied_bytes) ?? 0;
      const z = num(run.copy?.zero_copy_bytes) ?? 0;
      return { v: c + z > 0 ? z / (c + z) : null, enough: c + z > 0 };
    },
  },
  {
    metric: "faults_per_s",
    label: "page faults/s",
    unit: "count/s",
    chart: "faults",
    spec: { worse: "higher", scale: "log", floor: 10 },
    judged: true,
    value: (run) => countRate(run.faults?.total, run, 10),
  },
  {
    metric: "major_faults_per_s",
    label: "major faults/s",
    unit: "count/s",
    chart: "faults",
    spec: { worse: "higher", scale: "log", floor: 1 },
    judged: true,
    value: (run) => countRate(run.faults?.major, run, 1),
  },
  {
    metric: "voluntary_switches_per_s",
    label: "voluntary context switches/s",
    unit: "count/s",
    chart: "switches",
    spec: { worse: "higher", scale: "log", floor: 10 },
    judged: true,
    value: (run) => countRate(run.sched?.voluntary, run, 10),
  },
  {
    // Preemption measures the host's CPU contention more than the target: shown, not judged.
    metric: "involuntary_switches_per_s",
    label: "involuntary context switches/s",
    unit: "count/s",
    chart: "switches",
    spec: { worse: "higher", scale: "log", floor: 10 },
    judged: false,
    value: (run) => countRate(run.sched?.involuntary, run, 10),
  },
];

/**
 * The syscalls (by total time) and io_uring ops (by count) worth a latency
 * series, over the given runs.
 * @param runs the runs to rank over
 * @param limit how many of each
 * @returns the names, hottest first
 */
export function hotNames(
  runs: readonly RunDocument[],
  limit: number,
): { syscalls: string[]; io_uring: string[] } {
  const time = new Map<string, number>();
  const ops = new Map<string, number>();
  for (const r of runs) {
    for (const [name, s] of Object.entries(r.syscalls ?? {})) {
      const t = num(s.total_ns) ?? (num(s.count) ?? 0) * (num(s.p50_ns) ?? 0);
      time.set(name, (time.get(name) ?? 0) + t);
    }
    for (const [op, s] of Object.entries(r.io_uring ?? {})) {
      ops.set(op, (ops.get(op) ?? 0) + (num(s.count) ?? 0));
    }
  }
  const total = [...time.values()].reduce((a, b) => a + b, 0);
  const pick = (m: Map<string, number>, minShare: number) =>
    [...m.entries()]
      .filter(([, v]) => v > 0 && v >= minShare * total)
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, limit)
      .map(([k]) => k);
  return { syscalls: pick(time, 0.01), io_uring: pick(ops, 0) };
}

/** The runs of each target (process name and command line), each list oldest first. */
function runsByTarget(inputs: readonly TrendInput[]): TrendInput[][] {
  const groups = new Map<string, TrendInput[]>();
  for (const input of inputs) {
    const key = `${input.run.meta.comm}\0${input.run.meta.cmdline}`;
    const list = groups.get(key);
    if (list) list.push(input);
    else groups.set(key, [input]);
  }
  const lists = [...groups.values()];
  for (const list of lists) {
    list.sort((a, b) =>
      Date.parse(a.run.meta.started_at) - Date.parse(b.run.meta.started_at) ||
      (a.file < b.file ? -1 : 1)
    );
  }
  return lists;
}

/** One metric's series over a target's runs, and its latest value judged against the baseline. */
function metricTrend(
  def: MetricDef,
  list: readonly TrendInput[],
  window: readonly TrendInput[],
  last: TrendInput,
  threshold: number,
): { metric: MetricTrend; regression: Regression | null } | null {
  const values = list.map((i) => def.value(i.run).v);
  if (values.every((v) => v === null)) return null;
  const now = def.value(last.run);
  const base = window.map((i) => def.value(i.run)).filter((x) => x.v !== null && x.enough)
    .map((x) => x.v as number);
  const m: MetricTrend = {
    metric: def.metric,
    label: def.label,
    unit: def.unit,
    worse: def.spec.worse,
    chart: def.chart,
    values,
    judged: def.judged,
    verdict: "ok",
    baseline: null,
    latest: now.v,
    change: null,
    tolerance: null,
    baseline_runs: base.length,
    reason: "",
  };
  if (now.v === null || !now.enough) {
    m.verdict = "too-few-calls";
    m.reason = def.unit === "ns"
      ? `the latest run has too few calls to judge this percentile (${MIN_TAIL_CALLS} above it)`
      : "the latest run has no value";
    if (base.length > 0) m.baseline = median(base);
    return { metric: m, regression: null };
  }
  const spec = now.samplingD ? { ...def.spec, samplingD: now.samplingD } : def.spec;
  const j = judge(base, now.v, spec, threshold);
  m.verdict = j.verdict;
  m.baseline = j.baseline;
  m.change = j.change;
  m.tolerance = j.tolerance;
  m.reason = j.reason;
  if (!def.judged && j.verdict !== "no-baseline") {
    m.verdict = "not-judged";
    m.reason = def.metric === "bytes_per_s"
      ? "shown, not judged: it follows the load on the target"
      : "shown, not judged: it follows the host's CPU contention";
  }
  const need = def.minBaselineRuns ?? 0;
  if (def.judged && base.length > 0 && base.length < need) {
    m.verdict = "not-judged";
    m.reason = `shown, not judged until ${need} baseline runs: a tail this far out ` +
      "moves several-fold between like runs";
  }
  if (m.verdict !== "regression" || j.baseline === null) return { metric: m, regression: null };
  return {
    metric: m,
    regression: {
      target: targetName(last.run.meta),
      metric: def.metric,
      baseline: j.baseline,
      latest: now.v,
      change: j.change ?? Infinity,
      label: def.label,
      unit: def.unit,
      tolerance: j.tolerance ?? 0,
      baseline_runs: base.length,
      run: last.file,
    },
  };
}

/**
 * One target's trend: a series per metric over its runs (oldest first), the
 * latest judged against the `baselineRuns` before it.
 */
function targetTrend(
  list: readonly TrendInput[],
  last: TrendInput,
  options: { threshold: number; baselineRuns: number; hotLimit: number },
): { target: TargetTrend; regressions: Regression[] } {
  const meta = last.run.meta;
  const window = list.slice(Math.max(0, list.length - 1 - options.baselineRuns), -1);
  const hot = hotNames([...window, last].map((i) => i.run), options.hotLimit);
  const defs = [
    ...hot.syscalls.flatMap((s) => latencyDefs("syscalls", s)),
    ...hot.io_uring.flatMap((op) => latencyDefs("io_uring", op)),
    ...RATE_DEFS,
  ];
  const metrics: MetricTrend[] = [];
  const regressions: Regression[] = [];
  for (const def of defs) {
    const t = metricTrend(def, list, window, last, options.threshold);
    if (!t) continue;
    metrics.push(t.metric);
    if (t.regression) regressions.push(t.regression);
  }
  const target: TargetTrend = {
    target: targetName(meta),
    id: targetId(meta),
    comm: meta.comm,
    cmdline: meta.cmdline,
    runs: list.map((i) => ({
      started_at: i.run.meta.started_at,
      file: i.file,
      duration_s: num(i.run.meta.duration_s) ?? 0,
      host: String(i.run.meta.host ?? ""),
    })),
    latest_file: last.file,
    metrics,
  };
  return { target, regressions };
}

/**
 * Groups runs by target and judges each target's latest run against the runs
 * before it.
 * @param inputs the runs (any order)
 * @param options `threshold` (@default 0.1), `baselineRuns` (@default 7),
 *   `hotLimit` (@default 6)
 * @returns the summary; `problems` is empty (the caller adds the store's)
 * @example
 * ```ts
 * import { analyzeTrends } from "./trend.ts";
 * import type { RunDocument } from "../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_fio_psync.json")) as RunDocument;
 * const s = analyzeTrends([{ file: "a.json", run }, { file: "b.json", run }]);
 * console.assert(s.targets.length === 1 && s.regressions.length === 0);
 * ```
 */
export function analyzeTrends(
  inputs: readonly TrendInput[],
  options: TrendOptions = {},
): TrendSummary {
  const { threshold = 0.1, baselineRuns = 7, hotLimit = 6 } = options;
  if (!(threshold >= 0)) throw new RangeError(`The threshold must be 0 or more, got ${threshold}`);
  if (!(baselineRuns >= 1)) {
    throw new RangeError(`The baseline needs 1 run or more, got ${baselineRuns}`);
  }
  const targets: TargetTrend[] = [];
  const regressions: Regression[] = [];
  for (const list of runsByTarget(inputs)) {
    const last = list[list.length - 1];
    if (!last) continue;
    const t = targetTrend(list, last, { threshold, baselineRuns, hotLimit });
    targets.push(t.target);
    regressions.push(...t.regressions);
  }
  targets.sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  return {
    schema: TREND_SCHEMA,
    generated_at: new Date().toISOString(),
    threshold,
    baseline_window: baselineRuns,
    runs: inputs.length,
    targets,
    regressions,
    problems: [],
  };
}
