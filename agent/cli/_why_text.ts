/**
 * Where the calls' time went, for the terminal: a line per syscall for all
 * its calls and for its slow ones ("P99 calls: 92% disk, 5% CPU, 3% run
 * queue"), and a line per block device. Pure; untrusted names are made safe
 * by the caller.
 * @module
 */

import { formatBytes, formatCount, formatNs } from "./_terminal_format.ts";
import type { BlockStats, RunDocument, TimeSplit } from "../../schema/mod.ts";

/**
 * A split as shares, largest first, leaving out those under 1% (all four
 * when the calls took no time).
 * @param t the split
 * @returns `92% disk, 5% CPU, 3% run queue`
 */
export function splitShares(t: TimeSplit): string {
  const total = t.cpu_ns + t.runqueue_ns + t.disk_ns + t.other_ns;
  if (total <= 0) return "no time";
  const parts: [string, number][] = [
    ["CPU", t.cpu_ns],
    ["run queue", t.runqueue_ns],
    ["disk", t.disk_ns],
    ["other sleep", t.other_ns],
  ];
  const shown = parts
    .map(([name, ns]) => [name, Math.round(ns / total * 100)] as const)
    .filter(([, pct]) => pct >= 1)
    .sort((a, b) => b[1] - a[1]);
  return shown.map(([name, pct]) => `${pct}% ${name}`).join(", ") || "under 1% each";
}

/**
 * The time split's lines: the syscalls with the most time first (at most
 * `limit`), then each block device with requests.
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
      lines.push(blockLine(name, dir, st, d.traced[dir === "reads" ? "read" : "write"].count));
    }
  }
  return lines;
}

function blockLine(name: string, dir: string, st: BlockStats, traced: number): string {
  return `${name.slice(0, 12)} ${formatCount(st.count)} ${dir} ${formatBytes(st.bytes)}, p50 ${
    formatNs(st.p50_ns)
  }, p99 ${formatNs(st.p99_ns)}, ${formatCount(traced)} traced, depth ${st.in_flight_mean}`;
}
