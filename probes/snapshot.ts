/**
 * The raw aggregate every backend produces: cumulative totals since the probes
 * were attached, with latency histograms as bucket counts (schema/buckets.ts). The
 * agent turns snapshots into a Run document; it never sees single events.
 * @module
 */

import type { BlockDevice, OpSplit } from "./why_snapshot.ts";
/**
 * The snapshot rhythm, owned here: every backend hands the session a complete
 * cumulative Snapshot this often (the bpf backend reads its maps, the ftrace
 * backend its buffers, bpftrace's programs print: probes/*.bt cannot import
 * this, and tests/probes/snapshot_rhythm_test.ts checks they agree). The
 * timeline has a point per snapshot, and `--interval` takes whole multiples.
 */
export const SNAPSHOT_MS = 1000;

/**
 * How late a snapshot may come and still end an interval of `--interval`
 * (they come 1.00-1.05 s apart, later on a busy host): an interval ends at
 * the first snapshot this close to its planned length.
 */
export const SNAPSHOT_SLACK_MS = 250;

/**
 * Whether an interval length is a whole number of snapshots (1 or more).
 * @param ms the length asked for, milliseconds
 * @returns false for a length the snapshots cannot mark
 * @example
 * ```ts
 * import { fitsSnapshotRhythm } from "./snapshot.ts";
 * console.assert(fitsSnapshotRhythm(5000));
 * console.assert(!fitsSnapshotRhythm(1500) && !fitsSnapshotRhythm(500));
 * ```
 */
export function fitsSnapshotRhythm(ms: number): boolean {
  return ms >= SNAPSHOT_MS && ms % SNAPSHOT_MS === 0;
}

/** Cumulative figures for one syscall or one io_uring opcode. */
export interface OpTotals {
  /** Calls (or io_uring completions) that ended, successful and failed; restarts excluded. */
  count: number;
  /** Calls that failed (a negative errno); restart codes are not errors. */
  errors: number;
  bytes: number;
  /** Latency summed over every counted call, successful and failed. */
  total_ns: number;
  max_ns: number;
  /** SUCCESSFUL calls' latency: bucket slot (schema/buckets.ts) to count. */
  hist: Map<number, number>;
  /** Failed calls' latency, bucket index to count (an EAGAIN is not a slow read). */
  error_hist: Map<number, number>;
  /** Failed calls by errno (positive: 11 EAGAIN, 4 EINTR, ...) to count. */
  errnos: Map<number, number>;
  /**
   * Syscalls ended by a kernel restart code (-512 ERESTARTSYS .. -516
   * ERESTART_RESTARTBLOCK): neither calls nor errors; the restarted call is
   * counted once, when it ends.
   */
  restarts: number;
  /** io_uring only: requests punted to async workers. */
  async?: number;
  /**
   * io_uring only: completions of multishot requests (IORING_CQE_F_MORE),
   * every one: the first timed from the submission, each later one from the
   * completion before it (included in `count` and `hist`).
   */
  multishot?: number;
  /**
   * io_uring only: requests submitted with IOSQE_CQE_SKIP_SUCCESS that
   * succeeded, so posted no completion: counted here, never timed.
   */
  untimed?: number;
}

/** Cumulative figures for one file descriptor of one process ("pid:fd"). */
export interface FdTotals {
  pid: number;
  fd: number;
  /** Calls that ended on this descriptor, successful and failed. */
  count: number;
  errors: number;
  bytes: number;
  total_ns: number;
  /** Calls by syscall name (`recvfrom`, `pread64`, ...). */
  calls: Map<string, number>;
  /** Bytes by syscall name. */
  callBytes: Map<string, number>;
}

/** Pages the traced processes added to the page cache for one file (the bpf backend). */
export interface PageCacheTotals {
  /** The file's device as the kernel numbers it (`s_dev`: major << 20 | minor). */
  dev: number;
  ino: number;
  /** Pages added (misses, readahead included, and pages a write added). */
  pages: number;
}

/** The page-cache module's read-back. */
export interface PageCacheRead {
  files: PageCacheTotals[];
  /** Pages added to files past the kernel map's capacity (counted, not by file). */
  lostPages: number;
}

