/**
 * The Bench document (`--json` of `bench`), schema `ioscope.bench/1`.
 * DESIGN.md is the contract; add fields freely, never rename or drop one
 * without bumping the schema version.
 * @module
 */

import type { RunDocument } from "./run.ts";

/** One path's result in a Bench document. */
export interface BenchPathResult {
  throughput_mib_s: number;
  p50_ns: number;
  p99_ns: number;
  syscalls: number;
  faults: number;
  cpu_s: number;
  cpu_user_s: number;
  cpu_sys_s: number;
  bytes: number;
  elapsed_s: number;
  checksum_ok: boolean;
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
  paths: Record<string, BenchPathResult>;
}
