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
 * CPU's copy in turn, `words` u64 each.
 */
export interface PerCpuWords {
  words: BigUint64Array;
  /** u64 words in one CPU's copy. */
  stride: number;
}

/**
 * The sum over CPUs of one word of a per-CPU value.
 * @param v the per-CPU value
 * @param word the word index
 * @returns the sum (exact below 2^53)
 */
export function sumWord(v: PerCpuWords, word: number): number {
  let n = 0n;
  for (let at = word; at < v.words.length; at += v.stride) n += v.words[at] ?? 0n;
  return Number(n);
}

/**
 * The largest copy over CPUs of one word of a per-CPU value.
 * @param v the per-CPU value
 * @param word the word index
 * @returns the maximum
 */
export function maxWord(v: PerCpuWords, word: number): number {
  let n = 0n;
  for (let at = word; at < v.words.length; at += v.stride) {
    const w = v.words[at] ?? 0n;
    if (w > n) n = w;
  }
  return Number(n);
}

/**
 * A histogram value summed over CPUs into index to count (empty buckets left out).
 * @param v a per-CPU histogram value (HIST_BUCKETS words per CPU)
 * @returns bucket index to count
 */
export function histFrom(v: PerCpuWords | null): Map<number, number> {
  const out = new Map<number, number>();
  if (!v) return out;
  const sums = new Float64Array(HIST_BUCKETS);
  for (let cpu = 0; cpu * v.stride < v.words.length; cpu++) {
    const base = cpu * v.stride;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      const w = v.words[base + i];
      if (w) sums[i] = (sums[i] ?? 0) + Number(w);
    }
  }
  sums.forEach((n, i) => {
    if (n > 0) out.set(i, n);
  });
  return out;
}

/** The figures of one op (syscall or io_uring opcode) beyond OpTotals. */
export interface OpExtras {
  /** Calls that started but have not ended (at the end of the trace: cut off). */
  inFlight: number;
  restarts: number;
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
  const multishot = sumWord(ops, OP.multishot);
  return {
    totals,
    okHist,
    errorHist,
    extras: {
      // A multishot request starts once and ends many times.
      inFlight: Math.max(0, started - (totals.count - multishot) - restarts),
      restarts,
      multishot,
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
  };
}
