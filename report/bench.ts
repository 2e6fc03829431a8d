/**
 * The Bench report: every I/O path of a `bench` side by side (throughput,
 * per-op latency, syscalls, faults and CPU time per GiB), as bars and
 * overlaid latency histograms, with the host facts the results depend on.
 * @module
 */

import {
  type BenchDocument,
  benchOpStats,
  type BenchPathResult,
  type Bucket,
  formatBytes,
  formatCount,
  formatNs,
  formatSeconds,
  type RunDocument,
} from "../schema/mod.ts";
import { histogramSeries } from "./_histogram.ts";
import { type Html, markup } from "./html.ts";
import {
  alpha,
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
} from "./_page_blocks.ts";

/** Options of {@linkcode renderBenchHtml}. */
export type BenchReportOptions = RenderOptions;

const GIB = 2 ** 30;

/** The latency summary and buckets of one op. */
interface OpStats {
  count: number;
  p50_ns: number;
  p99_ns: number;
  buckets: Bucket[];
}

/**
 * The op a path's figures are from, as the document names it (`op`), with
 * its stats from the path's run when it was traced there.
 */
function documentOp(r: BenchPathResult): { name: string; stats: OpStats | null } | null {
  const name = str(r.op);
  if (!name) return null;
  const s = benchOpStats(r.run, name);
  return {
    name,
    stats: s
      ? {
        count: num(s.count),
        p50_ns: num(s.p50_ns),
        p99_ns: num(s.p99_ns),
        buckets: Array.isArray(s.buckets) ? s.buckets : [],
      }
      : null,
  };
}

function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}

function str(x: unknown): string {
  return typeof x === "string" ? x : x === undefined || x === null ? "" : String(x);
}

interface Row {
  name: string;
  r: BenchPathResult;
  gib: number;
  perGib: (n: number) => number | null;
  op: { name: string; stats: OpStats | null } | null;
}

/**
 * Renders a Bench document as one self-contained HTML page (chart.js and styles
 * inlined, strict CSP, no network requests), every text escaped.
 * @param doc the Bench document (schema `ioscope.bench/1`)
 * @param options `title`: the page title (@default "ioscope bench: SCENARIO");
 *   `chartJs`: chart.js source to inline (@default the pinned npm package's)
 * @returns the HTML document
 * @example
 * ```ts
 * import { renderBenchHtml } from "./bench.ts";
 * const page = renderBenchHtml({
 *   schema: "ioscope.bench/1", scenario: "scan", file_size: 1 << 20, block_size: 65536,
 *   backend: "none", repeat: 1, paths: {}, unsupported: [],
 * });
 * console.assert(page.includes("No paths"));
 * ```
 */
export function renderBenchHtml(doc: BenchDocument, options: BenchReportOptions = {}): string {
  const { title, chartJs } = options;
  const charts: ChartSpec[] = [];
  const rows: Row[] = Object.entries(doc.paths ?? {})
    .filter(([, r]) => r !== null && typeof r === "object")
    .map(([name, r]) => {
      const bytes = num(r.bytes) > 0 ? num(r.bytes) : num(doc.file_size);
      const gib = bytes / GIB;
      return {
        name,
        r,
        gib,
        perGib: (n: number) => (gib > 0 ? n / gib : null),
        op: documentOp(r),
      };
    });
  const body = markup`<main>
${benchHeader(doc, rows)}
${
    rows.length === 0
      ? markup`<p>No paths in this document.</p>`
      : markup`${comparison(rows)}${pathTable(rows)}${barCharts(rows, charts)}${
        latencyCharts(rows, charts)
      }`
  }
${footer(doc.schema ?? "ioscope.bench/1")}
</main>`;
  return page(
    title ?? `ioscope bench: ${str(doc.scenario)}`,
    body,
    { kind: "bench", charts },
    chartJs,
  );
}

function firstRun(rows: Row[]): RunDocument | null {
  for (const row of rows) {
    const run = row.r.run;
    if (run && typeof run === "object" && "meta" in run && run.meta) return run as RunDocument;
  }
  return null;
}

