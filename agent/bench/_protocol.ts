/**
 * What passes between bench and its worker processes. A worker gets its
 * WorkerSpec as its one argument. It reports through a small control file
 * that both map: it writes a phase number (and at the end its result) into
 * memory, then stops itself with SIGSTOP; bench sees the process stopped in
 * that phase, attaches or detaches the trace, and sends SIGCONT. No I/O
 * syscall marks the start or the end of the timed part, so the trace holds
 * exactly the path's own calls.
 * @module
 */

import type { PathSpec } from "./paths.ts";

/** Bytes in a control file. */
export const CONTROL_BYTES = 65536;
/** The worker is set up and waits for the trace (stopped). */
export const PHASE_READY = 1;
/** The timed part is over; the result is in the control file (stopped). */
export const PHASE_DONE = 2;

/** A worker's argument. */
export interface WorkerSpec extends PathSpec {
  /** The control file (CONTROL_BYTES of zeros). */
  control: string;
  /** serve: the sink's port on 127.0.0.1. */
  port?: number;
}

/** What a worker measured, written to the control file at PHASE_DONE. */
export interface WorkerResult {
  path: string;
  op: string;
  bytes: number;
  /** I/O syscalls the worker made in the timed part (by its own count). */
  calls: number;
  elapsed_s: number;
  /** Untimed teardown after the timed part (the mmap paths' munmap), traced. */
  teardown_s: number;
  cpu_user_s: number;
  cpu_sys_s: number;
  minor_faults: number;
  major_faults: number;
  voluntary_switches: number;
  involuntary_switches: number;
  /** Per-block time of the sync paths, worker's clock; null for io_uring. */
  block_p50_ns: number | null;
  block_p99_ns: number | null;
  /** scan: the fingerprint of the timed pass. */
  fingerprint: number | null;
  /** scan: the untimed pass through the same path, fully hashed. */
  verify: { digest: string; fingerprint: number; bytes: number } | null;
}

/**
 * Reads a control file's phase and, at PHASE_DONE, the result.
 * @param bytes the control file's contents
 * @returns the phase (0 before the worker wrote one) and the result, if any
 */
export function parseControl(bytes: Uint8Array): { phase: number; result: WorkerResult | null } {
  if (bytes.length < 8) return { phase: 0, result: null };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const phase = dv.getUint32(0, true);
  const len = dv.getUint32(4, true);
  if (phase !== PHASE_DONE || len === 0 || len > bytes.length - 8) return { phase, result: null };
  const result = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len))) as WorkerResult;
  return { phase, result };
}

/**
 * Writes a phase (and a result) into the mapped control file: plain memory
 * stores, the length and phase last.
 * @param control the control file's mapped bytes
 * @param phase PHASE_READY or PHASE_DONE
 * @param result the result, at PHASE_DONE
 */
export function writeControl(control: Uint8Array, phase: number, result?: WorkerResult): void {
  const words = new Int32Array(control.buffer, control.byteOffset, 2);
  if (result) {
    const json = new TextEncoder().encode(JSON.stringify(result));
    if (json.length > control.length - 8) throw new RangeError("The worker's result is too big");
    control.set(json, 8);
    Atomics.store(words, 1, json.length);
  }
  Atomics.store(words, 0, phase);
}
