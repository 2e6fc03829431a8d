/**
 * Where the calls' time went, for the terminal: a line per syscall for all
 * its calls and for its slow ones ("P99 calls: 92% disk, 5% CPU, 3% run
 * queue"), and a line per block device. Pure; untrusted names are made safe
 * by the caller.
 * @module
 */

import { formatBytes, formatCount, formatNs } from "./_terminal_format.ts";
import type {
  BlockStats,
  IntervalBlockStats,
  IntervalDocument,
  IntervalOpStats,
  RunDocument,
  TimeSplit,
  Unsupported,
} from "../../schema/mod.ts";

/**
 * A split as shares, largest first, leaving out those under 1% (all four
 * when the calls took no time).
 * @param t the split
 * @param options `short`: `runq` and `other` for `run queue` and `other
 *   sleep` (the live view's narrow line) @default false
 * @returns `92% disk, 5% CPU, 3% run queue`
 */
export function splitShares(t: TimeSplit, options: { short?: boolean } = {}): string {
  const { short = false } = options;
  const total = t.cpu_ns + t.runqueue_ns + t.disk_ns + t.other_ns;
  if (total <= 0) return "no time";
  const parts: [string, number][] = [
    ["CPU", t.cpu_ns],
    [short ? "runq" : "run queue", t.runqueue_ns],
    ["disk", t.disk_ns],
    [short ? "other" : "other sleep", t.other_ns],
  ];
  const shown = parts
    .map(([name, ns]) => [name, Math.round(ns / total * 100)] as const)
    .filter(([, pct]) => pct >= 1)
    .sort((a, b) => b[1] - a[1]);
  return shown.map(([name, pct]) => `${pct}% ${name}`).join(", ") || "under 1% each";
}

/**
 * The time split's lines: the syscalls with the most time first (at most
 * `limit`), then each block device with requests (queue to complete, and
 * completions no program saw, on a line below each).
 * @param run the Run document
 * @param limit syscalls shown at most
 * @returns lines of at most 80 characters (none when nothing was measured)
 */
export function timeSplitLines(run: RunDocument, limit = 6): string[] {
  const lines: string[] = [];
  const rows = Object.entries(run.syscalls)
    .filter(([, s]) => s.time_split && s.time_split.total_ns > 0)
    .sort((a, b) => b[1].total_ns - a[1].total_ns)
    .slice(0, limit);
  if (rows.length) lines.push("", "where the time went (inside the calls):");
  for (const [name, s] of rows) {
    const all = s.time_split as TimeSplit;
    const faults = all.faults ? `, ${formatCount(all.faults)} faults` : "";
    lines.push(`  ${name.slice(0, 15)}: ${splitShares(all)}${faults}`);
    const slow = s.slow_time_split;
    if (slow && slow.count > 0) {
      lines.push(`    P99 calls (${formatCount(slow.count)}): ${splitShares(slow)}`);
    }
  }
  const devices = Object.entries(run.block?.devices ?? {});
  for (const [name, d] of devices) {
    for (const [dir, st] of [["reads", d.read], ["writes", d.write]] as const) {
      if (st.count === 0) continue;
      lines.push(...blockLines(name, dir, st, d.traced[dir === "reads" ? "read" : "write"].count));
    }
  }
  return lines;
}

function blockLines(name: string, dir: string, st: BlockStats, traced: number): string[] {
  const lines = [
    `${name.slice(0, 12)} ${formatCount(st.count)} ${dir} ${formatBytes(st.bytes)}, p50 ${
      formatNs(st.p50_ns)
    }, p99 ${formatNs(st.p99_ns)}, ${formatCount(traced)} traced, depth ${st.in_flight_mean}`,
  ];
  const q = st.queued;
  const below = [
    ...(q && q.count > 0
      ? [`queue to complete p50 ${formatNs(q.p50_ns)}, p99 ${formatNs(q.p99_ns)}`]
      : []),
    ...(st.unseen ? [`${formatCount(st.unseen)} completions unseen, counted`] : []),
  ];
  if (below.length > 0) lines.push(`  ${below.join("; ")}`);
  return lines;
}

/**
 * Where one interval's calls of a syscall went, for the interval and live
 * views: all calls, then the slow ones when there were any.
 * @param s the syscall's interval figures
 * @returns `time 92% disk, 5% CPU, 3% runq; P99 calls 97% disk, 3% CPU`, or
 *   null when the backend did not split the time or the calls took none
 */
export function intervalSplitLine(s: IntervalOpStats): string | null {
  const all = s.time_split;
  if (!all || all.count === 0 || all.total_ns <= 0) return null;
  const slow = s.slow_time_split;
  const tail = slow && slow.count > 0 && slow.total_ns > 0
    ? `; P99 calls ${splitShares(slow, { short: true })}`
    : "";
  return `time ${splitShares(all, { short: true })}${tail}`;
}

/**
 * The block layer over one interval, in one line: each device with requests,
 * reads and writes per second and their P99; or why it is not measured.
 * @param doc the Interval document
 * @param unsupported what the trace cannot measure (the time split's and the
 *   block layer's reasons come from here)
 * @returns `block vda 1.2k rd/s p99 1.1ms, 30 wr/s p99 2.0ms`, a `not
 *   measured` line, or null when there is nothing to say
 */
export function intervalBlockLine(
  doc: IntervalDocument,
  unsupported: readonly Unsupported[],
): string | null {
  const notMeasured = whyNotMeasured(unsupported);
  if (doc.block === undefined || doc.block === null) return notMeasured;
  const seconds = Math.max(doc.interval_s, 1e-9);
  const dir = (st: IntervalBlockStats, what: string) =>
    st.count > 0 ? `${formatCount(st.count / seconds)} ${what}/s p99 ${formatNs(st.p99_ns)}` : null;
  const devices = Object.entries(doc.block).map(([name, d]) =>
    `${name} ${[dir(d.read, "rd"), dir(d.write, "wr")].filter(Boolean).join(", ")}`
  );
  const block = `block ${devices.length ? devices.join("; ") : "no requests"}`;
  return notMeasured ? `${block}; ${notMeasured}` : block;
}

/** The time split's and the block layer's `unsupported` entries as one phrase, or null. */
function whyNotMeasured(unsupported: readonly Unsupported[]): string | null {
  const byReason = new Map<string, string[]>();
  for (const u of unsupported) {
    if (u.metric !== "time_split" && u.metric !== "block") continue;
    const what = u.metric === "block" ? "block layer" : "time split";
    byReason.set(u.reason, [...(byReason.get(u.reason) ?? []), what]);
  }
  if (byReason.size === 0) return null;
  return [...byReason].map(([reason, what]) => `${what.join(", ")} not measured: ${reason}`)
    .join("; ");
}
