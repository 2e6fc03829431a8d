/**
 * One interval of a running trace, from two cumulative snapshots: counts,
 * bytes and times are differences, and the percentiles are read from the
 * difference of the two cumulative histograms, bucket by bucket, so they are
 * exactly the interval's (within the bucket error), never an average of
 * averages. Pure: no I/O.
 * @module
 */

import { addIntervalWhy } from "./_why_run.ts";
import {
  type IntervalBlockStats,
  type IntervalDocument,
  type IntervalOpStats,
  quantile,
  toBuckets,
  type Unsupported,
} from "../../schema/mod.ts";
import type { BlockTotals, OpTotals, Snapshot } from "../../probes/mod.ts";

/**
 * The histogram of the calls between two cumulative histograms.
 * @param before bucket index to count, earlier
 * @param after bucket index to count, later
 * @returns bucket index to count, buckets with no new calls left out
 * @example
 * ```ts
 * import { histDelta } from "./_interval.ts";
 * const d = histDelta(new Map([[100, 5]]), new Map([[100, 7], [120, 1]]));
 * console.assert(d.get(100) === 2 && d.get(120) === 1);
 * ```
 */
export function histDelta(
  before: ReadonlyMap<number, number> | undefined,
  after: ReadonlyMap<number, number>,
): Map<number, number> {
  const out = new Map<number, number>();
  for (const [index, n] of after) {
    // A counter never goes down; a smaller value means the backend restarted it.
    const d = n - (before?.get(index) ?? 0);
    if (d > 0) out.set(index, d);
  }
  return out;
}

/**
 * One operation's figures between two cumulative totals.
 * @param before the earlier totals (undefined: none yet)
 * @param after the later totals
 * @param seconds the interval's length
 * @returns calls, rates and the interval's own P50 and P99
 */
export function opInterval(
  before: OpTotals | undefined,
  after: OpTotals,
  seconds: number,
): IntervalOpStats {
  const diff = (a: number, b: number | undefined) => Math.max(0, a - (b ?? 0));
  const buckets = toBuckets(histDelta(before?.hist, after.hist));
  const timed = buckets.reduce((s, b) => s + b[2], 0);
  // Calls from the counter alone, so intervals add up to the trace's count (a
  // backend prints its maps one after another: within one snapshot the
  // histogram may hold a call the counter does not yet); the histogram only
  // for a backend that keeps no counter.
  const counted = diff(after.count, before?.count);
  const calls = counted > 0 ? counted : timed;
  const bytes = diff(after.bytes, before?.bytes);
  const perSecond = (n: number) => seconds > 0 ? round3(n / seconds) : 0;
  return {
    calls,
    calls_per_s: perSecond(calls),
    errors: diff(after.errors, before?.errors),
    bytes,
    bytes_per_s: perSecond(bytes),
    total_ns: diff(after.total_ns, before?.total_ns),
    p50_ns: Math.round(quantile(buckets, 0.5)),
    p99_ns: Math.round(quantile(buckets, 0.99)),
  };
}

/** Facts about the trace an Interval document carries beside the figures. */
export interface IntervalInfo {
  /** Seconds from the probes attached to the end of this interval. */
  tS: number;
  /** The interval's length in seconds. */
  seconds: number;
  pids: number[];
  comm: string;
  backend: string;
  /** @default false */
  final?: boolean;
  /** What the trace cannot measure, with the reason (the Run's meta.unsupported). @default [] */
  unsupported?: readonly Unsupported[];
}

/**
 * The Interval document between two cumulative snapshots of one trace.
 * @param before the snapshot at the interval's start (an empty one at attach)
 * @param after the snapshot at its end
 * @param info the interval's time and the trace's target
 * @returns the Interval document (`ioscope.interval/1`)
 * @example
 * ```ts
 * import { intervalDocument } from "./_interval.ts";
 * import { emptySnapshot } from "../../probes/snapshot.ts";
 * const after = emptySnapshot();
 * after.faults = 30;
 * const doc = intervalDocument(emptySnapshot(), after, {
 *   tS: 2, seconds: 2, pids: [1], comm: "init", backend: "ftrace",
 * });
 * console.assert(doc.faults_per_s === 15);
 * ```
 */
