/**
 * The Run document (`--json` of `trace`, what the store keeps), schema
 * `ioscope.run/1`.
 * DESIGN.md is the contract; add fields freely, never rename or drop one
 * without bumping the schema version.
 * @module
 */

/** A log-linear histogram bucket: `[low_ns, high_ns, count]`, low inclusive. */
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
   * full (bpftrace), so went uncounted. 0 when none.
   */
  map_full?: number;
  /**
   * Calls and io_uring requests still open when the trace ended: started,
   * never ended, so in no count or percentile (a bias against long calls,
   * said here). 0 when none.
   */
  in_flight?: number;
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
  /** `--cgroup DIR`: the cgroup v2 directory traced and its id (the directory's inode). */
  cgroup?: { path: string; id: number };
  /**
   * Present when the target runs in another PID namespace than the agent (a
   * container's process given by its host PID): the namespace's inode and the
   * process's PID inside it. `pid` and `pids` are host PIDs.
   */
  pid_namespace?: { inode: number; pid_in_namespace: number };
}

/** Per-syscall aggregate. Latencies in nanoseconds, enter to exit. */
export interface SyscallStats {
  count: number;
  errors: number;
  bytes: number;
  /** Sum of all latencies, nanoseconds. */
  total_ns: number;
  p50_ns: number;
  p90_ns: number;
  p99_ns: number;
  p999_ns: number;
  max_ns: number;
  buckets: Bucket[];
}

/** Per io_uring opcode aggregate, submission to completion. */
export interface IoUringOpStats {
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

/** The Run document, schema `ioscope.run/1`. */
export interface RunDocument {
  schema: "ioscope.run/1";
  meta: RunMeta;
  syscalls: Record<string, SyscallStats>;
  io_uring: Record<string, IoUringOpStats>;
  copy: { copied_bytes: number; zero_copy_bytes: number; zero_copy_ratio: number };
  faults: { minor: number | null; major: number | null; total: number };
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
  /** Folded stacks (`frame;frame;frame count`) when `--flamegraph` was given. */
  flamegraph?: { folded: string[]; samples: number };
}