function benchHeader(doc: BenchDocument, rows: Row[]): Html {
  const host = doc.host;
  const run = firstRun(rows);
  const bad = rows.filter((r) => r.r.checksum_ok === false);
  const pairs: [string, string][] = [
    ["scenario", str(doc.scenario)],
    ["file size", formatBytes(num(doc.file_size))],
    ["block size", formatBytes(num(doc.block_size))],
  ];
  if (doc.queue_depth !== undefined) pairs.push(["queue depth", String(num(doc.queue_depth))]);
  pairs.push(
    ["host", str(host?.host ?? run?.meta.host)],
    ["kernel", str(host?.kernel ?? run?.meta.kernel)],
  );
  if (host) {
    pairs.push(["CPUs", String(num(host.cpus))], ["memory", formatBytes(num(host.mem_bytes))]);
  }
  if (run) {
    pairs.push(["traced with", str(run.meta.backend)], ["started", str(run.meta.started_at)]);
  }
  pairs.push(["paths", rows.map((r) => r.name).join(", ")]);
  return markup`<header><h1>I/O paths compared <span class="sub">${str(doc.scenario)}</span></h1>
<p class="sub">Each path moved the same ${formatBytes(num(doc.file_size))} in ${
    formatBytes(num(doc.block_size))
  } blocks, traced with the same probes as ioscope trace.</p>
${facts(pairs)}
${
    bad.length > 0
      ? markup`<div class="notice bad" role="alert"><b>Wrong data:</b> ${
        bad.map((r) => r.name).join(", ")
      } did not read back what was written (checksum mismatch); their figures are not comparable.</div>`
      : false
  }</header>`;
}

/** A ratio against the baseline: `2.5x`, `1/7`, or `-12 %` / `+8 %` when close to 1. */
function ratioText(x: number): string {
  if (!Number.isFinite(x) || x <= 0) return "n/a";
  if (x >= 1.5) return `${x >= 10 ? x.toFixed(0) : x.toFixed(1)}x`;
  if (x <= 0.5) return `1/${(1 / x).toFixed(1 / x >= 10 ? 0 : 1)}`;
  const pct = Math.round((x - 1) * 100);
  return pct === 0 ? "the same" : `${pct > 0 ? "+" : "-"}${Math.abs(pct)} %`;
}

function comparison(rows: Row[]): Html {
  const base = rows.find((r) => r.name === "read") ?? rows[0];
  if (!base || rows.length < 2) return markup``;
  const ratio = (a: number | null, b: number | null) => (a === null || b === null ? NaN : a / b);
  const items = rows.filter((r) => r !== base).map((r) => {
    const thr = num(r.r.throughput_mib_s) / num(base.r.throughput_mib_s);
    const sys = ratio(r.perGib(num(r.r.syscalls)), base.perGib(num(base.r.syscalls)));
    const cpu = ratio(r.perGib(num(r.r.cpu_s)), base.perGib(num(base.r.cpu_s)));
    return markup`<li><b>${r.name}</b>: throughput ${ratioText(thr)}, syscalls per GiB ${
      ratioText(sys)
    }, CPU time per GiB ${ratioText(cpu)}</li>`;
  });
  return markup`<section id="compare"><h2>Against ${base.name}</h2><p class="sub">What switching from ${base.name} to each path changes on this host.</p><ul>${items}</ul></section>`;
}

function pathTable(rows: Row[]): Html {
  const best = Math.max(...rows.map((r) => num(r.r.throughput_mib_s)));
  const columns: Column[] = [
    { label: "path", type: "text" },
    { label: "MiB/s" },
    { label: "op", type: "text", title: "the syscall or io_uring op whose latency is shown" },
    { label: "P50" },
    { label: "P99" },
    { label: "syscalls/GiB" },
    { label: "faults/GiB" },
    { label: "CPU s/GiB", title: "user + system CPU time per GiB moved" },
    { label: "user/sys", type: "text" },
    { label: "elapsed" },
    { label: "data", type: "text", title: "whether the bytes read back matched" },
  ];
  const sorted = [...rows].sort((a, b) => num(b.r.throughput_mib_s) - num(a.r.throughput_mib_s));
  const per = (row: Row, n: number, fmt: (x: number) => string): Cell => {
    const v = row.perGib(n);
    return v === null ? { text: "n/a" } : { text: fmt(v), v };
  };
  const cells: Cell[][] = sorted.map((row) => [
    { text: row.name },
    { text: num(row.r.throughput_mib_s).toFixed(1), v: num(row.r.throughput_mib_s) },
    { text: row.op?.name ?? "n/a" },
    { text: formatNs(num(row.r.p50_ns)), v: num(row.r.p50_ns) },
    { text: formatNs(num(row.r.p99_ns)), v: num(row.r.p99_ns) },
    per(row, num(row.r.syscalls), formatCount),
    per(row, num(row.r.faults), formatCount),
    per(row, num(row.r.cpu_s), (x) => x.toFixed(3)),
    { text: `${num(row.r.cpu_user_s).toFixed(2)} / ${num(row.r.cpu_sys_s).toFixed(2)} s` },
    { text: formatSeconds(num(row.r.elapsed_s)), v: num(row.r.elapsed_s) },
    { text: row.r.checksum_ok === false ? "WRONG" : row.r.checksum_ok === true ? "ok" : "?" },
  ]);
  return markup`<section id="paths"><h2>Paths side by side</h2>
<p class="sub">Per GiB of data moved; the fastest path is in bold.<span class="no-print"> Click a column to sort.</span></p>
${
    table(columns, cells, {
      sortedBy: 1,
      id: "path-table",
      rowClass: (
        i,
      ) => (num(sorted[i]?.r.throughput_mib_s) === best && best > 0 ? "best" : undefined),
    })
  }</section>`;
}

