/**
 * A Run document in the Prometheus text exposition format (version 0.0.4),
 * with the metric names of DESIGN.md. Latency histograms get a fixed set of
 * cumulative `le` buckets in seconds: two per power of two, at 2^(j/2) s
 * (Prometheus schema 1), from 2^-22 s (238 ns) to 2^5 s (32 s), 55 in all
 * plus `+Inf` (a scraper stores 58 series per histogram, with `_sum` and
 * `_count`; native histograms, over protobuf, are what a fleet should keep).
 * Each is an edge of the Run's own buckets (schema 4, 2^(i/16) s:
 * schema/buckets.ts), so each count is exact; a quantile Prometheus computes
 * from them lies in the same coarse bucket as the Run's own, whose edges are a
 * factor sqrt(2) apart: the two are within a factor sqrt(2) of each other (the
 * scraper's 29% under to 41% over the Run's). (An `ioscope.run/1` Run's
 * log-linear buckets are counted under the first bound at or above their top.)
 * @module
 */

import { type Bucket, bucketBounds, type RunDocument, SLOT_ONE_NATIVE } from "../../schema/mod.ts";
import { runLabels, type SeriesOptions } from "./_native_histogram.ts";

/** The HTTP Content-Type of the text format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Coarse buckets per power of two (schema 1). */
const PER_OCTAVE = 2;
const FIRST = -22 * PER_OCTAVE; // 2^-22 s = 238 ns
const LAST = 5 * PER_OCTAVE; // 2^5 s = 32 s

/**
 * The histogram bucket bounds exposed, in nanoseconds, ascending (no `+Inf`).
 * @returns 55 bounds, 1e9 * 2^(j/2) ns for j = -44..10
 * @example
 * ```ts
 * import { histogramBoundsNs } from "./openmetrics.ts";
 * const b = histogramBoundsNs();
 * console.assert(b[0] === 1e9 / 2 ** 22 && b[44] === 1e9 && b.length === 55);
 * ```
 */
export function histogramBoundsNs(): number[] {
  const out: number[] = [];
  for (let j = FIRST; j <= LAST; j++) {
    out.push(1e9 * 2 ** (j / PER_OCTAVE));
  }
  return out;
}

/**
 * The largest whole ns at or under each bound: the top of the Run bucket that
 * ends there (native index 8j, slot 8j + 479 of schema/buckets.ts).
 */
const BOUND_TOPS_NS = Array.from(
  { length: LAST - FIRST + 1 },
  (_, k) => bucketBounds((16 / PER_OCTAVE) * (FIRST + k) + 1 - SLOT_ONE_NATIVE)[1] - 1,
);

const BOUNDS_NS = histogramBoundsNs();

/**
 * Escapes a label value: backslash, double quote and line feed.
 * @param value the raw value
 * @returns the value to put between double quotes
 * @example
 * ```ts
 * import { escapeLabelValue } from "./openmetrics.ts";
 * console.assert(escapeLabelValue('a"b\\c\nd') === 'a\\"b\\\\c\\nd');
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

function labels(pairs: Record<string, string>): string {
  const parts = Object.entries(pairs).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function num(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  return String(v);
}

/**
 * Cumulative counts at each exposed bound from `[low, high, n]` buckets: a
 * bucket counts under the first bound at or above its top value (high - 1),
 * exact for schema-4 buckets, whose tops include every bound's.
 * @param buckets the Run's buckets, nanoseconds
 * @returns `[le_ns, cumulative]` pairs, the last one `Infinity`
 */
export function cumulativeBuckets(buckets: readonly Bucket[]): [number, number][] {
  const counts = new Array<number>(BOUNDS_NS.length + 1).fill(0);
  for (const [, high, n] of buckets) {
    if (!(n > 0)) continue;
    let i = 0;
    // BOUNDS_NS is short (55 bounds): a linear scan keeps this obvious.
    while (i < BOUND_TOPS_NS.length && (BOUND_TOPS_NS[i] ?? Infinity) < high - 1) i++;
    counts[i] = (counts[i] ?? 0) + n;
  }
  const out: [number, number][] = [];
  let sum = 0;
  for (let i = 0; i < BOUNDS_NS.length; i++) {
    sum += counts[i] ?? 0;
    out.push([BOUNDS_NS[i] ?? 0, sum]);
  }
  out.push([Infinity, sum + (counts[BOUNDS_NS.length] ?? 0)]);
  return out;
}

class Writer {
  lines: string[] = [];
  #declared = new Set<string>();

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    if (this.#declared.has(name)) return;
    this.#declared.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.lines.push(`# TYPE ${name} ${type}`);
  }

  sample(name: string, l: Record<string, string>, value: number): void {
    this.lines.push(`${name}${labels(l)} ${num(value)}`);
  }

  histogram(name: string, l: Record<string, string>, buckets: readonly Bucket[], sumNs: number) {
    const cum = cumulativeBuckets(buckets);
    for (const [le, n] of cum) {
      this.sample(`${name}_bucket`, { ...l, le: le === Infinity ? "+Inf" : num(le / 1e9) }, n);
    }
    this.sample(`${name}_sum`, l, sumNs / 1e9);
    this.sample(`${name}_count`, l, cum[cum.length - 1]?.[1] ?? 0);
  }
}

