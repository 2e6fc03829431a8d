/**
 * `getrusage(2)`: CPU time and fault counts of this process (all its threads)
 * or of the calling thread; the calling thread's CPU time to the nanosecond.
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

const CLOCK_THREAD_CPUTIME_ID = 3;

/**
 * CPU time the calling thread has run, in seconds, to the nanosecond
 * (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`). getrusage and
 * /proc/thread-self/schedstat only move at the scheduler's tick (4 ms here),
 * too coarse to time a call or two.
 * @returns seconds of CPU, user and kernel together
 * @example
 * ```ts
 * import { threadCpuSeconds } from "./rusage.ts";
 * const t0 = threadCpuSeconds();
 * console.assert(threadCpuSeconds() >= t0);
 * ```
 */
export function threadCpuSeconds(): number {
  const ts = new BigInt64Array(2);
  unwrap(libc().clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts), "clock_gettime");
  return Number(ts[0]!) + Number(ts[1]!) / 1e9;
}
