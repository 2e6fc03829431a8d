/**
 * The Run report: one self-contained HTML page of a `trace` (a Run document),
 * with the target, summary figures, findings, the per-syscall table and
 * latency histograms, the timeline, copying vs zero-copy bytes, faults, TLB
 * flushes, context switches, io_uring, perf counters and a flame graph.
 * @module
 */

import {
  COPYING_SYSCALLS,
  formatBytes,
  formatCount,
  formatNs,
  formatPercent,
  formatSeconds,
  perSecond,
  type RunDocument,
  type SyscallStats,
  type TimelinePoint,
  ZERO_COPY_SYSCALLS,
} from "../schema/mod.ts";
import { descriptorsSection } from "./_descriptors.ts";
import { findings } from "./findings.ts";
import { flameTree } from "./_flamegraph.ts";
import { logHistogramChart, whySection } from "./_why_html.ts";
import { type Html, markup } from "./html.ts";
import {
  alpha,
  card,
  type Cell,
  chartBox,
  type ChartSpec,
  color,
  type Column,
  facts,
  footer,
  page,
  type RenderOptions,
  table,
  type Unit,
} from "./_page_blocks.ts";

/** Options of {@linkcode renderRunHtml}. */
export type RunReportOptions = RenderOptions;

const COPY_COLOR = "#2563eb";
const ZERO_COLOR = "#059669";
const OTHER_COLOR = "#94a3b8";

/**
 * Renders a Run document as one self-contained HTML page (chart.js and styles
 * inlined, strict CSP, no network requests). Every text from the document is
 * escaped; the page's data is embedded as JSON that cannot end its element.
 * @param doc the Run document (schema `ioscope.run/2`, or /1)
 * @param options `title`: the page title (@default "ioscope: COMM (pid PID)");
 *   `chartJs`: chart.js source to inline (@default the pinned npm package's)
 * @returns the HTML document
 * @example
 * ```ts
 * import { renderRunHtml } from "./run.ts";
 * import type { RunDocument } from "../schema/mod.ts";
 * const doc = JSON.parse(Deno.readTextFileSync("tests/testdata/run_demo.json")) as RunDocument;
 * const page = renderRunHtml(doc);
 * console.assert(page.startsWith("<!doctype html>"));
 * ```
 */
export function renderRunHtml(doc: RunDocument, options: RunReportOptions = {}): string {
  const { title, chartJs } = options;
  const m = doc.meta ?? ({} as Partial<RunDocument["meta"]>);
  const charts: ChartSpec[] = [];
  const seconds = num(m.duration_s);
  const calls = syscallEntries(doc);
  const body = markup`<main>
${header(doc)}
${summary(doc, calls)}
${findingsSection(doc)}
${syscallTable(calls, seconds)}
${descriptorsSection(doc)}
${latencySection(calls, charts)}
${whySection(doc, charts)}
${timelineSection(doc, charts)}
${copySection(doc, calls, charts)}
${memorySection(doc, charts)}
${uringSection(doc, charts)}
${perfSection(doc)}
${flameSection(doc)}
${footer(doc.schema ?? "ioscope.run/2")}
</main>`;
  const flame = doc.flamegraph && Array.isArray(doc.flamegraph.folded)
    ? flameTree(doc.flamegraph.folded)
    : null;
  const data = {
    kind: "run" as const,
    charts,
    ...(flame && flame.samples > 0 ? { flame: { root: flame.root, samples: flame.samples } } : {}),
  };
  const pageTitle = title ?? `ioscope: ${str(m.comm) || "?"} (pid ${num(m.pid)})`;
  return page(pageTitle, body, data, chartJs);
}

function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}

function str(x: unknown): string {
  return typeof x === "string" ? x : x === undefined || x === null ? "" : String(x);
}

function syscallEntries(doc: RunDocument): [string, SyscallStats][] {
  return Object.entries(doc.syscalls ?? {})
    .filter(([, s]) => s !== null && typeof s === "object" && num(s.count) > 0)
    .sort((a, b) => num(b[1].total_ns) - num(a[1].total_ns) || (a[0] < b[0] ? -1 : 1));
}

