/**
 * What a Run's data says, as a short ranked list: every rule of the report in
 * one place, each finding with the figures that back it and what to try.
 * A rule that lacks the data it needs (a metric that is null, a syscall that
 * was not seen, too few calls for a percentile to mean anything) says nothing.
 * @module
 */

import {
  COPYING_READS,
  COPYING_WRITES,
  formatBytes,
  formatCount,
  formatNs,
  formatPercent,
  formatSeconds,
  type RunDocument,
  type SyscallStats,
  type TimeSplit,
} from "../schema/mod.ts";

/** How much a finding matters. */
export type Severity = "high" | "medium" | "low";

/** One thing the data says. */
export interface Finding {
  /** The rule's stable id, e.g. `"small-reads"`. */
  rule: string;
  severity: Severity;
  /** One line; names the syscall(s) when it is about them. */
  title: string;
  /** The figures that back it, one human-readable line each. */
  evidence: string[];
  /** The same figures as numbers, for tools and tests. */
  figures: Record<string, number>;
  /** What to try. */
  suggestion: string;
  /**
   * Orders findings of the same severity, higher first, from 0 to 1: the share
   * of the traced time spent in the calls concerned, or for counters (faults,
   * shootdowns) the rate as a share of the rule's "high" threshold.
   */
  score: number;
}

/** The thresholds every rule uses, in one place. */
export const THRESHOLDS = {
  /** read+write: at least this many bytes both read and written through user buffers... */
  copyMinBytes: 64 * 1024 * 1024,
  /** ...and at least this many per second. */
  copyMinBytesPerS: 10 * 1024 * 1024,
  /** ...high from here. */
  copyHighBytesPerS: 100 * 1024 * 1024,
  /** Small I/O: calls moving at most this many bytes on average... */
  smallIoMaxBytes: 16 * 1024,
  /** ...at least this many of them... */
  smallIoMinCalls: 10_000,
  /** ...and this many per second. */
  smallIoMinPerS: 1_000,
  /** ...high when these calls take this share of the trace's time. */
  smallIoHighShare: 0.1,
  /** mmap faults: at least this many faults... */
  faultsMin: 1_000,
  /** ...and this many per second. */
  faultsMinPerS: 1_000,
  /** ...high from here. */
  faultsHighPerS: 50_000,
  /** Major faults: at least this many. */
  majorFaultsMin: 100,
  /** ...high from this rate. */
  majorFaultsHighPerS: 100,
  /** TLB shootdowns: at least this many... */
  shootdownsMin: 100,
  /** ...and this many per second... */
  shootdownsMinPerS: 10,
  /** ...high from here. */
  shootdownsHighPerS: 1_000,
  /** Tail: P99.9 needs this many calls to mean anything. */
  tailMinCalls: 1_000,
  /** ...P99.9 at least this many times P99... */
  tailMinRatio: 4,
  /** ...and at least this far above it, in ns. */
  tailMinGapNs: 50_000,
  /** ...at most this many tail findings. */
  tailMaxFindings: 3,
  /** Errors: at least this many calls... */
  errorsMinCalls: 100,
  /** ...and this share failing. */
  errorsMinShare: 0.05,
  /** io_uring: at least this many requests of an opcode... */
  uringMinCount: 100,
  /** ...and this share punted to io-wq workers. */
  uringAsyncShare: 0.5,
  /** A slow calls' split (slow_time_split) means something from this many calls... */
  splitMinSlowCalls: 20,
  /** ...and names a cause when this share of their time went to it (disk, run queue). */
  splitCauseShare: 0.5,
  /** ...at most this many findings per cause. */
  splitMaxFindings: 3,
} as const;

/** Syscalls that read into one user buffer per call. */
const SINGLE_READS = ["read", "pread64", "recvfrom"];
/** Syscalls that write from one user buffer per call. */
const SINGLE_WRITES = ["write", "pwrite64", "sendto"];

const SEVERITY_ORDER: Record<Severity, number> = { high: 0, medium: 1, low: 2 };

/** A rule: the data in, its findings out (none without data). */
type Rule = (ctx: Context) => Finding[];

interface Context {
  doc: RunDocument;
  /** Seconds traced, or null when unknown. */
  seconds: number | null;
  /** Per second over the trace, or null when the duration is unknown. */
  rate: (n: number) => number | null;
  /** Syscalls with their stats, only well-formed ones. */
  calls: [string, SyscallStats][];
}

/** The rules, in no particular order; {@linkcode findings} ranks their output. */
export const RULES: Record<string, Rule> = {
  "read-write-copy": readWriteCopy,
  "small-reads": (ctx) => smallIo(ctx, "read"),
  "small-writes": (ctx) => smallIo(ctx, "write"),
  "mmap-faults": mmapFaults,
  "major-faults": majorFaults,
  "munmap-shootdowns": munmapShootdowns,
  "tail-latency": tailLatency,
  "syscall-errors": syscallErrors,
  "io_uring-async": uringAsync,
  "lost-events": lostEvents,
  "disk-tail": diskTail,
  "runqueue-tail": runqueueTail,
};

