/**
 * Gives a long trace's garbage back while it runs: a full garbage collection,
 * then malloc_trim(3), once a minute (the session schedules it).
 *
 * Why, measured with benchmarks/soak.ts on 2026-12-02 (bpf backend, 50k
 * syscalls/s): the objects the agent keeps stay the same (heap snapshots three
 * and five minutes in hold the same objects; only JIT code grows while the
 * once-a-second functions are optimized), yet RSS climbed 4-13 MiB/h. Two
 * causes, both garbage kept, not objects held:
 * - V8 promotes what outlives two scavenges (a timeline point, /proc and map
 *   reads that straddle one) to the old generation, 0.9-2.2 KB/s here, and
 *   collects it only when the old generation reaches its limit: 16 MB
 *   against 6.5 MB live, one to three hours away. Until then every promoted
 *   byte is a resident byte.
 * - glibc keeps what the optimizing compiler's zones freed (2 MB steps in a
 *   thread's arena, 4-8 minutes in) as free chunks: resident, never reused.
 * @module
 */

import { libc } from "../../ffi/mod.ts";

/** How often a trace gives memory back: a full collection costs 10-20 ms here. */
export const RECLAIM_MS = 60_000;

let collector: (() => void) | null | undefined;

/**
 * V8's full garbage collection, where it can be had: `gc` when the process
 * runs with --expose-gc, else the one a new context gets once the flag is set
 * at run time (Deno keeps V8's flags writable). node:v8 and node:vm are
 * imported here, at the first reclaim, not with the module: loading them
 * starts Node's compatibility layer, 35-40 ms before a trace's first data
 * (`deno run` of a script importing both against an empty one, medians of 6:
 * 111-115 vs 77-79 ms, 2026-12-02).
 * @returns the collector, or null where V8 refuses
 */
export async function fullCollector(): Promise<(() => void) | null> {
  if (collector !== undefined) return collector;
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") return collector = own as () => void;
  try {
    const [{ default: v8 }, { default: vm }] = await Promise.all([
      import("node:v8"),
      import("node:vm"),
    ]);
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    collector = typeof gc === "function" ? gc as () => void : null;
  } catch {
    collector = null;
  }
  return collector;
}

/** mallopt(3)'s parameters. */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** glibc's own starting values for both. */
const THRESHOLD = 128 * 1024;

/**
 * Fixes malloc's trim and mmap thresholds at glibc's starting 128 KiB. glibc
 * raises both each time an mmap'd block is freed, and then keeps a thread
 * arena's top: a 2.2 MB step 270 s into a trace (5k syscalls/s, the
 * optimizing compiler) stayed 1.1 MB resident through malloc_trim. With the
 * thresholds fixed the same step was 1.3 MB, and the next trim took all of it
 * (in-process trace, mallinfo2, 2026-12-02). Called once as a trace starts.
 * @returns whether glibc took both
 */
export function keepMallocTrimmable(): boolean {
  try {
    // mallopt answers 1 when it took the value.
    return libc().mallopt(M_TRIM_THRESHOLD, THRESHOLD) === 1 &&
      libc().mallopt(M_MMAP_THRESHOLD, THRESHOLD) === 1;
  } catch {
    return false; // no glibc here: its defaults
  }
}

/**
 * Collects the JS heap, then returns malloc's free pages to the kernel.
 * @returns whether a full collection ran (malloc is trimmed either way)
 */
export async function reclaimMemory(): Promise<boolean> {
  const gc = await fullCollector();
  gc?.();
  try {
    libc().malloc_trim(0n);
  } catch {
    // no glibc here: the collection alone
  }
  return gc !== null;
}
