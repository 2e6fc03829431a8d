/**
 * The contract, on the ground floor: the documents ioscope writes (Run, Bench,
 * Trend), the bucket math (base-2 exponential, Prometheus schema 4), the syscall tables, and their numbers
 * as text with units (`units.ts`, for the terminal, the reports and the
 * pages' script). Imports nothing of ioscope; every other folder may import it.
 *
 * ```ts
 * import { quantile, type RunDocument } from "./mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_demo.json")) as RunDocument;
 * const read = run.syscalls["read"];
 * if (read) console.assert(quantile(read.buckets, 0.5) > 0);
 * ```
 * @module
 */

export * from "./run.ts";
export * from "./bench.ts";
export * from "./trend.ts";
export * from "./buckets.ts";
export * from "./syscalls.ts";
export * from "./syscalls_i386.ts";
export * from "./io_uring.ts";
export * from "./target.ts";
export * from "./sha256.ts";
export * from "./units.ts";
export * from "./why.ts";
export * from "./fleet.ts";
export * from "./page_cache.ts";
export type { IntervalBlockStats, IntervalDocument, IntervalOpStats } from "./interval.ts";
