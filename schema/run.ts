/**
 * The Run document (`--json` of `trace`, what the store keeps), schema
 * `ioscope.run/2`.
 * DESIGN.md is the contract; add fields freely, never rename or drop one
 * without bumping the schema version.
 * @module
 */

import type { BlockLayer, TimeSplit } from "./why.ts";
import type { PageCacheStats } from "./page_cache.ts";

/** A histogram bucket: `[low_ns, high_ns, count]`, low inclusive (schema/buckets.ts; base-2 exponential since ioscope.run/2, log-linear before). */
export type Bucket = [number, number, number];

/** A metric that could not be measured, and why. */
export interface Unsupported {
  metric: string;
  reason: string;
}

/** Facts about the target and the trace itself. */
export interface RunMeta {
  pid: number;
  /** Every process traced (for `--comm`, all matches; for a command, its pid). */
  pids: number[];
  comm: string;
  cmdline: string;
  host: string;
  kernel: string;
  backend: "bpf" | "bpftrace" | "ftrace";
  /**
   * The bpf backend: how its programs attached (`fentry`, `raw_tp`, `tp`),
   * where call starts lived (`task_storage`, `hash`), and why each better
   * way was not used, with the kernel's answer.
   */
  attach?: {
    kind: string;
    starts: string;
    reasons: { kind: string; reason: string }[];
  };
  started_at: string;
  duration_s: number;
  target_exited: boolean;
  lost_events: number;
  /**
   * Calls and requests that failed to be recorded because a probe map was
   * full (bpftrace), so went uncounted; with bpf and ftrace also calls on a
   * descriptor past the 16384th, counted but not in `fds`. 0 when none.
   */
  map_full?: number;
  /**
   * Calls and io_uring requests open when the trace's window closed: started
   * inside it, ended after it (or not yet), so in no count or percentile (a
   * bias against long calls, said here). Calls that start after the window
   * closed are not in it. 0 when none.
   */
  in_flight?: number;
  /**
   * Probe runs the kernel skipped because a program was already running on
   * that CPU (the `bpf` backend: the programs' recursion_misses), so their
   * events went uncounted. 0 when none.
   */
  recursion_misses?: number;
  /**
   * The thread id given as `--pid` when it was a thread and not a process:
   * the trace is of its process, `pid`.
   */
  thread_given?: number;
  /** `--follow` (or `-- COMMAND`): the processes the targets fork were traced too. */
  followed_children?: boolean;
  unsupported: Unsupported[];
  /** How the trace ended: "duration", "signal", "target-exit". */
  end_reason: string;
  /** Seconds from start of `trace` to probes attached. */
  attach_s: number;
  /**
   * 32-bit (compat) syscalls of the target: numbered from another table, so
   * counted apart, never under a 64-bit call's name. Absent: none seen.
   */
  compat_syscalls?: number;
  /**
   * How this backend told 32-bit (compat) calls apart, and which it counted
   * in `compat_syscalls` (those of the traced syscalls, by i386's table), in
   * words; says so where it cannot.
   */
  compat_check?: string;
  /**
   * How io_uring requests are timed: "submission" (submission to completion;
   * each completion of a multishot request after the first is timed from the
   * completion before it, see `multishot`; a request with
   * IOSQE_CQE_SKIP_SUCCESS posts no completion when it succeeds and is counted
   * in `untimed`).
   */
  io_uring_timing?: string;
  /** `--cgroup DIR`: the cgroup v2 directory traced and its id (the directory's inode). */
  cgroup?: { path: string; id: number };
  /**
   * Present when the target runs in another PID namespace than the agent (a
   * container's process given by its host PID): the namespace's inode and the
   * process's PID inside it. `pid` and `pids` are host PIDs.
   */
  pid_namespace?: { inode: number; pid_in_namespace: number };
  /** What `time_split` and `slow_time_split` cover (present where they were measured). */
  time_split?: string;
  /** What `--remote-write` (`remote_write`) and `--otlp` (`otlp`) pushed. Absent: no push. */
  exports?: Record<string, ExportStats>;
}

