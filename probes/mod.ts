/**
 * What runs in the kernel and how to read it: the bpftrace programs (*.bt)
 * and their JSON parser, the ftrace event formats, ring-buffer pages and
 * aggregator, the perf output parsers, and the Snapshot they all produce.
 * Pure functions from text or bytes to data.
 * @module
 */

export * from "./snapshot.ts";
export * from "./bpftrace.ts";
export * from "./ftrace.ts";
export * from "./ftrace_buffer.ts";
export * from "./ftrace_format.ts";
export * from "./perf_fold.ts";
export * from "./perf_stat.ts";
export { emptySplit } from "./why_snapshot.ts";
export type { BlockTotals, TimeSplitTotals } from "./why_snapshot.ts";
