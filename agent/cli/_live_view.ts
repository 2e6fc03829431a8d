/**
 * `trace --live`: the full-screen view, as a pure function from what the
 * trace measured so far to the screen's lines, top-like: a title, the last
 * interval's fault, switch and TLB rates, a line of what was lost or not
 * measured, then one row per syscall and io_uring opcode, heaviest first,
 * sorted by time, calls or P99 of the last interval. Every piece of text that
 * comes from the traced process is made safe for a terminal here.
 * @module
 */

import { formatCount, formatNs } from "./_terminal_format.ts";
import { terminalSafe } from "./terminal_safe.ts";
import type { IntervalDocument, IntervalOpStats } from "../../schema/mod.ts";
import { formatByteRate, formatRate, formatTimeRate, lostCount } from "./_interval_text.ts";
import { intervalBlockLine, intervalSplitLine } from "./_why_text.ts";

/** What the rows are sorted by (keys `t`, `c`, `p`). */
export type LiveSort = "time" | "calls" | "p99";

/** The key that selects each sort order. */
export const SORT_KEYS: Readonly<Record<string, LiveSort>> = { t: "time", c: "calls", p: "p99" };

/** Everything the live view shows. */
export interface LiveState {
  pids: number[];
  comm: string;
  backend: string;
  /** Seconds since the probes attached. */
  elapsedS: number;
  /** The trace's planned length, when `--duration` was given. */
  durationS?: number;
  /** The last interval, null before the first one ends. */
  last: IntervalDocument | null;
  /** The whole trace so far, as one interval from the attach. */
  total: IntervalDocument | null;
  /** Metrics that are not measured here, with the reason. */
  unsupported: { metric: string; reason: string }[];
  sort: LiveSort;
}

interface Row {
  name: string;
  last: IntervalOpStats | undefined;
  total: IntervalOpStats | undefined;
}

function rows(state: LiveState): Row[] {
  const byName = new Map<string, Row>();
  const add = (doc: IntervalDocument | null, key: "last" | "total") => {
    if (!doc) return;
    const all: [string, IntervalOpStats][] = [
      ...Object.entries(doc.syscalls),
      ...Object.entries(doc.io_uring).map(([op, s]): [string, IntervalOpStats] => [
        `io_uring ${op}`,
        s,
      ]),
    ];
    for (const [name, s] of all) {
      const row = byName.get(name) ?? { name, last: undefined, total: undefined };
      row[key] = s;
      byName.set(name, row);
    }
  };
  add(state.total, "total");
  add(state.last, "last");
  const value = (s: IntervalOpStats | undefined) =>
    !s ? -1 : state.sort === "calls" ? s.calls : state.sort === "p99" ? s.p99_ns : s.total_ns;
  return [...byName.values()].sort((a, b) =>
    value(b.last) - value(a.last) || value(b.total) - value(a.total) ||
    a.name.localeCompare(b.name)
  );
}

const COLUMNS: readonly [string, number][] = [
  ["SYSCALL", 14],
  ["CALLS/s", 8],
  ["BYTES/s", 10],
  ["TIME/s", 8],
  ["P50", 7],
  ["P99", 7],
  ["|", 1],
  ["CALLS", 7],
  ["TIME", 7],
];

function line(cells: string[]): string {
  return cells.map((text, i) => {
    const width = COLUMNS[i]?.[1] ?? 7;
    return i === 0 ? text.slice(0, width).padEnd(width) : text.padStart(width);
  }).join(" ");
}

/**
 * Renders the live view.
 * @param state what the trace measured so far
 * @param size the terminal's size
 * @returns exactly `size.rows` lines (or fewer when there is less to show),
 *   each at most `size.columns` characters, free of control characters
 */
export function liveScreen(state: LiveState, size: { columns: number; rows: number }): string[] {
  const cols = Math.max(20, size.columns);
  const fit = (text: string) => terminalSafe(text).slice(0, cols);
  const who = `pid ${state.pids.slice(0, 4).join(",")}${state.pids.length > 4 ? ",..." : ""} (${
    terminalSafe(state.comm).slice(0, 20)
  })`;
  const when = `${Math.floor(state.elapsedS)} s` +
    (state.durationS !== undefined ? ` of ${state.durationS} s` : "");
  const keys = `sort: ${state.sort}  [t]ime [c]alls [p]99  [q]uit`;
  const title = `ioscope ${who}, ${state.backend}, ${when}`;
  const head: string[] = [
    title + " ".repeat(Math.max(2, cols - title.length - keys.length)) + keys,
  ];
  const last = state.last;
  if (last) {
    const tlb = last.tlb_flushes_per_s === null ? "n/a" : formatRate(last.tlb_flushes_per_s);
    head.push(
      `last ${last.interval_s.toFixed(1)} s: faults ${formatRate(last.faults_per_s)}, ` +
        `switches ${formatRate(last.switches_per_s)}, TLB flushes ${tlb}`,
    );
  } else {
    head.push("waiting for the first interval...");
  }
  const total = state.total;
  const lost = total ? lostCount(total) : 0;
  const why = total && lost > 0
    ? ` (${total.lost_events} buffer, ${total.map_full} map full, ${total.recursion_misses} recursion)`
    : "";
  // The time split and the block layer are explained on the next line.
  const explained = new Set(["time_split", "block"]);
  const missing = [
    ...new Set(state.unsupported.map((u) => u.metric).filter((m) => !explained.has(m))),
  ];
  head.push(
    `lost ${formatCount(lost)} events${why}` +
      (missing.length ? `; not measured: ${missing.join(", ")}` : "; everything measured"),
  );
  head.push(last ? intervalBlockLine(last, state.unsupported) ?? "" : "");
  head.push(line(COLUMNS.map(([name]) => name)));
  const all = rows(state);
  const groups = all.map((r) => {
    const s = r.last;
    const seconds = Math.max(last?.interval_s ?? 1, 1e-9);
    const split = s ? intervalSplitLine(s) : null;
    return [
      line([
        r.name,
        s ? formatRate(s.calls_per_s) : "-",
        s ? formatByteRate(s.bytes_per_s) : "-",
        s ? formatTimeRate(s.total_ns / seconds) : "-",
        s ? formatNs(s.p50_ns) : "-",
        s ? formatNs(s.p99_ns) : "-",
        "|",
        r.total ? formatCount(r.total.calls) : "-",
        r.total ? formatNs(r.total.total_ns) : "-",
      ]),
      ...(split ? [`  ${split}`] : []),
    ];
  });
  const room = Math.max(0, size.rows - head.length);
  const body: string[] = [];
  let shown = 0;
  for (const g of groups) {
    // Keep a line for "... N more" unless this is the last row.
    const reserve = shown + 1 < groups.length ? 1 : 0;
    if (body.length + g.length + reserve > room) break;
    body.push(...g);
    shown++;
  }
  if (all.length === 0) body.push("no I/O syscalls seen yet");
  if (shown < all.length) body.push(`... ${all.length - shown} more`);
  return [...head, ...body].slice(0, Math.max(1, size.rows)).map(fit);
}