/** What one push to a receiver did over the trace (no credentials, no query string). */
export interface ExportStats {
  /** Where: the URL's origin and path. */
  url: string;
  /** Samples (series values at one instant) the receiver accepted. */
  sent_samples: number;
  /** Samples never delivered: dropped from the full queue, or left when the trace ended. */
  unsent_samples: number;
  /** Samples the receiver refused with a 4xx: not retried. */
  rejected_samples: number;
  /** The first refusal: status and the receiver's words (at most 200 characters). */
  rejected_reason?: string;
  /** Requests retried after a network error, a timeout, a 5xx or a 429. */
  retries: number;
}

/**
 * Failed calls, kept apart from successful ones (fields added to both
 * syscall and io_uring stats; absent in documents written before them).
 */
export interface FailureStats {
  /** Failed calls by errno name (`EAGAIN`, `ECONNRESET`, ...). */
  errnos?: Record<string, number>;
  /** Failed calls' latency buckets (the main `buckets` hold successful calls only). */
  error_buckets?: Bucket[];
  /** Failed calls' P50 and P99, nanoseconds; 0 when none failed. */
  error_p50_ns?: number;
  error_p99_ns?: number;
}

/**
 * Per-syscall aggregate. Latencies in nanoseconds, enter to exit. `count` is
 * every call that ended (successful and failed); the percentiles and
 * `buckets` are SUCCESSFUL calls' (an EAGAIN is not a fast read), failed
 * calls' are in `error_buckets`. A call ended by a kernel restart code
 * (-512..-516) is neither a call nor an error: it is in `restarts`, and the
 * restarted call is counted once, when it ends.
 */
export interface SyscallStats extends FailureStats {
  count: number;
  errors: number;
  /** Calls ended by a restart code (ERESTARTSYS ..), not counted as calls. */
  restarts?: number;
  bytes: number;
  /** Sum of all latencies, nanoseconds. */
  total_ns: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  p999_ns: number;
  max_ns: number;
  buckets: Bucket[];
  /** Where the calls' time went (null where the backend cannot say: meta.unsupported). */
  time_split?: TimeSplit | null;
  /** The same for the slow calls (meta.time_split says which). */
  slow_time_split?: TimeSplit | null;
}

/**
 * Per io_uring opcode aggregate, submission to completion (see
 * `meta.io_uring_timing`); percentiles of successful completions.
 */
export interface IoUringOpStats extends FailureStats {
  count: number;
  errors: number;
  bytes: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  p999_ns: number;
  max_ns: number;
  /** Requests punted to io-wq async workers. */
  async: number;
  buckets: Bucket[];
  /**
   * Completions of multishot requests (IORING_CQE_F_MORE): counted in
   * `count`, each timed from the request's previous completion (the first
   * from its submission), not from the submission (the connection's age).
   */
  multishot?: number;
  /** Requests with IOSQE_CQE_SKIP_SUCCESS that succeeded: no completion, not timed. */
  untimed?: number;
  /** Where the requests' time went: null (meta.unsupported says why). */
  time_split?: TimeSplit | null;
  slow_time_split?: TimeSplit | null;
}

/** What a descriptor is, from /proc/PID/fd while tracing. */
export type FdKind = "file" | "socket" | "pipe" | "anon" | "device" | "other" | "unknown";

/** I/O on one descriptor of one process (the calls whose first argument is a descriptor). */
export interface FdStats {
  pid: number;
  fd: number;
  kind: FdKind;
  /** The /proc/PID/fd link: a path, `socket:[inode]`, `pipe:[inode]`; "" when closed before read. */
  target: string;
  count: number;
  errors: number;
  bytes: number;
  total_ns: number;
  /** Calls by syscall name. */
  calls: Record<string, number>;
}