/**
 * What the Run's data says, most important first: by severity, then by score.
 * @param doc a Run document
 * @returns findings, possibly none
 * @example
 * ```ts
 * import { findings } from "./findings.ts";
 * import type { RunDocument } from "../schema/mod.ts";
 * const doc = {
 *   schema: "ioscope.run/2",
 *   meta: { duration_s: 1, lost_events: 0, unsupported: [] },
 *   syscalls: {}, io_uring: {},
 *   copy: { copied_bytes: 0, zero_copy_bytes: 0, zero_copy_ratio: 0 },
 *   faults: { minor: 0, major: 0, total: 0 },
 *   tlb: { flushes: 0, by_reason: {}, dtlb_load_misses: null },
 *   sched: { voluntary: 0, involuntary: 0 }, timeline: [],
 * } as unknown as RunDocument;
 * console.assert(findings(doc).length === 0);
 * ```
 */
export function findings(doc: RunDocument): Finding[] {
  const d = num(doc.meta?.duration_s);
  const seconds = d > 0 ? d : null;
  const calls = Object.entries(doc.syscalls ?? {}).filter(([, s]) =>
    s !== null && typeof s === "object" && num(s.count) > 0
  );
  const ctx: Context = {
    doc,
    seconds,
    rate: (n) => (seconds === null ? null : n / seconds),
    calls,
  };
  const out = Object.values(RULES).flatMap((rule) => rule(ctx));
  return out.sort((a, b) =>
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || b.score - a.score ||
    (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0)
  );
}

function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}

/** `rate` meets `min`, or the rate is unknown (no duration) and the count alone decides. */
function atLeast(rate: number | null, min: number): boolean {
  return rate === null || rate >= min;
}

function perS(rate: number | null, unit = ""): string {
  return rate === null ? "" : ` (${formatCount(rate)}${unit}/s)`;
}

function traceTime(ctx: Context): string {
  return ctx.seconds === null ? "" : ` of the ${formatSeconds(ctx.seconds)} traced`;
}

function share(part: number, whole: number | null): number {
  return whole !== null && whole > 0 ? Math.min(1, part / whole) : 0;
}

/** A rate as a share of a rule's "high" threshold, 0 to 1; 0.5 when the rate is unknown. */
function intensity(rate: number | null, high: number): number {
  return rate === null ? 0.5 : Math.min(1, rate / high);
}

function readWriteCopy(ctx: Context): Finding[] {
  const side = (names: readonly string[]) =>
    ctx.calls.filter(([n, s]) => names.includes(n) && s.bytes > 0);
  const reads = side(COPYING_READS);
  const writes = side(COPYING_WRITES);
  const readBytes = reads.reduce((t, [, s]) => t + num(s.bytes), 0);
  const writeBytes = writes.reduce((t, [, s]) => t + num(s.bytes), 0);
  const forwarded = Math.min(readBytes, writeBytes);
  const rate = ctx.rate(forwarded);
  if (forwarded < THRESHOLDS.copyMinBytes || !atLeast(rate, THRESHOLDS.copyMinBytesPerS)) return [];
  const list = (l: [string, SyscallStats][]) =>
    l.sort((a, b) => b[1].bytes - a[1].bytes).map(([n, s]) => `${n} ${formatBytes(s.bytes)}`)
      .join(", ");
  const timeNs = [...reads, ...writes].reduce((t, [, s]) => t + num(s.total_ns), 0);
  const high = rate !== null ? rate >= THRESHOLDS.copyHighBytesPerS : forwarded >= 2 ** 30;
  const major = [
    ...reads.filter(([, s]) => num(s.bytes) >= readBytes * 0.01),
    ...writes.filter(([, s]) => num(s.bytes) >= writeBytes * 0.01),
  ];
  const names = [...new Set(major.map(([n]) => n))].join("+");
  return [{
    rule: "read-write-copy",
    severity: high ? "high" : "medium",
    title: `${formatBytes(forwarded)} both read and written through user buffers (${names})`,
    evidence: [
      `read into user space: ${formatBytes(readBytes)} (${list(reads)})`,
      `written from user space: ${formatBytes(writeBytes)} (${list(writes)})`,
      `${formatBytes(forwarded)}${rate === null ? "" : ` (${formatBytes(rate)}/s)`} ` +
      "crossed the user/kernel boundary twice: once in, once out",
      `zero-copy share of all bytes moved: ${formatPercent(num(ctx.doc.copy?.zero_copy_ratio))}`,
      `${formatNs(timeNs)} spent in these calls${traceTime(ctx)}`,
    ],
    figures: {
      read_bytes: readBytes,
      write_bytes: writeBytes,
      forwarded_bytes: forwarded,
      ...(rate === null ? {} : { forwarded_bytes_per_s: rate }),
      zero_copy_ratio: num(ctx.doc.copy?.zero_copy_ratio),
      time_ns: timeNs,
    },
    suggestion: "If this process forwards file data to a socket or pipe, sendfile(2) (file to " +
      "socket) or splice(2) (through a pipe) moves it inside the kernel and removes a copy " +
      "per byte, and copy_file_range(2) does the same from file to file. Run `ioscope bench` " +
      "to see what the change buys on this host.",
    score: share(timeNs / 1e9, ctx.seconds),
  }];
}

