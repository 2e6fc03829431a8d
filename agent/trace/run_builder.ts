/**
 * Turns a backend's cumulative snapshot, plus facts about the target, into the
 * Run document of DESIGN.md. Pure: no I/O.
 * @module
 */

import { bucketBounds, percentiles, toBuckets } from "../../schema/buckets.ts";
import type { OpTotals, Snapshot } from "../../probes/snapshot.ts";
import {
  COPYING_SYSCALLS,
  type IoUringOpStats,
  type RunDocument,
  type RunMeta,
  type SyscallStats,
  type TimelinePoint,
  ZERO_COPY_SYSCALLS,
} from "../../schema/mod.ts";
import type { PerfResult } from "./perf.ts";

/** Counters read from /proc at the start and the end of the trace. */
export interface ProcDeltas {
  minflt: number | null;
  majflt: number | null;
}

function opStats(op: OpTotals): SyscallStats {
  const counts = op.hist;
  const buckets = toBuckets(counts);
  const histCount = buckets.reduce((s, b) => s + b[2], 0);
  // The exact maximum when the backend kept one, else the top of the highest bucket.
  const top = buckets.length ? bucketBounds(Math.max(...counts.keys()))[1] : 0;
  const max_ns = op.max_ns || top;
  // Interpolating inside the top bucket can overshoot the exact maximum.
  const p = percentiles(buckets);
  const clamp = (v: number) => Math.min(v, max_ns);
  return {
    count: Math.max(op.count, histCount),
    errors: op.errors,
    bytes: op.bytes,
    total_ns: op.total_ns,
    p50_ns: clamp(p.p50_ns),
    p90_ns: clamp(p.p90_ns),
    p99_ns: clamp(p.p99_ns),
    p999_ns: clamp(p.p999_ns),
    max_ns,
    buckets,
  };
}

function uringStats(op: OpTotals): IoUringOpStats {
  const s = opStats(op);
  return { ...s, async: op.async ?? 0 };
}

/**
 * Builds the Run document.
 * @param snapshot the backend's final (or latest) cumulative snapshot
 * @param meta facts about the target and the trace
 * @param timeline the per-second samples
 * @param proc /proc fault deltas (minor/major split)
 * @param perf what perf measured over the same window (`--perf`, `--flamegraph`), if it ran
 * @returns the Run document
 */
export function buildRun(
  snapshot: Snapshot,
  meta: RunMeta,
  timeline: TimelinePoint[],
  proc: ProcDeltas,
  perf: PerfResult | null = null,
): RunDocument {
  const syscalls: Record<string, SyscallStats> = {};
  const names = [...snapshot.syscalls.keys()].sort();
  for (const name of names) {
    const op = snapshot.syscalls.get(name);
    if (op && (op.count > 0 || op.hist.size > 0)) syscalls[name] = opStats(op);
  }
  const io_uring: Record<string, IoUringOpStats> = {};
  for (const [name, op] of [...snapshot.io_uring].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (op.count > 0 || op.hist.size > 0) io_uring[name] = uringStats(op);
  }
  const sumBytes = (list: readonly string[]) =>
    list.reduce((s, n) => s + (syscalls[n]?.bytes ?? 0), 0);
  const copied = sumBytes(COPYING_SYSCALLS);
  const zeroCopy = sumBytes(ZERO_COPY_SYSCALLS);
  const unsupported = [...meta.unsupported];
  if (proc.minflt === null) {
    unsupported.push({
      metric: "faults.minor",
      reason: "the target exited before /proc/PID/stat was sampled",
    });
  }
  if (perf) unsupported.push(...perf.unsupported);
  const tlbFlushes = snapshot.tlbSupported
    ? [...snapshot.tlb.values()].reduce((s, n) => s + n, 0)
    : null;
  const run: RunDocument = {
    schema: "ioscope.run/1",
    meta: {
      ...meta,
      lost_events: snapshot.lostEvents,
      map_full: snapshot.mapFull,
      in_flight: snapshot.inFlight,
      unsupported: dedupe(unsupported),
    },
    syscalls,
    io_uring,
    copy: {
      copied_bytes: copied,
      zero_copy_bytes: zeroCopy,
      zero_copy_ratio: copied + zeroCopy > 0 ? round4(zeroCopy / (copied + zeroCopy)) : 0,
    },
    faults: { minor: proc.minflt, major: proc.majflt, total: snapshot.faults },
    tlb: {
      flushes: tlbFlushes,
      by_reason: Object.fromEntries(snapshot.tlb),
      dtlb_load_misses: null,
      ...(perf
        ? { dtlb_load_misses: perf.dtlbLoadMisses, itlb_load_misses: perf.itlbLoadMisses }
        : {}),
    },
    sched: { voluntary: snapshot.voluntary, involuntary: snapshot.involuntary },
    timeline,
  };
  if (perf?.perf) run.perf = perf.perf;
  if (perf?.flamegraph) run.flamegraph = perf.flamegraph;
  return run;
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

function dedupe(list: RunMeta["unsupported"]): RunMeta["unsupported"] {
  const seen = new Set<string>();
  return list.filter((u) => !seen.has(u.metric) && seen.add(u.metric));
}

/** Totals the timeline diffs: calls, bytes and faults so far. */
export function snapshotTotals(s: Snapshot): { syscalls: number; bytes: number; faults: number } {
  let syscalls = 0;
  let bytes = 0;
  for (const op of s.syscalls.values()) {
    syscalls += op.count;
    bytes += op.bytes;
  }
  return { syscalls, bytes, faults: s.faults };
}