/** Cumulative totals of one trace, as a backend last reported them. */
export interface Snapshot {
  /** Keyed by the kernel's tracepoint name: `pread64`, `sendfile64`, ... */
  syscalls: Map<string, OpTotals>;
  /** Keyed by io_uring opcode name: `READ`, `WRITE`, `SEND`, ... */
  io_uring: Map<string, OpTotals>;
  /**
   * Per descriptor totals of the descriptor-taking syscalls, keyed "pid:fd"
   * (empty when the backend does not key by descriptor).
   */
  fds: Map<string, FdTotals>;
  faults: number;
  /** TLB flushes keyed by the kernel's reason name. */
  tlb: Map<string, number>;
  /** Null when the tlb:tlb_flush tracepoint does not exist (not x86). */
  tlbSupported: boolean;
  voluntary: number;
  involuntary: number;
  /** Events the kernel could not record (ftrace ring overruns, perf buffer losses). */
  lostEvents: number;
  /**
   * When the kernel side took this snapshot (CLOCK_MONOTONIC, ns), where the
   * backend says (bpftrace's tick): intervals between two snapshots are timed
   * with it, not with when their output reached the agent.
   */
  takenNs?: number;
  /** Map inserts that failed because a map was full (their events went uncounted). */
  mapFull: number;
  /** Calls and requests still open when the trace ended (started, never ended). */
  inFlight: number;
  /** Events a BPF program missed because another ran on its CPU (prog run recursion). */
  recursionMisses: number;
  /**
   * 32-bit (compat) syscalls of the target: numbered from another table, so
   * counted apart and never given a 64-bit call's name.
   */
  compatCalls: number;
  /** Where traced calls' time went, by syscall name (the bpf backend; absent: not measured). */
  timeSplit?: Map<string, OpSplit>;
  /** Block requests by device name (as in /sys/block; absent: not measured). */
  block?: Map<string, BlockDevice>;
  /** Why the time split and the block layer were not measured. */
  whyUnsupported?: string;
  /** Why the block layer alone was not measured. */
  blockUnsupported?: string;
  /** Pages added to the page cache, per file (absent: not measured). */
  pageCache?: PageCacheRead;
  /** Why the page cache was not measured. */
  pageCacheUnsupported?: string;
}

/** A snapshot with nothing in it. */
export function emptySnapshot(): Snapshot {
  return {
    syscalls: new Map(),
    io_uring: new Map(),
    fds: new Map(),
    faults: 0,
    tlb: new Map(),
    tlbSupported: true,
    voluntary: 0,
    involuntary: 0,
    lostEvents: 0,
    mapFull: 0,
    inFlight: 0,
    recursionMisses: 0,
    compatCalls: 0,
  };
}

/** An OpTotals with nothing in it. */
export function emptyOpTotals(): OpTotals {
  return {
    count: 0,
    errors: 0,
    bytes: 0,
    total_ns: 0,
    max_ns: 0,
    hist: new Map(),
    error_hist: new Map(),
    errnos: new Map(),
    restarts: 0,
  };
}

/** An FdTotals with nothing in it. */
export function emptyFdTotals(pid: number, fd: number): FdTotals {
  return {
    pid,
    fd,
    count: 0,
    errors: 0,
    bytes: 0,
    total_ns: 0,
    calls: new Map(),
    callBytes: new Map(),
  };
}

/** True for a kernel restart code (-512 ERESTARTSYS .. -516 ERESTART_RESTARTBLOCK). */
export function isRestartCode(ret: number): boolean {
  return ret <= -512 && ret >= -516;
}

/** A deep copy, so later updates do not change a snapshot already handed out. */
export function cloneSnapshot(s: Snapshot): Snapshot {
  const ops = (m: Map<string, OpTotals>) =>
    new Map(
      [...m].map((
        [k, v],
      ) => [k, {
        ...v,
        hist: new Map(v.hist),
        error_hist: new Map(v.error_hist),
        errnos: new Map(v.errnos),
      }]),
    );
  return {
    ...s,
    syscalls: ops(s.syscalls),
    io_uring: ops(s.io_uring),
    fds: new Map(
      [...s.fds].map((
        [k, v],
      ) => [k, { ...v, calls: new Map(v.calls), callBytes: new Map(v.callBytes) }]),
    ),
    tlb: new Map(s.tlb),
  };
}

/**
 * `tlb:tlb_flush` reasons that matter to counting (enum tlb_flush_reason,
 * x86): a flush on a task switch is traced in the outgoing task's name but is
 * the incoming one's; a remote IPI send marks the sender of a shootdown, not
 * a flush (its own flush is its local one, each receiver's a remote one).
 */
export const TLB_REASON = { taskSwitch: 0, remoteSendIpi: 4 } as const;

/** The kernel's names for `tlb:tlb_flush` reasons (enum tlb_flush_reason, x86). */
export const TLB_FLUSH_REASONS: readonly string[] = [
  "task_switch",
  "remote_shootdown",
  "local_shootdown",
  "local_mm_shootdown",
  "remote_ipi_send",
  "remote_wrong_cpu",
];
