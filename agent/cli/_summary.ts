/**
 * The terminal summary of a Run: a few lines of totals, then one row per
 * syscall sorted by total time (like `perf trace -s`), in 80 columns.
 * @module
 */

import { formatBytes, formatCount, formatNs } from "./_terminal_format.ts";
import type { RunDocument } from "../../schema/mod.ts";
import { terminalSafe } from "./terminal_safe.ts";
import { timeSplitLines } from "./_why_text.ts";
import { pageCacheLines } from "./_page_cache_text.ts";

/**
 * Renders the summary.
 * @param run the Run document
 * @returns lines of at most 80 characters, joined with newlines
 */
export function summaryText(run: RunDocument): string {
  const m = run.meta;
  const lines: string[] = [];
  const who = `pid ${m.pids.join(",")} (${terminalSafe(m.comm).slice(0, 30)})`;
  lines.push(
    `${who}: ${m.duration_s.toFixed(1)} s, ${m.backend}, ended by ${m.end_reason}` +
      (m.target_exited ? " (target exited)" : ""),
  );
  if (m.pid_namespace) {
    lines.push(
      `pid ${m.pid} is pid ${m.pid_namespace.pid_in_namespace} in another PID namespace ` +
        `(pid:[${m.pid_namespace.inode}])`,
    );
  }
  if (m.cgroup) lines.push(...wrap(`cgroup ${m.cgroup.path} (id ${m.cgroup.id})`, 80));
  const f = run.faults;
  lines.push(
    ...wrap(
      `faults ${formatCount(f.total)} (minor ${f.minor ?? "n/a"}, major ${f.major ?? "n/a"}), ` +
        `ctx switches ${run.sched.voluntary} vol / ${run.sched.involuntary} invol, ` +
        `TLB flushes ${run.tlb.flushes ?? "n/a"}`,
      80,
    ),
  );
  const c = run.copy;
  lines.push(
    `copied ${formatBytes(c.copied_bytes)}, zero-copy ${formatBytes(c.zero_copy_bytes)} ` +
      `(ratio ${(c.zero_copy_ratio * 100).toFixed(1)}%)` +
      (m.lost_events ? `, LOST EVENTS ${m.lost_events}` : ""),
  );
  if (m.in_flight || m.map_full || m.recursion_misses) {
    lines.push(
      [
        m.in_flight ? `${formatCount(m.in_flight)} calls in flight at the end (not counted)` : "",
        m.map_full ? `MAP FULL: ${formatCount(m.map_full)} calls not counted` : "",
        m.recursion_misses
          ? `RECURSION: ${formatCount(m.recursion_misses)} probe runs skipped by the kernel`
          : "",
      ].filter(Boolean).join(", "),
    );
  }
  // perf's counters share one reason (no PMU): one line names them all.
  const byReason = new Map<string, string[]>();
  for (const u of m.unsupported) {
    byReason.set(u.reason, [...byReason.get(u.reason) ?? [], u.metric]);
  }
  for (const [reason, metrics] of byReason) {
    lines.push(...wrap(`not measured: ${metrics.join(", ")}: ${reason}`, 80));
  }
  lines.push("");
  const rows = Object.entries(run.syscalls).sort((a, b) => b[1].total_ns - a[1].total_ns);
  if (rows.length === 0) {
    lines.push("no I/O syscalls seen");
  } else {
    lines.push(
      [
        "syscall".padEnd(15),
        "calls".padStart(7),
        "errs".padStart(5),
        "bytes".padStart(8),
        "total".padStart(7),
        "p50".padStart(7),
        "p99".padStart(7),
        "p99.9".padStart(7),
        "max".padStart(7),
      ].join(" "),
    );
    for (const [name, s] of rows) {
      lines.push(
        [
          name.slice(0, 15).padEnd(15),
          formatCount(s.count).padStart(7),
          formatCount(s.errors).padStart(5),
          formatBytes(s.bytes).padStart(8),
          formatNs(s.total_ns).padStart(7),
          formatNs(s.p50_ns).padStart(7),
          formatNs(s.p99_ns).padStart(7),
          formatNs(s.p999_ns).padStart(7),
          formatNs(s.max_ns).padStart(7),
        ].join(" "),
      );
    }
  }
  for (const [op, s] of Object.entries(run.io_uring)) {
    lines.push(
      `io_uring ${op.padEnd(10)} ${formatCount(s.count).padStart(7)} reqs, p50 ${
        formatNs(s.p50_ns)
      }, ` +
        `p99 ${formatNs(s.p99_ns)}, async ${s.async}`,
    );
  }
  lines.push(...timeSplitLines(run));
  lines.push(...pageCacheLines(run));
  // Every line: reasons and names come from the kernel, tools and the target.
  return lines.map(terminalSafe).join("\n");
}

/** Splits text into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = "  ";
    }
    line += (line.trim() ? " " : "") + word;
    while (line.length > width) {
      lines.push(line.slice(0, width));
      line = "  " + line.slice(width);
    }
  }
  if (line.trim()) lines.push(line);
  return lines;
}
