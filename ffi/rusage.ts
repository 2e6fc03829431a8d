/**
 * `getrusage(2)`: CPU time and fault counts of this process (all its threads)
 * or of the calling thread.
 * @module
 */

import { unwrap } from "./errno.ts";
import { libc } from "./libc.ts";

/** What getrusage reports, in seconds and counts. */
export interface Rusage {
  /** CPU time in user mode, seconds. */
  userS: number;
  /** CPU time in the kernel, seconds. */
  sysS: number;
  /** Page faults served without I/O. */
  minorFaults: number;
  /** Page faults that needed I/O. */
  majorFaults: number;
  /** Voluntary context switches. */
  voluntarySwitches: number;
  /** Involuntary context switches. */
  involuntarySwitches: number;
  /** Peak resident set size, bytes. */
  maxRssBytes: number;
}

/** The whole process. */
export const RUSAGE_SELF = 0;
/** The calling thread only. */
export const RUSAGE_THREAD = 1;

/**
 * Reads resource usage.
 * @param who RUSAGE_SELF (@default) or RUSAGE_THREAD
 * @returns CPU seconds and counters
 * @example
 * ```ts
 * import { getrusage } from "./rusage.ts";
 * const r = getrusage();
 * console.assert(r.userS + r.sysS > 0);
 * ```
 */
export function getrusage(who = RUSAGE_SELF): Rusage {
  // struct rusage: two struct timeval (2 x i64 each), then 14 longs.
  const b = new BigInt64Array(18);
  unwrap(libc().getrusage(who, b), "getrusage");
  const n = (i: number) => Number(b[i]!);
  return {
    userS: n(0) + n(1) / 1e6,
    sysS: n(2) + n(3) / 1e6,
    maxRssBytes: n(4) * 1024,
    minorFaults: n(8),
    majorFaults: n(9),
    voluntarySwitches: n(16),
    involuntarySwitches: n(17),
  };
}