function kindOf(name: string): "copy" | "zero-copy" | "other" {
  if (ZERO_COPY_SYSCALLS.includes(name)) return "zero-copy";
  if (COPYING_SYSCALLS.includes(name)) return "copy";
  return "other";
}

function rate(total: number, seconds: number, fmt: (n: number) => string): string {
  const r = perSecond(total, seconds);
  return r === null ? "n/a" : `${fmt(r)}/s`;
}

/** The reason a metric was not measured, from `meta.unsupported`. */
function unsupportedReason(doc: RunDocument, ...metrics: string[]): string | null {
  const list = Array.isArray(doc.meta?.unsupported) ? doc.meta.unsupported : [];
  for (const metric of metrics) {
    const hit = list.find((u) =>
      u &&
      (u.metric === metric || u.metric.endsWith(`.${metric}`) || metric.endsWith(`.${u.metric}`))
    );
    if (hit) return str(hit.reason) || "no reason given";
  }
  return null;
}

function notSupported(doc: RunDocument, ...metrics: string[]): string {
  return `not supported: ${unsupportedReason(doc, ...metrics) ?? "not measured by this trace"}`;
}

function header(doc: RunDocument): Html {
  const m = doc.meta ?? ({} as Partial<RunDocument["meta"]>);
  const pids = Array.isArray(m.pids) ? m.pids : [];
  const target = `pid ${num(m.pid)} (${str(m.comm)})` +
    (pids.length > 1 ? `, ${pids.length} processes: ${pids.join(", ")}` : "");
  const ended = `${str(m.end_reason) || "?"}${m.target_exited ? " (the target exited)" : ""}`;
  const lost = num(m.lost_events);
  const unsupported = Array.isArray(m.unsupported) ? m.unsupported : [];
  return markup`<header>
<h1>I/O paths of ${str(m.comm) || "?"} <span class="sub">pid ${num(m.pid)}</span></h1>
<p class="sub">Traced ${formatSeconds(num(m.duration_s))} from ${str(m.started_at)} on ${
    str(m.host)
  }</p>
<p><span class="sub">Command line</span><code class="cmdline" id="cmdline">${
    str(m.cmdline) || "(none: a kernel thread, or the process was gone)"
  }</code></p>
${
    facts([
      ["target", target],
      ["host", str(m.host)],
      ["kernel", str(m.kernel)],
      ["backend", str(m.backend)],
      ["started", str(m.started_at)],
      ["duration", formatSeconds(num(m.duration_s))],
      ["ended by", ended],
      ["attached in", formatSeconds(num(m.attach_s))],
      ["lost events", formatCount(lost)],
      ...(m.pid_namespace && typeof m.pid_namespace === "object"
        ? [[
          "PID namespace",
          `another one (pid:[${num(m.pid_namespace.inode)}]): pid ${
            num(m.pid_namespace.pid_in_namespace)
          } there`,
        ] as [string, string]]
        : []),
      ...(m.cgroup && typeof m.cgroup === "object"
        ? [["cgroup", `${str(m.cgroup.path)} (id ${num(m.cgroup.id)})`] as [string, string]]
        : []),
    ])
  }
${
    lost > 0
      ? markup`<div class="notice bad" role="alert"><b>${
        formatCount(lost)
      } events were lost</b>: counts, bytes and percentiles below are lower bounds.</div>`
      : false
  }
${
    unsupported.length > 0
      ? markup`<div class="notice"><b>Not measured on this host:</b><ul>${
        unsupported.map((u) => markup`<li><code>${str(u?.metric)}</code>: ${str(u?.reason)}</li>`)
      }</ul></div>`
      : false
  }
</header>`;
}

/**
 * Calls below this many have a P99 that is about their slowest call: the
 * summary's worst P99 still shows theirs (a millisecond tail of a rare call is
 * the tail a reader looks for) and says so.
 */
export const P99_FEW_CALLS = 100;