function finite(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * Renders the Run so far as Prometheus text. Counters are the Run's totals
 * since the trace began; a metric the Run could not measure (null) is left
 * out rather than reported as zero. Every series has the labels `host`,
 * `target` (process name, or cgroup path) and `backend`; `pid` only with
 * `pidLabel` (one series per process: a fleet store's series multiply).
 * @param run the Run document (cumulative)
 * @param options see {@linkcode SeriesOptions}
 * @returns the exposition text, ending in a newline
 * @example
 * ```ts
 * import { renderMetrics } from "./openmetrics.ts";
 * import type { RunDocument } from "../../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_fio_psync.json")) as RunDocument;
 * console.assert(renderMetrics(run).includes("# TYPE ioscope_syscall_duration_seconds histogram"));
 * ```
 */
export function renderMetrics(run: RunDocument, options: SeriesOptions = {}): string {
  const w = new Writer();
  const m = run.meta;
  const target = runLabels(run, options);

  const syscalls = Object.entries(run.syscalls ?? {}).sort(([a], [b]) => a < b ? -1 : 1);
  w.family(
    "ioscope_syscall_duration_seconds",
    "histogram",
    "Syscall latency, entry to exit, of the traced process.",
  );
  for (const [name, s] of syscalls) {
    w.histogram(
      "ioscope_syscall_duration_seconds",
      { syscall: name, ...target },
      s.buckets ?? [],
      finite(s.total_ns) ?? 0,
    );
  }
  w.family(
    "ioscope_syscall_bytes_total",
    "counter",
    "Bytes moved by successful syscalls (their return values).",
  );
  for (const [name, s] of syscalls) {
    w.sample("ioscope_syscall_bytes_total", { syscall: name, ...target }, finite(s.bytes) ?? 0);
  }
  w.family("ioscope_syscall_errors_total", "counter", "Syscalls that returned an error.");
  for (const [name, s] of syscalls) {
    w.sample("ioscope_syscall_errors_total", { syscall: name, ...target }, finite(s.errors) ?? 0);
  }

  const ops = Object.entries(run.io_uring ?? {}).sort(([a], [b]) => a < b ? -1 : 1);
  if (ops.length > 0) {
    w.family(
      "ioscope_io_uring_op_duration_seconds",
      "histogram",
      "io_uring request latency, submission to completion, per opcode " +
        "(the sum is estimated from bucket midpoints).",
    );
    for (const [op, s] of ops) {
      const buckets = s.buckets ?? [];
      const sum = buckets.reduce((a, [lo, hi, n]) => a + (lo + hi) / 2 * n, 0);
      w.histogram("ioscope_io_uring_op_duration_seconds", { op, ...target }, buckets, sum);
    }
    w.family("ioscope_io_uring_op_bytes_total", "counter", "Bytes moved by io_uring requests.");
    for (const [op, s] of ops) {
      w.sample("ioscope_io_uring_op_bytes_total", { op, ...target }, finite(s.bytes) ?? 0);
    }
  }

  const copy = run.copy;
  if (copy) {
    w.family(
      "ioscope_transfer_bytes_total",
      "counter",
      "Bytes moved, by path: copied through a user buffer, or zero-copy.",
    );
    w.sample("ioscope_transfer_bytes_total", { path: "copy", ...target }, copy.copied_bytes ?? 0);
    w.sample(
      "ioscope_transfer_bytes_total",
      { path: "zero_copy", ...target },
      copy.zero_copy_bytes ?? 0,
    );
  }

  const faults = run.faults;
  const minor = finite(faults?.minor);
  const major = finite(faults?.major);
  if (minor !== null || major !== null) {
    w.family("ioscope_page_faults_total", "counter", "Page faults of the traced process.");
    if (minor !== null) w.sample("ioscope_page_faults_total", { kind: "minor", ...target }, minor);
    if (major !== null) w.sample("ioscope_page_faults_total", { kind: "major", ...target }, major);
  }
  const flushes = finite(run.tlb?.flushes);
  if (flushes !== null) {
    w.family(
      "ioscope_tlb_flushes_total",
      "counter",
      "TLB flushes of the traced processes' address spaces (IPI sends and 0-page events excluded).",
    );
    w.sample("ioscope_tlb_flushes_total", target, flushes);
  }
  if (run.sched) {
    w.family(
      "ioscope_context_switches_total",
      "counter",
      "Context switches of the traced process (voluntary: it blocked; involuntary: preempted).",
    );
    for (const kind of ["voluntary", "involuntary"] as const) {
      const v = finite(run.sched[kind]);
      if (v !== null) w.sample("ioscope_context_switches_total", { kind, ...target }, v);
    }
  }
  w.family("ioscope_lost_events_total", "counter", "Trace events the backend lost.");
  w.sample("ioscope_lost_events_total", target, finite(m.lost_events) ?? 0);
  w.family("ioscope_trace_duration_seconds", "gauge", "Seconds traced so far.");
  w.sample("ioscope_trace_duration_seconds", target, finite(m.duration_s) ?? 0);
  w.family(
    "ioscope_trace_info",
    "gauge",
    "The trace: backend, host and kernel as labels; always 1.",
  );
  w.sample("ioscope_trace_info", { ...target, kernel: String(m.kernel ?? "") }, 1);
  return w.lines.join("\n") + "\n";
}