/** Syscalls that only take sockets. */
const SOCKET_CALLS = [
  "recvfrom",
  "recv",
  "recvmsg",
  "recvmmsg",
  "sendto",
  "send",
  "sendmsg",
  "sendmmsg",
];

/**
 * The share of these syscalls' calls made on sockets: socket-only syscalls
 * count whole; read/write by the share of their calls on the descriptors the
 * Run's `fds` lists that were on sockets (`fds` holds the top descriptors
 * only: a server's other connections are as likely sockets as the listed
 * ones); a syscall on no listed descriptor is taken as on files.
 */
function socketShare(ctx: Context, picked: [string, SyscallStats][]): number {
  let total = 0;
  let socket = 0;
  for (const [name, s] of picked) {
    total += num(s.count);
    if (SOCKET_CALLS.includes(name)) {
      socket += num(s.count);
      continue;
    }
    let listed = 0;
    let onSockets = 0;
    for (const fd of ctx.doc.fds ?? []) {
      const n = num(fd.calls?.[name]);
      listed += n;
      if (fd.kind === "socket") onSockets += n;
    }
    if (listed > 0) socket += num(s.count) * onSockets / listed;
  }
  return total > 0 ? Math.min(1, socket / total) : 0;
}

function smallIo(ctx: Context, dir: "read" | "write"): Finding[] {
  const names = dir === "read" ? SINGLE_READS : SINGLE_WRITES;
  const small = ctx.calls.filter(([n, s]) => {
    const okN = Math.max(0, num(s.count) - num(s.errors));
    return names.includes(n) && okN > 0 && num(s.bytes) / okN <= THRESHOLDS.smallIoMaxBytes;
  });
  // Name only the syscalls that make up the pattern, not a handful of stray calls.
  const smallCalls = small.reduce((t, [, s]) => t + num(s.count), 0);
  const picked = small.filter(([, s]) => num(s.count) >= smallCalls * 0.01);
  const count = picked.reduce((t, [, s]) => t + num(s.count), 0);
  const ok = picked.reduce((t, [, s]) => t + Math.max(0, num(s.count) - num(s.errors)), 0);
  const bytes = picked.reduce((t, [, s]) => t + num(s.bytes), 0);
  const timeNs = picked.reduce((t, [, s]) => t + num(s.total_ns), 0);
  if (ok === 0) return [];
  const avg = bytes / ok;
  const rate = ctx.rate(count);
  if (
    count < THRESHOLDS.smallIoMinCalls || !atLeast(rate, THRESHOLDS.smallIoMinPerS) ||
    avg > THRESHOLDS.smallIoMaxBytes
  ) return [];
  const timeShare = share(timeNs / 1e9, ctx.seconds);
  const evidence = picked.sort((a, b) => b[1].count - a[1].count).map(([n, s]) => {
    const okN = Math.max(0, s.count - s.errors);
    return `${n}: ${formatCount(s.count)} calls${perS(ctx.rate(s.count))}, ` +
      `${formatBytes(okN > 0 ? s.bytes / okN : 0)} per call on average`;
  });
  evidence.push(
    `${formatNs(timeNs)} spent in these calls${traceTime(ctx)}` +
      (ctx.seconds === null ? "" : ` (${formatPercent(timeShare)})`),
  );
  const what = picked.map(([n]) => n).join(", ");
  const onSockets = socketShare(ctx, picked);
  if (onSockets >= 0.5) {
    // Messages (HTTP requests, RPCs): their size is the protocol's, not a block size.
    evidence.push(`${formatPercent(onSockets)} of these calls are on sockets`);
    return [{
      rule: dir === "read" ? "small-reads" : "small-writes",
      severity: "low",
      title: `Many small socket ${dir}s: ${formatCount(count)} ${what} calls of ` +
        `${formatBytes(avg)} on average`,
      evidence,
      figures: {
        calls: count,
        ...(rate === null ? {} : { calls_per_s: rate }),
        avg_bytes: avg,
        time_ns: timeNs,
        time_share: timeShare,
        socket_share: onSockets,
      },
      suggestion: "These are messages on sockets (requests, responses): no block size changes " +
        "their size. What can cut the calls is fewer round trips per message: keep-alive and " +
        "pipelining, batching several messages per call (recvmmsg/sendmmsg, writev of a " +
        "response's parts), or, past a few hundred thousand calls a second, io_uring.",
      score: timeShare / 2,
    }];
  }
  return [{
    rule: dir === "read" ? "small-reads" : "small-writes",
    severity: timeShare >= THRESHOLDS.smallIoHighShare ? "high" : "medium",
    title: `Many small ${dir}s: ${formatCount(count)} ${what} calls of ${formatBytes(avg)} ` +
      "on average",
    evidence,
    figures: {
      calls: count,
      ...(rate === null ? {} : { calls_per_s: rate }),
      avg_bytes: avg,
      time_ns: timeNs,
      time_share: timeShare,
    },
    suggestion: dir === "read"
      ? "Each call pays a kernel entry and exit for a few KiB. Read bigger blocks (64 KiB to " +
        "1 MiB) where the data allows; gather several buffers per call with readv/preadv; or " +
        "queue many reads and submit them together through io_uring (one io_uring_enter per " +
        "batch)."
      : "Each call pays a kernel entry and exit for a few KiB. Buffer and write bigger blocks, " +
        "gather buffers with writev/pwritev, or queue writes through io_uring and submit them " +
        "in batches.",
    score: timeShare,
  }];
}