/** The syscall with the highest P99 of all, and of those with P99_FEW_CALLS calls or more. */
function worstP99(
  calls: [string, SyscallStats][],
): { all: [string, SyscallStats]; many: [string, SyscallStats] | null } | null {
  const highest = (list: [string, SyscallStats][]) =>
    list.reduce<[string, SyscallStats] | null>(
      (w, c) => (w === null || num(c[1].p99_ns) > num(w[1].p99_ns) ? c : w),
      null,
    );
  const all = highest(calls);
  if (!all) return null;
  return { all, many: highest(calls.filter(([, s]) => num(s.count) >= P99_FEW_CALLS)) };
}

/** What the worst P99 card says under its figure: whose, over how many calls, and what a low count means. */
function worstP99Note(
  w: { all: [string, SyscallStats]; many: [string, SyscallStats] | null },
): string {
  const [name, s] = w.all;
  const count = num(s.count);
  const own = `${name}, ${formatCount(count)} calls`;
  if (count >= P99_FEW_CALLS) return own;
  const few = `${own} (under ${P99_FEW_CALLS}: about its slowest call)`;
  return w.many
    ? `${few}; of those with ${P99_FEW_CALLS}+ calls: ${w.many[0]} ${
      formatNs(num(w.many[1].p99_ns))
    }`
    : few;
}

function summary(doc: RunDocument, calls: [string, SyscallStats][]): Html {
  const seconds = num(doc.meta?.duration_s);
  const totalCalls = calls.reduce((t, [, s]) => t + num(s.count), 0);
  const copied = num(doc.copy?.copied_bytes);
  const zero = num(doc.copy?.zero_copy_bytes);
  const bytes = copied + zero;
  const worst = worstP99(calls);
  const faults = num(doc.faults?.total);
  const vol = num(doc.sched?.voluntary);
  const invol = num(doc.sched?.involuntary);
  const flushes = doc.tlb?.flushes;
  const f = doc.faults;
  const minor = f?.minor === null || f?.minor === undefined ? "n/a" : formatCount(f.minor);
  const major = f?.major === null || f?.major === undefined ? "n/a" : formatCount(f.major);
  const cards = [
    card(
      "syscalls/s",
      rate(totalCalls, seconds, formatCount),
      `${formatCount(totalCalls)} I/O calls`,
    ),
    card("bytes/s", rate(bytes, seconds, formatBytes), `${formatBytes(bytes)} moved`),
    card(
      "zero-copy ratio",
      formatPercent(num(doc.copy?.zero_copy_ratio)),
      `${formatBytes(zero)} zero-copy, ${formatBytes(copied)} copied`,
    ),
    worst
      ? card("worst P99", formatNs(num(worst.all[1].p99_ns)), worstP99Note(worst))
      : card("worst P99", "n/a", "no I/O syscalls seen"),
    card("page faults/s", rate(faults, seconds, formatCount), `minor ${minor}, major ${major}`),
    card(
      "context switches/s",
      rate(vol + invol, seconds, formatCount),
      `voluntary ${formatCount(vol)}, involuntary ${formatCount(invol)}`,
    ),
    typeof flushes === "number"
      ? card(
        "TLB flushes/s",
        rate(flushes, seconds, formatCount),
        `${formatCount(flushes)} in total`,
      )
      : card("TLB flushes/s", "n/a", notSupported(doc, "tlb.flushes")),
  ];
  return markup`<section id="summary"><h2>Summary</h2><div class="cards">${cards}</div></section>`;
}

function findingsSection(doc: RunDocument): Html {
  const list = findings(doc);
  return markup`<section id="findings"><h2>Findings</h2>${
    list.length === 0
      ? markup`<p>Nothing stands out: none of the rules (large read+write copies, small reads or writes, mmap faults, major faults, munmap TLB shootdowns, tail latency, errors, io_uring punts, lost events) found data that crosses its threshold.</p>`
      : markup`<ol class="findings">${
        list.map((f) =>
          markup`<li data-rule="${f.rule}"><span class="sev ${f.severity}">${f.severity}</span><b>${f.title}</b><ul>${
            f.evidence.map((e) => markup`<li>${e}</li>`)
          }</ul><p class="try"><b>Try:</b> ${f.suggestion}</p></li>`
        )
      }</ol>`
  }</section>`;
}

