/**
 * The Interval document: what one interval of a running trace measured
 * (`trace --interval 1s --json-lines` writes one per line). Rates are per
 * second of the interval; percentiles come from the interval's own histogram
 * (the difference of two cumulative ones), never from an average of averages.
 * Add fields freely; never rename or drop one without bumping the schema.
 * @module
 */

import type { Unsupported } from "./run.ts";
import type { TimeSplit } from "./why.ts";

/** The schema name and version an Interval document carries. */
export const INTERVAL_SCHEMA = "ioscope.interval/1";

/** One syscall's (or io_uring opcode's) figures for one interval. */
export interface IntervalOpStats {
  /** Calls that ended in the interval (successful and failed). */
  calls: number;
  calls_per_s: number;
  errors: number;
  bytes: number;
  bytes_per_s: number;
  /** Time spent in the calls that ended in the interval, nanoseconds. */
  total_ns: number;
  /** Percentiles of the interval's successful calls; 0 when none was timed. */
  p50_ns: number;
  p99_ns: number;
  /**
   * Where the interval's calls' time went (syscalls; null where the backend
   * cannot say, absent in older documents): the Run's `time_split`, for the
   * calls that ended in this interval.
   */
  time_split?: TimeSplit | null;
  /**
   * The same for the interval's slow calls (the Run's `slow_time_split`:
   * at or above the previous interval's P99 bucket); null where the backend
   * cannot say, absent in older documents.
   */
  slow_time_split?: TimeSplit | null;
}

/** One device's completed requests in one direction over one interval. */
export interface IntervalBlockStats {
  count: number;
  bytes: number;
  /** Issue to complete, from the interval's own histogram; 0 when none was timed. */
  p50_ns: number;
  p99_ns: number;
  /** Of `count`, the requests the traced processes issued. */
  traced: number;
}

/** One interval of a running trace, schema `ioscope.interval/1`. */
export interface IntervalDocument {
  schema: "ioscope.interval/1";
  /** Seconds from the probes attached to the end of this interval. */
  t_s: number;
  /** This interval's length in seconds, as measured (about `--interval`). */
  interval_s: number;
  /** True for the last, shorter interval written when the trace ends. */
  final: boolean;
  pids: number[];
  comm: string;
  backend: string;
  /** Syscalls with a call in this interval, keyed by tracepoint name. */
  syscalls: Record<string, IntervalOpStats>;
  /** io_uring opcodes with a completion in this interval, keyed by opcode name. */
  io_uring: Record<string, IntervalOpStats>;
  faults: number;
  faults_per_s: number;
  /** Context switches away from the target (voluntary + involuntary). */
  switches: number;
  switches_per_s: number;
  /** Null where the kernel has no tlb:tlb_flush tracepoint. */
  tlb_flushes: number | null;
  tlb_flushes_per_s: number | null;
  /** Events the backend lost in this interval (its figures are then low). */
  lost_events: number;
  /** Events not counted in this interval because a kernel map was full. */
  map_full: number;
  /** Events a BPF program missed in this interval (another ran on its CPU). */
  recursion_misses: number;
  /**
   * What the trace cannot measure, with the reason, as the Run's
   * `meta.unsupported` would list it now (the `--live` view shows it).
   */
  unsupported: Unsupported[];
  /**
   * The block layer over the interval, by device name (as in /sys/block),
   * reads and writes apart; devices with no request in the interval left out.
   * Null where the backend does not measure it (`unsupported` says why);
   * absent in older documents.
   */
  block?: Record<string, { read: IntervalBlockStats; write: IntervalBlockStats }> | null;
}
