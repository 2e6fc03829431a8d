/**
 * Turns a backend's cumulative snapshot, plus facts about the target, into the
 * Run document of DESIGN.md. Pure: no I/O.
 * @module
 */

import {
  bucketBounds,
  type IoUringOpStats,
  percentiles,
  type RunDocument,
  type RunMeta,
  type SyscallStats,
  type TimelinePoint,
  toBuckets,
  type Unsupported,
} from "../../schema/mod.ts";
import type { OpTotals, Snapshot } from "../../probes/mod.ts";
import { errnoName } from "../../ffi/mod.ts";
import { copySplit, type FdInfo } from "./_copy_split.ts";
import { topFds } from "./_fd_table.ts";
import type { PerfResult } from "./perf.ts";
import { addWhy } from "./_why_run.ts";
import { addPageCache } from "./_page_cache_run.ts";

/** Counters read from /proc at the start and the end of the trace. */
export interface ProcDeltas {
  minflt: number | null;
  majflt: number | null;
  /**
   * Why they are null, where it is not that the target exited before /proc
   * was read (that reason is the default).
   */
  reason?: Unsupported;
}

/** What a Run says of the target (the session's TraceTarget, described). */
export interface RunTarget {
  /** Thread group ids traced at the start; `meta.pid` is the first. */
  pids: readonly number[];
  comm: string;
  cmdline: string;
  /** The thread id the user gave, when it was a thread of `pids[0]`. */
  threadGiven?: number;
  /** Whether the processes the target forks (or that take its name) were traced too. */
  followedChildren?: boolean;
  cgroup?: { path: string; id: number };
  /** The target's PID namespace, when it is not the agent's. */
  pidNamespace?: { inode: number; pid_in_namespace: number } | null;
}

/** What the Run is built from, beside the snapshot: every fact `meta` holds. */
export interface BuildRunOptions {
  target: RunTarget;
  /** The backend that traced: its name, how it attached, what it cannot measure here. */
  backend: {
    readonly name: RunMeta["backend"];
    readonly attach?: RunMeta["attach"] | undefined;
    /** How 32-bit (compat) calls were told apart (meta.compat_check). */
    readonly compatCheck?: string | undefined;
    readonly unsupported: readonly Unsupported[];
  };
  /** Where the trace ran (`Deno.hostname()`, `Deno.osRelease()`). */
  host: string;
  kernel: string;
  /** When the probes attached. */
  startedAt: Date;
  /** The counting window's length, milliseconds. */
  durationMs: number;
  /** From the start to every probe attached, milliseconds. */
  attachMs: number;
  targetExited: boolean;
  /** Why the trace ended (the session's EndReason). */
  endReason: string;
  /** The per-second samples. @default [] */
  timeline?: TimelinePoint[];
  /** /proc fault deltas (minor/major split). @default both null */
  proc?: ProcDeltas;
  /** What perf measured over the same window (`--perf`, `--flamegraph`), if it ran. @default null */
  perf?: PerfResult | null;
  /** The target's descriptors, resolved while it ran. @default none */
  fds?: ReadonlyMap<string, FdInfo>;
}

/** Why minor/major are null by default: the target exited before /proc/PID/stat was read. */
const EXITED_FAULTS: Unsupported = {
  metric: "faults.minor",
  reason: "the target exited before /proc/PID/stat was sampled",
};

/**
 * What the trace cannot measure, with the reason, as `meta.unsupported` lists
 * it (the live view shows it from each Interval document): the backend's, then
 * the /proc fault split's, then perf's, each metric once.
 * @param backend what the backend cannot measure here
 * @param proc /proc fault deltas
 * @param perf what perf could not measure, if it ran
 * @returns the list
 */
export function unsupportedMetrics(
  backend: readonly Unsupported[],
  proc: ProcDeltas,
  perf: PerfResult | null = null,
): Unsupported[] {
  const list = backend.map((u) => ({ ...u }));
  if (proc.reason) list.push({ ...proc.reason });
  if (proc.minflt === null) list.push({ ...EXITED_FAULTS });
  if (perf) list.push(...perf.unsupported);
  return dedupe(list);
}

/** Errno numbers to names, sorted by count. */
function errnoNames(errnos: ReadonlyMap<number, number>): Record<string, number> {
  return Object.fromEntries(
    [...errnos].sort((a, b) => b[1] - a[1]).map(([n, c]) => [errnoName(n), c]),
  );
}

function opStats(op: OpTotals): SyscallStats {
  const counts = op.hist;
  const buckets = toBuckets(counts);
  const errorBuckets = toBuckets(op.error_hist);
  const histCount = [...buckets, ...errorBuckets].reduce((s, b) => s + b[2], 0);
  // The exact maximum when the backend kept one, else the top of the highest bucket.
  const top = buckets.length ? bucketBounds(Math.max(...counts.keys()))[1] : 0;
  const max_ns = op.max_ns || top;
  // Successful calls' percentiles; interpolating inside the top bucket can
  // overshoot the exact maximum.
  const p = percentiles(buckets);
  const e = percentiles(errorBuckets);
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
    restarts: op.restarts,
    errnos: errnoNames(op.errnos),
    error_buckets: errorBuckets,
    error_p50_ns: clamp(e.p50_ns),
    error_p99_ns: clamp(e.p99_ns),
  };
}