const NS_COLUMNS: [keyof SyscallStats, string][] = [
  ["p50_ns", "P50"],
  ["p90_ns", "P90"],
  ["p99_ns", "P99"],
  ["p999_ns", "P99.9"],
  ["max_ns", "max"],
];

function syscallTable(calls: [string, SyscallStats][], seconds: number): Html {
  if (calls.length === 0) {
    return markup`<section id="syscalls"><h2>Syscalls</h2><p>No I/O syscalls were seen.</p></section>`;
  }
  const columns: Column[] = [
    { label: "syscall", type: "text" },
    {
      label: "path",
      type: "text",
      title: "copy: through a user buffer; zero-copy: inside the kernel",
    },
    { label: "calls" },
    { label: "calls/s" },
    { label: "errors" },
    { label: "bytes" },
    ...NS_COLUMNS.map(([, l]) => ({ label: l })),
    { label: "total time", title: "sum of every call's latency" },
  ];
  const rows: Cell[][] = calls.map(([name, s]) => [
    { text: name },
    { text: kindOf(name) },
    { text: formatCount(num(s.count)), v: num(s.count) },
    {
      text: rate(num(s.count), seconds, formatCount).replace(/\/s$/, ""),
      v: num(s.count) / (seconds || 1),
    },
    { text: formatCount(num(s.errors)), v: num(s.errors) },
    { text: formatBytes(num(s.bytes)), v: num(s.bytes) },
    ...NS_COLUMNS.map(([k]) => ({ text: formatNs(num(s[k])), v: num(s[k]) })),
    { text: formatNs(num(s.total_ns)), v: num(s.total_ns) },
  ]);
  return markup`<section id="syscalls"><h2>Syscalls</h2>
<p class="sub">Latency from syscall entry to exit.<span class="no-print"> Click a column to sort.</span></p>
${table(columns, rows, { sortedBy: columns.length - 1, id: "syscall-table" })}</section>`;
}

function latencyChart(
  id: string,
  label: string,
  stats: Parameters<typeof logHistogramChart>[2],
  i: number,
): ChartSpec {
  return logHistogramChart(id, label, stats, i, {
    x: "latency (log scale)",
    y: "calls (log scale)",
  });
}

function latencySection(calls: [string, SyscallStats][], charts: ChartSpec[]): Html {
  const withBuckets = calls.filter(([, s]) => Array.isArray(s.buckets) && s.buckets.length > 0);
  if (withBuckets.length === 0) return markup``;
  const boxes = withBuckets.map(([name, s], i) => {
    const id = `hist-${i}`;
    charts.push(latencyChart(id, name, s, i));
    return chartBox(id, name, {
      size: "small",
      note: `${formatCount(num(s.count))} calls; P50 ${formatNs(num(s.p50_ns))}, P99 ${
        formatNs(num(s.p99_ns))
      }, P99.9 ${formatNs(num(s.p999_ns))}, max ${formatNs(num(s.max_ns))}`,
    });
  });
  return markup`<section id="latency"><h2>Latency histograms</h2><p class="sub">Calls per bucket (16 per power of two) on a logarithmic time axis; dashed lines mark the percentiles.</p><div class="grid">${boxes}</div></section>`;
}

