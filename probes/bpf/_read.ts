/**
 * Reading the bpf backend's maps back: per-CPU words summed (or maxed) into
 * the totals a {@linkcode Snapshot} holds. Pure: the agent does the reading
 * from the kernel and hands the bytes here.
 * @module
 */

import { COUNTER, HIST_BUCKETS, OP } from "./layout.ts";
import { emptyOpTotals, type OpTotals, TLB_FLUSH_REASONS } from "../snapshot.ts";

/**
 * One key's value as the kernel returns it for a per-CPU map: each possible
 * CPU's copy in turn, `stride` u64 words each, seen as u32 halves (little
 * endian) so that reading needs no BigInt.
 */
export interface PerCpuWords {
  /** The value's bytes as u32: word w of CPU c is `[2 * (c * stride + w)]` (low), `+ 1` (high). */
  halves: Uint32Array;
  /** u64 words in one CPU's copy. */
  stride: number;
}

/**
 * A per-CPU value's words over its bytes (a copy only when they are not 4-byte aligned).
 * @param bytes the value as a lookup returns it (every CPU's copy)
 * @param valueBytes the map's value size
 * @returns the words
 */
export function perCpuWords(bytes: Uint8Array, valueBytes: number): PerCpuWords {
  const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return {
    halves: new Uint32Array(b.buffer, b.byteOffset, Math.floor(b.byteLength / 4)),
    stride: Math.ceil(valueBytes / 8),
  };
}

function word(v: PerCpuWords, at: number): number {
  return (v.halves[2 * at] ?? 0) + (v.halves[2 * at + 1] ?? 0) * 4294967296;
}

function cpus(v: PerCpuWords): number {
  return Math.floor(v.halves.length / 2 / v.stride);
}

/**
 * The sum over CPUs of one word of a per-CPU value.
 * @param v the per-CPU value
 * @param w the word index
 * @returns the sum (exact below 2^53)
 */
export function sumWord(v: PerCpuWords, w: number): number {
  let n = 0;
  for (let c = 0, end = cpus(v); c < end; c++) n += word(v, c * v.stride + w);
  return n;
}

/**
 * The largest copy over CPUs of one word of a per-CPU value.
 * @param v the per-CPU value
 * @param w the word index
 * @returns the maximum
 */
export function maxWord(v: PerCpuWords, w: number): number {
  let n = 0;
  for (let c = 0, end = cpus(v); c < end; c++) n = Math.max(n, word(v, c * v.stride + w));
  return n;
}

/**
 * A histogram value summed over CPUs into index to count (empty buckets left out).
 * @param v a per-CPU histogram value (HIST_BUCKETS words per CPU)
 * @returns bucket index to count
 */
export function histFrom(v: PerCpuWords | null): Map<number, number> {
  const out = new Map<number, number>();
  if (!v) return out;
  for (let i = 0; i < HIST_BUCKETS; i++) {
    const n = sumWord(v, i);
    if (n > 0) out.set(i, n);
  }
  return out;
}

/** The figures of one op (syscall or io_uring opcode) beyond OpTotals. */
export interface OpExtras {
  /** Calls that started but have not ended (at the end of the trace: cut off). */
  inFlight: number;
  restarts: number;
  /** io_uring: every completion of a multishot request, its first included. */
  multishot: number;
  untimed: number;
  okNs: number;
  errNs: number;
}

/**
 * One op's totals from its per-CPU counters and its two histograms.
 * @param ops the op's per-CPU totals value (OP layout)
 * @param ok the successful calls' histogram
 * @param failed the failed calls' histogram
 * @returns the totals, `hist` holding every call (ok and failed), and the extras
 */
export function opFrom(
  ops: PerCpuWords,
  ok: PerCpuWords | null,
  failed: PerCpuWords | null,
): {
  totals: OpTotals;
  okHist: Map<number, number>;
  errorHist: Map<number, number>;
  extras: OpExtras;
} {
  const totals = emptyOpTotals();
  totals.count = sumWord(ops, OP.count);
  totals.errors = sumWord(ops, OP.errors);
  totals.bytes = sumWord(ops, OP.bytes);
  const okNs = sumWord(ops, OP.okNs);
  const errNs = sumWord(ops, OP.errNs);
  totals.total_ns = okNs + errNs;
  totals.max_ns = maxWord(ops, OP.maxNs);
  const okHist = histFrom(ok);
  const errorHist = histFrom(failed);
  const restarts = sumWord(ops, OP.restarts);
  const started = sumWord(ops, OP.started);
  const afterFirst = sumWord(ops, OP.multishot);
  return {
    totals,
    okHist,
    errorHist,
    extras: {
      // A multishot request starts once and ends many times.
      inFlight: Math.max(0, started - (totals.count - afterFirst) - restarts),
      restarts,
      multishot: afterFirst + sumWord(ops, OP.multishotFirst),
      untimed: sumWord(ops, OP.untimed),
      okNs,
      errNs,
    },
  };
}

/** The counters array summed over CPUs. */
export interface Counters {
  faults: number;
  voluntary: number;
  involuntary: number;
  /** Failed map inserts, all maps together. */
  mapFull: number;
  /** TLB flushes keyed by the kernel's reason name. */
  tlb: Map<string, number>;
  /** 32-bit (compat) syscalls, counted apart. */
  compat: number;
}

/**
 * The counters from the per-CPU counters array, one value per index.
 * @param at the per-CPU value of each index (COUNTER layout), index order
 * @returns the counters
 */
export function countersFrom(at: (index: number) => number): Counters {
  const tlb = new Map<string, number>();
  for (let r = 0; r < COUNTER.tlbReasons; r++) {
    const n = at(COUNTER.tlbBase + r);
    if (n > 0) tlb.set(TLB_FLUSH_REASONS[r] ?? `reason_${r}`, n);
  }
  return {
    faults: at(COUNTER.faults),
    voluntary: at(COUNTER.voluntary),
    involuntary: at(COUNTER.involuntary),
    mapFull: at(COUNTER.startFull) + at(COUNTER.uringFull) + at(COUNTER.targetsFull) +
      at(COUNTER.errnoFull) + at(COUNTER.fdFull),
    tlb,
    compat: at(COUNTER.compat),
  };
}
