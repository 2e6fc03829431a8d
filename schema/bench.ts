/**
 * The Bench document (`--json` of `bench`), schema `ioscope.bench/1`.
 * DESIGN.md is the contract; add fields freely, never rename or drop one
 * without bumping the schema version.
 * @module
 */

import type { IoUringOpStats, RunDocument, SyscallStats } from "./run.ts";

/** What fio measured on the same file (`bench --fio`, scan). */
export interface FioResult {
  engine: string;
  throughput_mib_s: number;
  /** fio's own CPU figures, converted from its percentages to seconds. */
  cpu_user_s: number;
  cpu_sys_s: number;
  /** The command, to run by hand. */
  command: string;
  /** With bench's `repeat`: every run's throughput; the figures above are the median run's. */
  repeats_mib_s?: number[];
  /** fio's own trace, when bench traces (the same probes as its workers). */
  run?: RunDocument;
}

/** One path's result in a Bench document. */
export interface BenchPathResult {
  throughput_mib_s: number;
  /** Null when not measured: the trace saw none of the op and the worker timed no block. */
  p50_ns: number | null;
  p99_ns: number | null;
  syscalls: number;
  faults: number;
  cpu_s: number;
  cpu_user_s: number;
  cpu_sys_s: number;
  bytes: number;
  elapsed_s: number;
  checksum_ok: boolean;
  /**
   * The op whose latency `p50_ns`/`p99_ns` are: a syscall (`pread64`), an
   * io_uring opcode (`io_uring SEND`), or what the worker timed (`memcpy`).
   * Reports show this op, and its histogram from `run` when it was traced.
   */
  op: string;
  /** Where the percentiles come from: the trace, the worker's own clock per block, or nowhere. */
  latency_source: "trace" | "worker" | "none";
  /** CPU seconds (user + system) per GiB moved. */
  cpu_s_per_gib: number;
  /** I/O syscalls the worker counted itself; the trace's `syscalls` should agree. */
  worker_calls: number;
  /** Page faults by getrusage in the worker (minor + major). */
  worker_faults: number;
  /** Per-block time on the worker's clock, for the paths that do one block per call. */
  block_p50_ns: number | null;
  block_p99_ns: number | null;
  /** Seconds of untimed, traced teardown after the timed part (the mmap paths' munmap). */
  teardown_s: number;
  /** What the path does. */
  description: string;
  /** fio's matching engine on the same file, run right after (scan with `fio`). */
  fio?: FioResult;
  /** With `repeat`: every run's throughput, in order; the result is the median one. */
  repeats_mib_s?: number[];
  /** The trace of the path's worker; `{}` when untraced. */
  run: RunDocument | Record<string, never>;
}

/** The Bench document, schema `ioscope.bench/1`. */
export interface BenchDocument {
  schema: "ioscope.bench/1";
  scenario: "scan" | "serve";
  file_size: number;
  block_size: number;
  queue_depth?: number;
  host?: { host: string; kernel: string; cpus: number; mem_bytes: number };
  /** The backend that traced the workers: "bpf", "bpftrace", "ftrace" or "none". */
  backend: string;
  /** Runs per path; each path's figures are its median run's. */
  repeat: number;
  paths: Record<string, BenchPathResult>;
  /** Paths that could not run here, and why. */
  unsupported: { path: string; reason: string }[];
}

/**
 * The stats of a Bench path's `op` in its run: `io_uring NAME` in
 * `run.io_uring`, any other name in `run.syscalls`. Safe on untrusted input.
 * @param run the path's `run` (a Run document, `{}` or anything)
 * @param op the path's `op`
 * @returns the op's stats, or undefined when the run has none
 * @example
 * ```ts
 * import { benchOpStats, type RunDocument } from "./mod.ts";
 * const run = { syscalls: {}, io_uring: { SEND: { count: 3 } } } as unknown as RunDocument;
 * console.assert(benchOpStats(run, "io_uring SEND")?.count === 3);
 * console.assert(benchOpStats(run, "write") === undefined);
 * ```
 */
export function benchOpStats(
  run: unknown,
  op: unknown,
): SyscallStats | IoUringOpStats | undefined {
  if (typeof op !== "string" || run === null || typeof run !== "object") return undefined;
  const uring = /^io_uring (\S+)$/.exec(op);
  const table: unknown = uring
    ? (run as Partial<RunDocument>).io_uring
    : (run as Partial<RunDocument>).syscalls;
  if (table === null || typeof table !== "object") return undefined;
  const stats: unknown = Object.hasOwn(table, uring?.[1] ?? op)
    ? (table as Record<string, unknown>)[uring?.[1] ?? op]
    : undefined;
  return stats !== null && typeof stats === "object"
    ? stats as SyscallStats | IoUringOpStats
    : undefined;
}