function timelineSection(doc: RunDocument, charts: ChartSpec[]): Html {
  const points = (Array.isArray(doc.timeline) ? doc.timeline : [])
    .filter((p) => p && typeof p === "object")
    .sort((a, b) => num(a.t) - num(b.t));
  if (points.length === 0) {
    return markup`<section id="timeline"><h2>Timeline</h2><p>No per-second samples in this document.</p></section>`;
  }
  // Points cover `dt` seconds (about one; a minute and more before a long trace's last hour).
  const per = (p: TimelinePoint, v: unknown) => num(v) / (num(p.dt) > 0 ? num(p.dt) : 1);
  const series: [string, string, (p: TimelinePoint) => number, Unit][] = [
    ["timeline-calls", "I/O syscalls per second", (p) => per(p, p.syscalls), "count/s"],
    ["timeline-bytes", "Bytes per second", (p) => per(p, p.bytes), "bytes/s"],
    ["timeline-faults", "Page faults per second", (p) => per(p, p.faults), "count/s"],
  ];
  const coarse = points.find((p) => num(p.dt) >= 30);
  const boxes = series.map(([id, label, value, unit], i) => {
    charts.push({
      id,
      type: "line",
      datasets: [{
        label,
        data: points.map((p) => ({ x: num(p.t), y: value(p) })),
        color: color(i),
        background: alpha(color(i), 0.15),
        fill: "origin",
        unit,
      }],
      x: { unit: "s", title: "seconds since the trace started" },
      y: { unit, beginAtZero: true },
      legend: false,
    });
    return chartBox(id, label, { size: "small" });
  });
  const note = coarse
    ? markup`<p class="sub">The last hour per second; before it, averages over ${
      formatSeconds(num(coarse.dt))
    } and more.</p>`
    : false;
  const p99 = p99Timeline(doc, points, charts);
  return markup`<section id="timeline"><h2>Timeline</h2>${note}<div class="grid">${boxes}</div>${p99}</section>`;
}

/** Syscalls drawn on the P99 timeline at most (the heaviest by total time). */
const P99_TIMELINE_SYSCALLS = 8;

/**
 * Each syscall's P99 second by second (`timeline[].p99_ns`, from the
 * difference of the cumulative histograms), the heaviest syscalls first; a
 * second with no call of a syscall is a gap in its line.
 */
function p99Timeline(doc: RunDocument, points: TimelinePoint[], charts: ChartSpec[]): Html {
  const perPoint = points.map((p) =>
    p.p99_ns && typeof p.p99_ns === "object" ? p.p99_ns as Record<string, unknown> : {}
  );
  const seen = new Set(perPoint.flatMap((m) => Object.keys(m)));
  if (seen.size === 0) return markup``;
  const weight = (name: string) => num(doc.syscalls?.[name]?.total_ns);
  const names = [...seen].sort((a, b) => weight(b) - weight(a) || a.localeCompare(b))
    .slice(0, P99_TIMELINE_SYSCALLS);
  const id = "timeline-p99";
  charts.push({
    id,
    type: "line",
    datasets: names.map((name, i) => ({
      label: name,
      data: points.map((p, j) => {
        const v = perPoint[j]?.[name];
        return { x: num(p.t), y: typeof v === "number" && Number.isFinite(v) ? v : null };
      }),
      color: color(i),
      unit: "ns" as Unit,
    })),
    x: { unit: "s", title: "seconds since the trace started" },
    y: { unit: "ns", log: true, title: "P99 of that second" },
    legend: true,
  });
  const more = seen.size > names.length ? `; the ${names.length} heaviest of ${seen.size}` : "";
  return markup`<div class="grid">${
    chartBox(id, "P99 latency per second, per syscall", {
      note: `Each second's own P99 (that second's calls only), log scale${more}.`,
    })
  }</div>`;
}

function copySection(doc: RunDocument, calls: [string, SyscallStats][], charts: ChartSpec[]): Html {
  const copied = num(doc.copy?.copied_bytes);
  const zero = num(doc.copy?.zero_copy_bytes);
  const movers = calls.filter(([, s]) => num(s.bytes) > 0)
    .sort((a, b) => num(b[1].bytes) - num(a[1].bytes));
  charts.push({
    id: "copy-split",
    type: "doughnut",
    labels: ["copied through user buffers", "zero-copy (in the kernel)"],
    datasets: [{
      label: "bytes",
      data: [copied, zero],
      color: COPY_COLOR,
      colors: [COPY_COLOR, ZERO_COLOR],
      unit: "bytes",
    }],
  });
  const boxes = [
    chartBox("copy-split", "Copying vs zero-copy bytes", {
      note: `${formatBytes(copied)} copied, ${formatBytes(zero)} zero-copy: ${
        formatPercent(num(doc.copy?.zero_copy_ratio))
      } zero-copy`,
    }),
  ];
  if (movers.length > 0) {
    charts.push({
      id: "copy-by-syscall",
      type: "bar",
      horizontal: true,
      labels: movers.map(([n]) => n),
      datasets: [{
        label: "bytes",
        data: movers.map(([, s]) => num(s.bytes)),
        color: COPY_COLOR,
        colors: movers.map(([n]) => kindColor(n)),
        unit: "bytes",
      }],
      x: { unit: "bytes", beginAtZero: true },
      y: { category: true },
      legend: false,
    });
    boxes.push(chartBox("copy-by-syscall", "Bytes by syscall", {
      note: "blue: copied through a user buffer; green: zero-copy",
    }));
  }
  return markup`<section id="copy"><h2>Copying vs zero-copy</h2><div class="grid two">${boxes}</div></section>`;
}