function barCharts(rows: Row[], charts: ChartSpec[]): Html {
  const labels = rows.map((r) => r.name);
  const colors = rows.map((_, i) => color(i));
  const bar = (
    id: string,
    label: string,
    data: (number | null)[],
    unit: ChartSpec["x"],
    log = false,
  ) => {
    charts.push({
      id,
      type: "bar",
      horizontal: true,
      labels,
      datasets: [{
        label,
        data,
        color: colors[0] ?? "#2563eb",
        colors,
        ...(unit?.unit ? { unit: unit.unit } : {}),
      }],
      x: { ...unit, log, ...(log ? {} : { beginAtZero: true }) },
      y: { category: true },
      legend: false,
    });
  };
  bar("bench-throughput", "MiB/s", rows.map((r) => num(r.r.throughput_mib_s)), {
    unit: "count",
    title: "MiB/s",
  });
  bar(
    "bench-syscalls",
    "syscalls per GiB",
    rows.map((r) => r.perGib(num(r.r.syscalls))),
    { unit: "count", title: "syscalls per GiB (log scale)" },
    rows.some((r) => num(r.r.syscalls) > 0),
  );
  bar("bench-faults", "page faults per GiB", rows.map((r) => r.perGib(num(r.r.faults))), {
    unit: "count",
    title: "page faults per GiB",
  });
  charts.push({
    id: "bench-cpu",
    type: "bar",
    horizontal: true,
    labels,
    datasets: [
      {
        label: "user",
        data: rows.map((r) => r.perGib(num(r.r.cpu_user_s))),
        color: color(0),
        stack: "cpu",
        unit: "s",
      },
      {
        label: "system",
        data: rows.map((r) => r.perGib(num(r.r.cpu_sys_s))),
        color: color(1),
        stack: "cpu",
        unit: "s",
      },
    ],
    x: { unit: "s", title: "CPU seconds per GiB", stacked: true, beginAtZero: true },
    y: { category: true, stacked: true },
  });
  charts.push({
    id: "bench-latency",
    type: "bar",
    horizontal: true,
    labels: rows.map((r) => (r.op ? `${r.name} (${r.op.name})` : r.name)),
    datasets: [
      { label: "P50", data: rows.map((r) => num(r.r.p50_ns) || null), color: color(0), unit: "ns" },
      { label: "P99", data: rows.map((r) => num(r.r.p99_ns) || null), color: color(3), unit: "ns" },
    ],
    x: { unit: "ns", title: "latency per op (log scale)", log: true },
    y: { category: true },
  });
  return markup`<section id="bars"><h2>Throughput and cost</h2><div class="grid two">${
    chartBox("bench-throughput", "Throughput (MiB/s, higher is better)")
  }${chartBox("bench-syscalls", "Syscalls per GiB (lower is better)")}${
    chartBox("bench-faults", "Page faults per GiB (lower is better)")
  }${chartBox("bench-cpu", "CPU seconds per GiB, user and system (lower is better)")}${
    chartBox("bench-latency", "P50 and P99 per op (lower is better)")
  }</div></section>`;
}

function latencyCharts(rows: Row[], charts: ChartSpec[]): Html {
  const withData = rows.map((r, i) => ({ r, i })).filter(({ r }) =>
    (r.op?.stats?.buckets.length ?? 0) > 0
  );
  if (withData.length === 0) {
    return markup`<section id="bench-hist"><h2>Latency distributions</h2><p>The paths' runs hold no latency histograms.</p></section>`;
  }
  charts.push({
    id: "bench-hist",
    type: "line",
    datasets: withData.map(({ r, i }) => ({
      label: `${r.name} (${r.op?.name})`,
      data: histogramSeries(r.op?.stats?.buckets ?? [], { normalize: true }),
      color: color(i),
      background: alpha(color(i), 0.12),
      fill: "start",
      unit: "percent",
    })),
    x: { log: true, unit: "ns", title: "latency per op (log scale)" },
    y: { log: true, unit: "percent", title: "share of ops (log scale)" },
  });
  return markup`<section id="bench-hist"><h2>Latency distributions</h2>
${
    chartBox("bench-hist", "Each path's op latency, overlaid", {
      size: "tall",
      note: "Share of each path's ops per bucket, so paths with different op counts compare.",
    })
  }</section>`;
}