function mmapFaults(ctx: Context): Finding[] {
  const mmap = ctx.doc.syscalls?.mmap;
  const faults = num(ctx.doc.faults?.total);
  const rate = ctx.rate(faults);
  if (!mmap || num(mmap.count) === 0) return [];
  // A heap that gives memory back (madvise DONTNEED or FREE: Go's scavenger,
  // jemalloc, glibc's trim) faults again when it touches it: more madvise
  // calls than mmap calls say the faults are the allocator's, not mappings'.
  if (num(ctx.doc.syscalls?.madvise?.count) > num(mmap.count)) return [];
  if (faults < THRESHOLDS.faultsMin || !atLeast(rate, THRESHOLDS.faultsMinPerS)) return [];
  const minor = ctx.doc.faults?.minor;
  const major = ctx.doc.faults?.major;
  const munmap = num(ctx.doc.syscalls?.munmap?.count);
  return [{
    rule: "mmap-faults",
    severity: rate !== null && rate >= THRESHOLDS.faultsHighPerS ? "high" : "medium",
    title: `${formatCount(faults)} page faults${perS(rate)} with ${
      formatCount(mmap.count)
    } mmap calls`,
    evidence: [
      `page faults: ${formatCount(faults)}${perS(rate)}; minor ${
        minor === null || minor === undefined ? "n/a" : formatCount(minor)
      }, major ${major === null || major === undefined ? "n/a" : formatCount(major)}`,
      `mmap: ${formatCount(mmap.count)} calls${perS(ctx.rate(mmap.count))}` +
      (munmap > 0 ? `, munmap: ${formatCount(munmap)} calls` : ""),
      `${formatCount(faults / mmap.count)} faults per mmap call`,
    ],
    figures: {
      faults,
      ...(rate === null ? {} : { faults_per_s: rate }),
      mmap_calls: mmap.count,
      munmap_calls: munmap,
      faults_per_mmap: faults / mmap.count,
    },
    suggestion: "Every first touch of a mapped page is a fault. Map with MAP_POPULATE when the " +
      "whole mapping will be read; announce the access pattern with madvise(MADV_SEQUENTIAL or " +
      "MADV_WILLNEED); use huge pages (madvise(MADV_HUGEPAGE) for anonymous and tmpfs memory) " +
      "for one fault per 2 MiB instead of per 4 KiB; and keep mappings alive across requests " +
      "instead of mapping each time. Some faults may come from the heap rather than mmap'd files.",
    score: intensity(rate, THRESHOLDS.faultsHighPerS),
  }];
}