function uringStats(op: OpTotals): IoUringOpStats {
  const { restarts: _, ...s } = opStats(op);
  return { ...s, async: op.async ?? 0, multishot: op.multishot ?? 0, untimed: op.untimed ?? 0 };
}

/** How io_uring requests are timed (meta.io_uring_timing). */
export const IO_URING_TIMING =
  "submission to completion; a multishot request's later completions each from the one before (multishot); CQE_SKIP_SUCCESS requests that succeeded are not timed (untimed)";

/**
 * Builds the Run document: its figures from the snapshot, all of `meta` from
 * the facts about the target and the trace.
 * @param snapshot the backend's final (or latest) cumulative snapshot
 * @param options the facts `meta` holds, the timeline, /proc, perf and descriptors
 * @returns the Run document
 */
export function buildRun(snapshot: Snapshot, options: BuildRunOptions): RunDocument {
  const {
    target,
    backend,
    timeline = [],
    proc = { minflt: null, majflt: null },
    perf = null,
    fds = new Map(),
  } = options;
  const syscalls: Record<string, SyscallStats> = {};
  const names = [...snapshot.syscalls.keys()].sort();
  for (const name of names) {
    const op = snapshot.syscalls.get(name);
    if (op && (op.count > 0 || op.hist.size > 0)) syscalls[name] = opStats(op);
  }
  const io_uring: Record<string, IoUringOpStats> = {};
  for (const [name, op] of [...snapshot.io_uring].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (op.count > 0 || op.hist.size > 0 || (op.untimed ?? 0) > 0) {
      io_uring[name] = uringStats(op);
    }
  }
  const tlbFlushes = snapshot.tlbSupported
    ? [...snapshot.tlb.values()].reduce((s, n) => s + n, 0)
    : null;
  const run: RunDocument = {
    schema: "ioscope.run/2",
    meta: {
      pid: target.pids[0] ?? 0,
      pids: [...target.pids],
      comm: target.comm,
      cmdline: target.cmdline,
      host: options.host,
      kernel: options.kernel,
      backend: backend.name,
      ...(backend.attach ? { attach: structuredClone(backend.attach) } : {}),
      ...(backend.compatCheck ? { compat_check: backend.compatCheck } : {}),
      started_at: options.startedAt.toISOString(),
      duration_s: Math.round(options.durationMs) / 1000,
      target_exited: options.targetExited,
      lost_events: snapshot.lostEvents,
      ...(target.threadGiven !== undefined ? { thread_given: target.threadGiven } : {}),
      ...(target.followedChildren ? { followed_children: true } : {}),
      unsupported: unsupportedMetrics(backend.unsupported, proc, perf),
      end_reason: options.endReason,
      attach_s: options.attachMs / 1000,
      ...(target.cgroup ? { cgroup: { ...target.cgroup } } : {}),
      ...(target.pidNamespace ? { pid_namespace: { ...target.pidNamespace } } : {}),
      map_full: snapshot.mapFull,
      in_flight: snapshot.inFlight,
      recursion_misses: snapshot.recursionMisses,
      ...(snapshot.compatCalls ? { compat_syscalls: snapshot.compatCalls } : {}),
      ...(Object.keys(io_uring).length ? { io_uring_timing: IO_URING_TIMING } : {}),
    },
    syscalls,
    io_uring,
    copy: copySplit(snapshot, fds),
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
    ...(snapshot.fds.size ? { fds: topFds(snapshot.fds, fds) } : {}),
  };
  if (perf?.perf) run.perf = perf.perf;
  if (perf?.flamegraph) run.flamegraph = perf.flamegraph;
  addWhy(run, snapshot);
  addPageCache(run, snapshot, fds);
  return run;
}

function dedupe(list: RunMeta["unsupported"]): RunMeta["unsupported"] {
  const seen = new Set<string>();
  return list.filter((u) => !seen.has(u.metric) && seen.add(u.metric));
}

/**
 * Totals the timeline diffs: calls, bytes and faults so far. Bytes include
 * io_uring requests' bytes (an io_uring server moves its data there); tee's
 * duplicated bytes are not counted.
 */
export function snapshotTotals(s: Snapshot): { syscalls: number; bytes: number; faults: number } {
  let syscalls = 0;
  let bytes = 0;
  for (const [name, op] of s.syscalls) {
    syscalls += op.count;
    if (name !== "tee") bytes += op.bytes;
  }
  for (const [name, op] of s.io_uring) if (name !== "TEE") bytes += op.bytes;
  return { syscalls, bytes, faults: s.faults };
}