/**
 * Where the bytes went. `user_bytes`: bytes copied between user memory and
 * the kernel (read/write, send/recv families, io_uring READ/WRITE/SEND/RECV,
 * vmsplice out of a pipe). `kernel_bytes`: bytes the kernel moved without
 * passing them through user memory (sendfile, splice, copy_file_range,
 * vmsplice into a pipe, io_uring SPLICE/SEND_ZC); of those,
 * `kernel_copied_bytes` were still copied inside the kernel (copy_file_range,
 * sendfile into a file). `tee_bytes`: bytes tee duplicated between pipes,
 * which moves nothing, counted in neither. The older fields are kept:
 * `copied_bytes` = `user_bytes`, `zero_copy_bytes` = `kernel_bytes`.
 */
export interface CopyStats {
  copied_bytes: number;
  zero_copy_bytes: number;
  zero_copy_ratio: number;
  user_bytes?: number;
  kernel_bytes?: number;
  kernel_copied_bytes?: number;
  tee_bytes?: number;
  /** kernel_bytes / (user_bytes + kernel_bytes). */
  kernel_ratio?: number;
}

/** One second of the timeline; `t` is seconds since the trace started. */
export interface TimelinePoint {
  t: number;
  /**
   * Seconds the point covers (about 1; absent in older documents, where it is
   * 1). A long trace keeps its last hour per second and coarser points (60 s
   * and more) before it; counts are totals over `dt`.
   */
  dt?: number;
  syscalls: number;
  bytes: number;
  faults: number;
  /**
   * Each syscall's P99 of this second's successful calls (from the difference
   * of the cumulative histograms), nanoseconds; syscalls idle that second are
   * left out.
   */
  p99_ns?: Record<string, number>;
}

/**
 * The Run document, schema `ioscope.run/2` (buckets base-2 exponential,
 * schema/buckets.ts); `ioscope.run/1` Runs (log-linear buckets) are read the
 * same way, each bucket by its own bounds.
 */
export interface RunDocument {
  schema: "ioscope.run/2" | "ioscope.run/1";
  meta: RunMeta;
  syscalls: Record<string, SyscallStats>;
  io_uring: Record<string, IoUringOpStats>;
  copy: CopyStats;
  faults: { minor: number | null; major: number | null; total: number };
  /**
   * TLB flushes of the traced processes' address spaces (`tlb:tlb_flush`,
   * x86; null where it is missing), each charged to the task whose address
   * space was flushed: the current task for `local_shootdown`,
   * `local_mm_shootdown` (it changed its own mappings) and `remote_shootdown`
   * (a CPU interrupted while running one of its threads); the incoming task
   * for `task_switch` (traced by the kernel in the outgoing task's name).
   * `by_reason` adds up to `flushes`. Not flushes, never counted:
   * `remote_ipi_send` (the sender's mark of a shootdown whose flushes are
   * counted above) and events of 0 pages (nothing flushed, e.g.
   * `remote_wrong_cpu`).
   */
  tlb: {
    flushes: number | null;
    by_reason: Record<string, number>;
    dtlb_load_misses: number | null;
    itlb_load_misses?: number | null;
  };
  sched: { voluntary: number; involuntary: number };
  timeline: TimelinePoint[];
  /** `perf stat` counters when `--perf` was given; null where unsupported. */
  perf?: Record<string, number | null>;
  /**
   * The top descriptors by time and by bytes (at most 20), resolved through
   * /proc/PID/fd while tracing. Absent when the backend does not key by descriptor.
   */
  fds?: FdStats[];
  /** Folded stacks (`frame;frame;frame count`) when `--flamegraph` was given. */
  flamegraph?: { folded: string[]; samples: number };
  /** Block requests per device (null where the backend cannot see them: meta.unsupported). */
  block?: BlockLayer | null;
  /**
   * Pages the traced processes added to the page cache, per file (null where
   * the backend cannot count them: meta.unsupported says why).
   */
  page_cache?: PageCacheStats | null;
}