function majorFaults(ctx: Context): Finding[] {
  const major = ctx.doc.faults?.major;
  if (typeof major !== "number" || major < THRESHOLDS.majorFaultsMin) return [];
  const rate = ctx.rate(major);
  const total = num(ctx.doc.faults?.total);
  return [{
    rule: "major-faults",
    severity: rate !== null && rate >= THRESHOLDS.majorFaultsHighPerS ? "high" : "medium",
    title: `${formatCount(major)} major page faults${perS(rate)}: pages read from storage on ` +
      "first touch",
    evidence: [
      `major faults: ${formatCount(major)}${perS(rate)} of ${formatCount(total)} faults`,
      "each major fault blocks the thread until the page is read from its file or swap",
    ],
    figures: { major_faults: major, ...(rate === null ? {} : { major_faults_per_s: rate }) },
    suggestion: "Read ahead of use: madvise(MADV_WILLNEED) or readahead(2) on the range, " +
      "MAP_POPULATE for mappings read in full, or posix_fadvise(POSIX_FADV_SEQUENTIAL) for " +
      "files; if it is swap, the host is short of memory.",
    score: intensity(rate, THRESHOLDS.majorFaultsHighPerS),
  }];
}

/** munmap-shootdowns where the flushes inside munmap calls were counted. */
function munmapFlushes(
  ctx: Context,
  munmap: { count: number; total_ns: number; p99_ns: number },
  inside: number,
  shootdowns: number,
): Finding {
  const rate = ctx.rate(inside);
  return {
    rule: "munmap-shootdowns",
    severity: rate !== null && rate >= THRESHOLDS.shootdownsHighPerS ? "high" : "medium",
    title: `${formatCount(inside)} TLB flushes and shootdown IPIs${perS(rate)} inside ${
      formatCount(munmap.count)
    } munmap calls`,
    evidence: [
      `made inside munmap calls: ${formatCount(inside)} (${
        formatCount(inside / munmap.count)
      } per call); TLB shootdowns of the traced processes in all: ${formatCount(shootdowns)}`,
      `munmap: ${formatCount(munmap.count)} calls${perS(ctx.rate(munmap.count))}, ${
        formatNs(num(munmap.total_ns))
      } in total, P99 ${formatNs(num(munmap.p99_ns))}`,
    ],
    figures: {
      shootdowns: inside,
      ...(rate === null ? {} : { shootdowns_per_s: rate }),
      munmap_calls: munmap.count,
      all_shootdowns: shootdowns,
    },
    suggestion: "Unmapping memory that other threads may have cached in their TLBs makes the " +
      "kernel interrupt those CPUs (an IPI each). Keep mappings and reuse them (a pool of " +
      "buffers), unmap in large batches rather than per request, and avoid mapping per request " +
      "in multi-threaded processes.",
    score: intensity(rate, THRESHOLDS.shootdownsHighPerS),
  };
}

function munmapShootdowns(ctx: Context): Finding[] {
  const munmap = ctx.doc.syscalls?.munmap;
  const flushes = ctx.doc.tlb?.flushes;
  if (!munmap || num(munmap.count) === 0 || typeof flushes !== "number") return [];
  const reasons = Object.entries(ctx.doc.tlb?.by_reason ?? {})
    // Flushes only: a Run written before 2026-12-06 may hold remote_ipi_send,
    // the sender's mark of a shootdown whose flushes are the shootdown reasons.
    .filter(([r, n]) => /shootdown/i.test(r) && num(n) > 0)
    .sort((a, b) => b[1] - a[1]);
  const shootdowns = reasons.reduce((t, [, n]) => t + num(n), 0);
  // Where the time split counted the flushes made inside munmap calls, only
  // those are munmap's: a process's shootdowns may come from mprotect,
  // madvise, page migration or another thread's unmapping.
  const inside = munmap.time_split?.tlb_flushes;
  const charged = typeof inside === "number" ? inside : shootdowns;
  const rate = ctx.rate(charged);
  if (charged < THRESHOLDS.shootdownsMin || !atLeast(rate, THRESHOLDS.shootdownsMinPerS)) {
    return [];
  }
  if (typeof inside === "number") return [munmapFlushes(ctx, munmap, inside, shootdowns)];
  return [{
    rule: "munmap-shootdowns",
    severity: rate !== null && rate >= THRESHOLDS.shootdownsHighPerS ? "high" : "medium",
    title: `${formatCount(shootdowns)} TLB shootdowns${perS(rate)} with ${
      formatCount(munmap.count)
    } munmap calls`,
    evidence: [
      `TLB flushes: ${formatCount(flushes)}, shootdowns among them: ${
        reasons.map(([r, n]) => `${r} ${formatCount(n)}`).join(", ")
      }`,
      `munmap: ${formatCount(munmap.count)} calls${perS(ctx.rate(munmap.count))}, ${
        formatNs(num(munmap.total_ns))
      } in total, P99 ${formatNs(num(munmap.p99_ns))}`,
      `${formatCount(shootdowns / munmap.count)} shootdowns per munmap call`,
    ],
    figures: {
      shootdowns,
      ...(rate === null ? {} : { shootdowns_per_s: rate }),
      munmap_calls: munmap.count,
      tlb_flushes: flushes,
    },
    suggestion: "Unmapping memory that other threads may have cached in their TLBs makes the " +
      "kernel interrupt those CPUs (an IPI each). Keep mappings and reuse them (a pool of " +
      "buffers), unmap in large batches rather than per request, and avoid mapping per request " +
      "in multi-threaded processes.",
    score: intensity(rate, THRESHOLDS.shootdownsHighPerS),
  }];
}