function kindColor(name: string): string {
  const k = kindOf(name);
  return k === "copy" ? COPY_COLOR : k === "zero-copy" ? ZERO_COLOR : OTHER_COLOR;
}

function memorySection(doc: RunDocument, charts: ChartSpec[]): Html {
  const seconds = num(doc.meta?.duration_s);
  const f = doc.faults;
  const boxes: Html[] = [];
  const flushes = doc.tlb?.flushes;
  const reasons = Object.entries(doc.tlb?.by_reason ?? {})
    .filter(([, n]) => num(n) > 0)
    .sort((a, b) => num(b[1]) - num(a[1]));
  if (typeof flushes === "number" && reasons.length > 0) {
    charts.push({
      id: "tlb-reasons",
      type: "bar",
      horizontal: true,
      labels: reasons.map(([r]) => r),
      datasets: [{
        label: "TLB flushes",
        data: reasons.map(([, n]) => num(n)),
        color: color(4),
        unit: "count",
      }],
      x: { unit: "count", beginAtZero: true },
      y: { category: true },
      legend: false,
    });
    boxes.push(chartBox("tlb-reasons", "TLB flushes by reason", {
      note: `${formatCount(flushes)} flushes, ${rate(flushes, seconds, formatCount)}`,
    }));
  }
  const vol = num(doc.sched?.voluntary);
  const invol = num(doc.sched?.involuntary);
  charts.push({
    id: "ctx-switches",
    type: "bar",
    horizontal: true,
    labels: ["voluntary (blocked, e.g. on I/O)", "involuntary (preempted)"],
    datasets: [{
      label: "context switches",
      data: [vol, invol],
      color: color(5),
      unit: "count",
    }],
    x: { unit: "count", beginAtZero: true },
    y: { category: true },
    legend: false,
  });
  boxes.push(chartBox("ctx-switches", "Context switches", {
    size: "small",
    note: `${rate(vol, seconds, formatCount)} voluntary, ${
      rate(invol, seconds, formatCount)
    } involuntary`,
  }));
  const dtlb = doc.tlb?.dtlb_load_misses;
  const itlb = doc.tlb?.itlb_load_misses;
  const minor = f?.minor;
  const major = f?.major;
  /** A counter's card: its total and rate, or why it was not measured. */
  const counter = (title: string, v: unknown, ...unsupported: string[]) =>
    typeof v === "number"
      ? card(title, formatCount(v), rate(v, seconds, formatCount))
      : card(title, "n/a", notSupported(doc, ...unsupported));
  const cards = markup`<div class="cards">
${card("page faults", formatCount(num(f?.total)), rate(num(f?.total), seconds, formatCount))}
${counter("minor faults", minor, "faults.minor")}
${counter("major faults", major, "faults.major")}
${counter("TLB flushes", flushes, "tlb.flushes")}
${counter("dTLB load misses", dtlb, "tlb.dtlb_load_misses", "dTLB-load-misses")}
${
    itlb === undefined
      ? false
      : counter("iTLB load misses", itlb, "tlb.itlb_load_misses", "iTLB-load-misses")
  }
</div>`;
  return markup`<section id="memory"><h2>Page faults, TLB and scheduling</h2>${cards}
${
    typeof flushes === "number" && reasons.length === 0
      ? markup`<p>No TLB flushes were seen.</p>`
      : false
  }
<div class="grid two">${boxes}</div></section>`;
}

