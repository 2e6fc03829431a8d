/**
 * The raw aggregate every backend produces: cumulative totals since the probes
 * were attached, with latency histograms as log-linear bucket counts. The
 * agent turns snapshots into a Run document; it never sees single events.
 * @module
 */

/** Cumulative figures for one syscall or one io_uring opcode. */
export interface OpTotals {
  count: number;
  errors: number;
  bytes: number;
  total_ns: number;
  max_ns: number;
  /** Log-linear bucket index (see loglinear.ts) to count. */
  hist: Map<number, number>;
  /** io_uring only: requests punted to async workers. */
  async?: number;
}

/** Cumulative totals of one trace, as a backend last reported them. */
export interface Snapshot {
  /** Keyed by the kernel's tracepoint name: `pread64`, `sendfile64`, ... */
  syscalls: Map<string, OpTotals>;
  /** Keyed by io_uring opcode name: `READ`, `WRITE`, `SEND`, ... */
  io_uring: Map<string, OpTotals>;
  faults: number;
  /** TLB flushes keyed by the kernel's reason name. */
  tlb: Map<string, number>;
  /** Null when the tlb:tlb_flush tracepoint does not exist (not x86). */
  tlbSupported: boolean;
  voluntary: number;
  involuntary: number;
  lostEvents: number;
}

/** A snapshot with nothing in it. */
export function emptySnapshot(): Snapshot {
  return {
    syscalls: new Map(),
    io_uring: new Map(),
    faults: 0,
    tlb: new Map(),
    tlbSupported: true,
    voluntary: 0,
    involuntary: 0,
    lostEvents: 0,
  };
}

/** An OpTotals with nothing in it. */
export function emptyOpTotals(): OpTotals {
  return { count: 0, errors: 0, bytes: 0, total_ns: 0, max_ns: 0, hist: new Map() };
}

/** The kernel's names for `tlb:tlb_flush` reasons (enum tlb_flush_reason, x86). */
export const TLB_FLUSH_REASONS: readonly string[] = [
  "task_switch",
  "remote_shootdown",
  "local_shootdown",
  "local_mm_shootdown",
  "remote_ipi_send",
];