function tailLatency(ctx: Context): Finding[] {
  const out: Finding[] = [];
  for (const [name, s] of ctx.calls) {
    const p99 = num(s.p99_ns);
    const p999 = num(s.p999_ns);
    if (s.count < THRESHOLDS.tailMinCalls || p99 <= 0) continue;
    if (p999 < p99 * THRESHOLDS.tailMinRatio || p999 - p99 < THRESHOLDS.tailMinGapNs) continue;
    const ratio = p999 / p99;
    const slow = Math.floor(s.count / 1000);
    out.push({
      rule: "tail-latency",
      severity: p999 >= 10e6 ? "high" : p999 >= 1e6 ? "medium" : "low",
      title: `${name}: P99.9 is ${ratio >= 10 ? ratio.toFixed(0) : ratio.toFixed(1)}x its P99 (${
        formatNs(p999)
      } vs ${formatNs(p99)})`,
      evidence: [
        `${name}: ${formatCount(s.count)} calls; P50 ${formatNs(num(s.p50_ns))}, P99 ${
          formatNs(p99)
        }, P99.9 ${formatNs(p999)}, max ${formatNs(num(s.max_ns))}`,
        `about ${formatCount(slow)} call${slow === 1 ? "" : "s"} took ${formatNs(p999)} or more`,
      ],
      figures: {
        calls: s.count,
        p99_ns: p99,
        p999_ns: p999,
        max_ns: num(s.max_ns),
        ratio,
      },
      suggestion: tailAdvice(name),
      score: Math.min(1, (p999 - p99) * slow / 1e9 / (ctx.seconds ?? 1)),
    });
  }
  return out.sort((a, b) => (b.figures.p999_ns ?? 0) - (a.figures.p999_ns ?? 0))
    .slice(0, THRESHOLDS.tailMaxFindings);
}

function tailAdvice(name: string): string {
  if (/sync/.test(name)) {
    return "Rare slow flushes stall whoever waits on them: sync from a separate thread, batch " +
      "syncs (group commit), and check the device's write cache and the filesystem's journal.";
  }
  if (COPYING_READS.includes(name) || name === "sendfile64" || name === "splice") {
    return "The slow few usually went to storage (page cache misses) or waited on a lock or " +
      "the CPU: compare with major faults, involuntary context switches and the timeline; " +
      "read ahead (posix_fadvise, MADV_WILLNEED) or keep hot data cached.";
  }
  if (COPYING_WRITES.includes(name)) {
    return "Slow writes are often writeback throttling (the dirty page limit) or a full socket " +
      "buffer: lower vm.dirty_bytes so writeback starts earlier, sync_file_range in the " +
      "background, or check the receiver.";
  }
  return "Look at what else happened at the same time: the timeline, involuntary context " +
    "switches, and a flame graph (--flamegraph) of where the time went.";
}

function syscallErrors(ctx: Context): Finding[] {
  const out: Finding[] = [];
  for (const [name, s] of ctx.calls) {
    const errors = num(s.errors);
    if (s.count < THRESHOLDS.errorsMinCalls || errors / s.count < THRESHOLDS.errorsMinShare) {
      continue;
    }
    const failShare = errors / s.count;
    const rate = ctx.rate(errors);
    // A non-blocking server reads until EAGAIN, then sleeps in epoll_wait (or
    // poll, select): as many sleeps as EAGAINs is waiting, not polling, and
    // healthy. Under load an event loop finds other work instead of sleeping
    // (Go's netpoller parks the goroutine and runs another), but it still
    // fails at most once per message: no more EAGAINs than successful calls.
    // Polling retries without waiting in between: its failures outnumber the
    // calls that found data.
    const eagain = num(s.errnos?.EAGAIN);
    const sleeps = num(ctx.doc.sched?.voluntary);
    const succeeded = num(s.count) - errors;
    const mostlyEagain = eagain >= 0.9 * errors;
    if (mostlyEagain && (sleeps >= 0.5 * eagain || eagain <= succeeded)) continue;
    const polling = mostlyEagain
      ? [
        `${formatCount(eagain)} EAGAIN for ${formatCount(succeeded)} successful calls and ${
          formatCount(sleeps)
        } sleeps (voluntary context switches): it retries without waiting in between`,
      ]
      : [];
    out.push({
      rule: "syscall-errors",
      severity: failShare >= 0.25 || (rate !== null && rate >= 1000) ? "medium" : "low",
      title: `${name}: ${formatCount(errors)} of ${formatCount(s.count)} calls failed (${
        formatPercent(failShare)
      })`,
      evidence: [
        `${name}: ${formatCount(errors)} errors${perS(rate)} in ${formatCount(s.count)} calls`,
        ...polling,
      ],
      figures: { calls: s.count, errors, error_share: failShare },
      suggestion: "A failed call still costs a kernel round trip. EAGAIN on a non-blocking " +
        "descriptor means polling: wait with epoll or io_uring instead of retrying. See which " +
        `errno with \`strace -f -e trace=${name} -Z -p PID\`.`,
      score: failShare,
    });
  }
  return out;
}

