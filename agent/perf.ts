/**
 * perf stat counters and perf record flame graphs for the target (not built yet).
 * @module
 */

import type { RunDocument, Unsupported } from "./schema.ts";
import { RunError } from "./errors.ts";

/** What perf adds to a Run document. */
export interface PerfResult {
  perf?: RunDocument["perf"];
  flamegraph?: RunDocument["flamegraph"];
  /** Counters the host does not expose, with the reason. */
  unsupported: Unsupported[];
  /** dTLB/iTLB load misses, for `tlb.dtlb_load_misses`; null when unsupported. */
  dtlbLoadMisses: number | null;
  itlbLoadMisses: number | null;
}

/** A running perf. */
export interface PerfSession {
  /** Stops perf, reaps it, and returns what it measured. Idempotent. */
  stop(): Promise<PerfResult>;
}

/** Starts perf for the PIDs. */
export function startPerf(
  _pids: number[],
  _options: { counters: boolean; flamegraph: boolean },
): Promise<PerfSession> {
  return Promise.reject(new RunError("--perf and --flamegraph are not built yet"));
}