export function intervalDocument(
  before: Snapshot,
  after: Snapshot,
  info: IntervalInfo,
): IntervalDocument {
  const { tS, seconds, pids, comm, backend, final = false, unsupported = [] } = info;
  const ops = (b: Map<string, OpTotals>, a: Map<string, OpTotals>) => {
    const out: Record<string, IntervalOpStats> = {};
    for (const name of [...a.keys()].sort()) {
      const op = a.get(name);
      if (!op) continue;
      const stats = opInterval(b.get(name), op, seconds);
      if (stats.calls > 0) out[name] = stats;
    }
    return out;
  };
  const perSecond = (n: number) => seconds > 0 ? round3(n / seconds) : 0;
  const sum = (m: Map<string, number>) => [...m.values()].reduce((s, n) => s + n, 0);
  const faults = Math.max(0, after.faults - before.faults);
  const switches = Math.max(
    0,
    after.voluntary + after.involuntary - before.voluntary - before.involuntary,
  );
  const tlb = after.tlbSupported ? Math.max(0, sum(after.tlb) - sum(before.tlb)) : null;
  const doc: IntervalDocument = {
    schema: "ioscope.interval/1",
    t_s: round3(tS),
    interval_s: round3(seconds),
    final,
    pids: [...pids],
    comm,
    backend,
    syscalls: ops(before.syscalls, after.syscalls),
    io_uring: ops(before.io_uring, after.io_uring),
    faults,
    faults_per_s: perSecond(faults),
    switches,
    switches_per_s: perSecond(switches),
    tlb_flushes: tlb,
    tlb_flushes_per_s: tlb === null ? null : perSecond(tlb),
    lost_events: Math.max(0, after.lostEvents - before.lostEvents),
    map_full: Math.max(0, (after.mapFull ?? 0) - (before.mapFull ?? 0)),
    recursion_misses: Math.max(0, (after.recursionMisses ?? 0) - (before.recursionMisses ?? 0)),
    unsupported: unsupported.map((u) => ({ ...u })),
    block: after.block ? intervalBlock(before, after) : null,
  };
  addIntervalWhy(doc, before, after);
  return doc;
}

/** The block layer between two cumulative snapshots: devices with a request in between. */
function intervalBlock(
  before: Snapshot,
  after: Snapshot,
): NonNullable<IntervalDocument["block"]> {
  const stats = (b: BlockTotals | undefined, a: BlockTotals, traced: number) => {
    const buckets = toBuckets(histDelta(b?.hist, a.hist));
    return {
      count: Math.max(0, a.count - (b?.count ?? 0)),
      bytes: Math.max(0, a.bytes - (b?.bytes ?? 0)),
      p50_ns: Math.round(quantile(buckets, 0.5)),
      p99_ns: Math.round(quantile(buckets, 0.99)),
      traced,
    } satisfies IntervalBlockStats;
  };
  const out: NonNullable<IntervalDocument["block"]> = {};
  for (const [name, dev] of [...(after.block ?? [])].sort((a, b) => a[0].localeCompare(b[0]))) {
    const was = before.block?.get(name);
    const read = stats(
      was?.read,
      dev.read,
      Math.max(0, dev.traced.read.count - (was?.traced.read.count ?? 0)),
    );
    const write = stats(
      was?.write,
      dev.write,
      Math.max(0, dev.traced.write.count - (was?.traced.write.count ?? 0)),
    );
    if (read.count > 0 || write.count > 0) out[name] = { read, write };
  }
  return out;
}

/**
 * Each syscall's P99 between two cumulative snapshots (for the per-second
 * timeline): syscalls with no timed call in between are left out.
 * @param before the earlier snapshot
 * @param after the later snapshot
 * @returns syscall name to P99 in nanoseconds
 */
export function p99BySyscall(before: Snapshot, after: Snapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of [...after.syscalls.keys()].sort()) {
    const op = after.syscalls.get(name);
    // The same histogram object: no call in between (the bpf backend keeps it when unchanged).
    if (!op || op.hist === before.syscalls.get(name)?.hist) continue;
    const buckets = toBuckets(histDelta(before.syscalls.get(name)?.hist, op.hist));
    if (buckets.length > 0) out[name] = Math.round(quantile(buckets, 0.99));
  }
  return out;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