function uringAsync(ctx: Context): Finding[] {
  const out: Finding[] = [];
  for (const [op, s] of Object.entries(ctx.doc.io_uring ?? {})) {
    if (!s || num(s.count) < THRESHOLDS.uringMinCount) continue;
    const punted = num(s.async) / s.count;
    if (punted < THRESHOLDS.uringAsyncShare) continue;
    out.push({
      rule: "io_uring-async",
      severity: "medium",
      title: `io_uring ${op}: ${formatPercent(punted)} of requests went to io-wq worker threads`,
      evidence: [
        `${op}: ${formatCount(s.count)} requests, ${formatCount(num(s.async))} punted to io-wq; ` +
        `P50 ${formatNs(num(s.p50_ns))}, P99 ${formatNs(num(s.p99_ns))}`,
      ],
      figures: { requests: s.count, async: num(s.async), async_share: punted },
      suggestion: "A request the kernel cannot complete without blocking is handed to a worker " +
        "thread, which costs a context switch and a wakeup. Buffered reads of uncached data do " +
        "this; O_DIRECT on a filesystem that supports non-blocking I/O, registered files and " +
        "buffers, and no IOSQE_ASYNC unless intended keep requests inline.",
      score: punted,
    });
  }
  return out;
}

function lostEvents(ctx: Context): Finding[] {
  const lost = num(ctx.doc.meta?.lost_events);
  if (lost <= 0) return [];
  return [{
    rule: "lost-events",
    severity: "medium",
    title: `${formatCount(lost)} events were lost: counts and percentiles are lower bounds`,
    evidence: [`lost events: ${formatCount(lost)} (backend ${ctx.doc.meta?.backend ?? "?"})`],
    figures: { lost_events: lost },
    suggestion: "The ftrace backend drops events when its buffer fills. Use the bpftrace " +
      "backend, which aggregates in the kernel and loses nothing, or trace for less time.",
    score: 1,
  }];
}

/** A split's four shares, largest first: `69% disk, 20% run queue, 11% CPU` (under 1% left out). */
function splitText(t: TimeSplit): string {
  const total = t.cpu_ns + t.runqueue_ns + t.disk_ns + t.other_ns;
  const parts: [string, number][] = [
    ["CPU", t.cpu_ns],
    ["run queue", t.runqueue_ns],
    ["disk", t.disk_ns],
    ["other sleep", t.other_ns],
  ];
  return parts.filter(([, ns]) => total > 0 && ns / total >= 0.01).sort((a, b) => b[1] - a[1])
    .map(([name, ns]) => `${formatPercent(ns / total)} ${name}`).join(", ");
}

/**
 * The syscalls whose slow calls spent at least the cause's share of their
 * time in it (`slow_time_split`, enough slow calls to mean something), most
 * time in it first.
 */
function slowBy(
  ctx: Context,
  cause: "disk_ns" | "runqueue_ns",
): { name: string; s: SyscallStats; slow: TimeSplit; share: number }[] {
  const out = [];
  for (const [name, s] of ctx.calls) {
    const slow = s.slow_time_split;
    if (!slow || num(slow.count) < THRESHOLDS.splitMinSlowCalls) continue;
    const total = num(slow.cpu_ns) + num(slow.runqueue_ns) + num(slow.disk_ns) +
      num(slow.other_ns);
    if (total <= 0) continue;
    const share = num(slow[cause]) / total;
    if (share >= THRESHOLDS.splitCauseShare) out.push({ name, s, slow, share });
  }
  return out.sort((a, b) => b.slow[cause] - a.slow[cause]).slice(0, THRESHOLDS.splitMaxFindings);
}

/** The slow calls' line of evidence: how many, from what latency, where their time went. */
function slowLine(name: string, s: SyscallStats, slow: TimeSplit): string {
  return `${name}: ${formatCount(slow.count)} slow calls (P99 ${formatNs(num(s.p99_ns))}) ` +
    `took ${formatNs(slow.total_ns)}: ${splitText(slow)}; all ${formatCount(s.count)} calls: ${
      s.time_split ? splitText(s.time_split) : "n/a"
    }`;
}

