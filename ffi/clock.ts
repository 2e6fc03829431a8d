/**
 * `clock_gettime(CLOCK_MONOTONIC)`: the clock the kernel's BPF programs read
 * (`bpf_ktime_get_ns`) and its tracepoints stamp, so that an edge the agent
 * takes lies on the same time line as the kernel's.
 * @module
 */

import { unwrap } from "./errno.ts";
import { libc } from "./libc.ts";

const CLOCK_MONOTONIC = 1;

/**
 * Nanoseconds on CLOCK_MONOTONIC (since boot, not counting suspend), the
 * clock of `bpf_ktime_get_ns`. A bigint: a host up more than 104 days is past
 * 2^53 ns.
 * @returns the time, ns
 * @example
 * ```ts
 * import { monotonicNs } from "./clock.ts";
 * const t0 = monotonicNs();
 * console.assert(monotonicNs() >= t0);
 * ```
 */
export function monotonicNs(): bigint {
  const ts = new BigInt64Array(2);
  unwrap(libc().clock_gettime(CLOCK_MONOTONIC, ts), "clock_gettime");
  return ts[0]! * 1_000_000_000n + ts[1]!;
}