function uringSection(doc: RunDocument, charts: ChartSpec[]): Html {
  const ops = Object.entries(doc.io_uring ?? {})
    .filter(([, s]) => s !== null && typeof s === "object" && num(s.count) > 0)
    .sort((a, b) => num(b[1].count) - num(a[1].count));
  if (ops.length === 0) return markup``;
  const columns: Column[] = [
    { label: "op", type: "text" },
    { label: "requests" },
    { label: "errors" },
    { label: "bytes" },
    { label: "punted to io-wq", title: "requests the kernel handed to async worker threads" },
    ...NS_COLUMNS.map(([, l]) => ({ label: l })),
  ];
  const rows: Cell[][] = ops.map(([op, s]) => [
    { text: op },
    { text: formatCount(num(s.count)), v: num(s.count) },
    { text: formatCount(num(s.errors)), v: num(s.errors) },
    { text: formatBytes(num(s.bytes)), v: num(s.bytes) },
    { text: formatCount(num(s.async)), v: num(s.async) },
    ...NS_COLUMNS.map(([k]) => ({
      text: formatNs(num((s as unknown as SyscallStats)[k])),
      v: num((s as unknown as SyscallStats)[k]),
    })),
  ]);
  const boxes = ops
    .filter(([, s]) => Array.isArray(s.buckets) && s.buckets.length > 0)
    .map(([op, s], i) => {
      const id = `uring-${i}`;
      charts.push(latencyChart(id, op, s, i + 3));
      return chartBox(id, `io_uring ${op}`, {
        size: "small",
        note: `${formatCount(num(s.count))} requests; P50 ${formatNs(num(s.p50_ns))}, P99 ${
          formatNs(num(s.p99_ns))
        }`,
      });
    });
  return markup`<section id="io_uring"><h2>io_uring</h2>
<p class="sub">Per opcode, from submission to completion.</p>
${table(columns, rows, { sortedBy: 1 })}
<div class="grid">${boxes}</div></section>`;
}

function perfSection(doc: RunDocument): Html {
  const perf = doc.perf;
  if (!perf || typeof perf !== "object") return markup``;
  const entries = Object.entries(perf).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  if (entries.length === 0) return markup``;
  const seconds = num(doc.meta?.duration_s);
  const rows: Cell[][] = entries.map(([name, v]) =>
    typeof v === "number"
      ? [{ text: name }, { text: formatCount(v), v }, {
        text: rate(v, seconds, formatCount),
        v: v / (seconds || 1),
      }]
      : [{ text: name }, { text: notSupported(doc, `perf.${name}`, name), v: -1 }, {
        text: "",
        v: -1,
      }]
  );
  return markup`<section id="perf"><h2>perf counters</h2>${
    table([{ label: "counter", type: "text" }, { label: "value" }, { label: "per second" }], rows)
  }</section>`;
}

function flameSection(doc: RunDocument): Html {
  const fg = doc.flamegraph;
  if (!fg || !Array.isArray(fg.folded)) return markup``;
  const t = flameTree(fg.folded);
  if (t.samples === 0) {
    return markup`<section id="flamegraph"><h2>Flame graph</h2><p>No stack samples were recorded.</p></section>`;
  }
  const pruned = t.pruned > 0
    ? ` ${formatCount(t.pruned)} frames under 0.01 % of the samples are left out.`
    : "";
  return markup`<section id="flamegraph"><h2>Flame graph</h2>
<p class="sub">${
    formatCount(t.samples)
  } on-CPU stack samples, user and kernel (orange) frames; the root is at the bottom. Click a frame to zoom into it, click it again or Reset to zoom out; hover for its name and samples.${pruned}</p>
<div class="flame-bar no-print"><button type="button" class="plain" id="flame-reset" disabled>Reset zoom</button><span id="flame-detail">Hover over a frame.</span></div>
<div class="flame" id="flame"><noscript>The flame graph needs JavaScript.</noscript></div></section>`;
}