/**
 * The page-cache hit ratio over the files the traced processes only read and
 * added pages for (page_cache.files with a hit ratio), or null where it is
 * not known. A file read without a single miss adds no page and is not
 * listed: the ratio is that of the files that missed.
 */
function hitRatio(doc: RunDocument): { ratio: number; files: number } | null {
  const files = (doc.page_cache?.files ?? []).filter((f) =>
    typeof f.hit_ratio === "number" && num(f.read_bytes) > 0
  );
  const read = files.reduce((t, f) => t + num(f.read_bytes), 0);
  if (read <= 0) return null;
  const added = files.reduce((t, f) => t + num(f.bytes_added), 0);
  return { ratio: Math.max(0, 1 - added / read), files: files.length };
}

function diskTail(ctx: Context): Finding[] {
  const devices = Object.entries(ctx.doc.block?.devices ?? {});
  return slowBy(ctx, "disk_ns").map(({ name, s, slow, share: part }) => {
    // The direction of the calls' own requests: a sync's are writes (flushes).
    const dir = COPYING_READS.includes(name) || name === "sendfile64" ? "read" : "write";
    const mine = devices.filter(([, d]) => num(d.traced?.[dir]?.count) > 0)
      .sort((a, b) => b[1].traced[dir].count - a[1].traced[dir].count);
    const named = mine.map(([dev, d]) => {
      const t = d.traced[dir];
      return { dev, t, size: t.bytes / t.count, all: d[dir] };
    });
    const first = named[0];
    const cache = dir === "read" ? hitRatio(ctx.doc) : null;
    const what = first
      ? `: ${first.dev}'s P99 is ${formatNs(first.t.p99_ns)} for ${formatBytes(first.size)} ${dir}s`
      : "";
    return {
      rule: "disk-tail",
      severity: part >= 0.8 ? "high" : "medium",
      title: `${name}'s tail is the disk${what}` +
        (cache ? `; page cache hit ratio ${formatPercent(cache.ratio)}` : ""),
      evidence: [
        slowLine(name, s, slow),
        ...named.map(({ dev, t, size, all }) =>
          `${dev}: ${formatCount(t.count)} ${dir}s by the traced processes, ${
            formatBytes(size)
          } each on average, P50 ${formatNs(t.p50_ns)}, P99 ${formatNs(t.p99_ns)} ` +
          `(all ${formatCount(all.count)}: P99 ${formatNs(all.p99_ns)}, ${all.in_flight_mean} ` +
          "in flight on average)"
        ),
        ...(cache
          ? [
            `page cache: ${formatPercent(cache.ratio)} of the bytes read from the ${
              formatCount(cache.files)
            } file${cache.files === 1 ? "" : "s"} with pages added were cached (pages readahead ` +
            "brought in count as misses; files read without a miss are not among them)",
          ]
          : []),
      ],
      figures: {
        slow_calls: slow.count,
        slow_disk_share: part,
        slow_disk_ns: slow.disk_ns,
        ...(first
          ? { device_p99_ns: first.t.p99_ns, request_bytes: first.size, requests: first.t.count }
          : {}),
        ...(cache ? { hit_ratio: cache.ratio } : {}),
      },
      suggestion: "The slow calls waited for their own block requests. Faster storage or a " +
        "shallower queue shortens the wait; fewer requests avoid it: keep the hot data " +
        "cached (more memory, or buffered reads instead of O_DIRECT where it is reread), " +
        "read ahead (posix_fadvise WILLNEED), or batch small requests into larger ones.",
      score: share(slow.disk_ns / 1e9, ctx.seconds),
    };
  });
}

function runqueueTail(ctx: Context): Finding[] {
  const involuntary = num(ctx.doc.sched?.involuntary);
  return slowBy(ctx, "runqueue_ns").map(({ name, s, slow, share: part }) => ({
    rule: "runqueue-tail",
    severity: "medium",
    title: `${name}'s slow calls waited for a CPU: ${formatPercent(part)} run queue`,
    evidence: [
      slowLine(name, s, slow),
      `the traced processes were preempted ${formatCount(involuntary)} times ` +
      "(involuntary context switches)",
    ],
    figures: {
      slow_calls: slow.count,
      slow_runqueue_share: part,
      slow_runqueue_ns: slow.runqueue_ns,
      involuntary,
    },
    suggestion: "The slow calls were ready to run but no CPU was free: the host or the " +
      "cgroup's CPU quota is the tail, not the I/O. Run fewer busy threads than CPUs, " +
      "raise the process's priority (nice, SCHED_FIFO for a latency-critical thread), pin " +
      "noisy neighbours elsewhere (taskset, cpusets), or check the cgroup's cpu.max throttling.",
    score: share(slow.runqueue_ns / 1e9, ctx.seconds),
  }));
}
