/**
 * `trace --interval`: one compact block per interval, in 80 columns, like
 * iostat's: a line of the interval's fault, switch and TLB rates, then one row
 * per syscall and io_uring opcode with calls, bytes and time per second and
 * the interval's own P50 and P99, heaviest (most time) first, each followed
 * by where its calls' time went when the backend splits it, then the block
 * layer's line.
 * @module
 */

import { formatBytes, formatCount, formatNs } from "./_terminal_format.ts";
import { terminalSafe } from "./terminal_safe.ts";
import type { IntervalDocument, IntervalOpStats } from "../../schema/mod.ts";
import { intervalBlockLine, intervalSplitLine } from "./_why_text.ts";

/** A rate: `12.3k/s`. */
export function formatRate(perSecond: number): string {
  return `${formatCount(perSecond)}/s`;
}

/** A byte rate: `39.1MiB/s`. */
export function formatByteRate(perSecond: number): string {
  return `${formatBytes(Math.round(perSecond))}/s`;
}

/** Time spent per second of wall time: `12.1ms/s`. */
export function formatTimeRate(nsPerSecond: number): string {
  return `${formatNs(nsPerSecond)}/s`;
}

/**
 * The interval's rows, heaviest first: syscalls, then io_uring opcodes
 * (named `io_uring OP`), each with its stats.
 * @param doc the Interval document
 * @returns `[label, stats]`, sorted by time spent, then calls
 */
export function intervalRows(doc: IntervalDocument): [string, IntervalOpStats][] {
  const rows: [string, IntervalOpStats][] = [
    ...Object.entries(doc.syscalls),
    ...Object.entries(doc.io_uring).map(([op, s]): [string, IntervalOpStats] => [
      `io_uring ${op}`,
      s,
    ]),
  ];
  return rows.sort((a, b) => b[1].total_ns - a[1].total_ns || b[1].calls - a[1].calls);
}

/**
 * The interval's summary line: time, length, fault/switch/TLB rates, losses.
 * @param doc the Interval document
 * @returns one line of at most 80 characters
 */
export function intervalHeadline(doc: IntervalDocument): string {
  const tlb = doc.tlb_flushes_per_s === null ? "n/a" : formatRate(doc.tlb_flushes_per_s);
  const head = `${doc.t_s.toFixed(1)} s (${doc.interval_s.toFixed(1)} s${
    doc.final ? ", last" : ""
  })`;
  const n = lostCount(doc);
  const lost = n > 0 ? `, LOST ${formatCount(n)} events` : "";
  return `${head}: faults ${formatRate(doc.faults_per_s)}, switches ${
    formatRate(doc.switches_per_s)
  }, TLB flushes ${tlb}${lost}`.slice(0, 80);
}

/**
 * Events that went uncounted in an interval, whatever the cause: lost by the
 * kernel's buffers, dropped on a full map, missed by a BPF program.
 * @param doc the Interval document
 * @returns how many
 */
export function lostCount(doc: IntervalDocument): number {
  return doc.lost_events + (doc.map_full ?? 0) + (doc.recursion_misses ?? 0);
}

const COLUMNS = [
  ["  syscall", 16],
  ["calls/s", 9],
  ["errors/s", 8],
  ["bytes/s", 11],
  ["time/s", 9],
  ["p50", 8],
  ["p99", 8],
] as const;

/**
 * Renders one interval as a compact block (a headline, a header, a row per
 * syscall or opcode seen in the interval).
 * @param doc the Interval document
 * @returns lines of at most 80 characters, joined with newlines
 */
export function intervalText(doc: IntervalDocument): string {
  const lines = [intervalHeadline(doc)];
  const rows = intervalRows(doc);
  if (rows.length === 0) {
    lines.push("  no I/O syscalls in this interval");
    return lines.join("\n");
  }
  const cell = (i: number, text: string) => {
    const width = COLUMNS[i]?.[1] ?? 8;
    return i === 0 ? text.slice(0, width).padEnd(width) : text.padStart(width);
  };
  lines.push(COLUMNS.map(([name], i) => cell(i, name)).join(" "));
  for (const [name, s] of rows) {
    lines.push(
      [
        `  ${terminalSafe(name)}`,
        formatRate(s.calls_per_s),
        formatRate(s.errors / Math.max(doc.interval_s, 1e-9)),
        formatByteRate(s.bytes_per_s),
        formatTimeRate(s.total_ns / Math.max(doc.interval_s, 1e-9)),
        formatNs(s.p50_ns),
        formatNs(s.p99_ns),
      ].map((text, i) => cell(i, text)).join(" "),
    );
    const split = intervalSplitLine(s);
    if (split) lines.push(`    ${split}`.slice(0, 80));
  }
  const block = intervalBlockLine(doc, doc.unsupported);
  if (block) lines.push(`  ${terminalSafe(block)}`.slice(0, 80));
  return lines.join("\n");
}
