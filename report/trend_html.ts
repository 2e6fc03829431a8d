/**
 * The trend page (`ioscope report`'s index.html): every target of a store,
 * its metrics over time, and what got worse in the latest run. One
 * self-contained file: chart.js and styles inlined, a strict
 * Content-Security-Policy (html.ts), every text from the store escaped, the
 * chart data in a JSON block that cannot end its element.
 * @module
 */

import { CHART_JS_VERSION, chartJsSource } from "./chartjs.ts";
import {
  formatValue,
  type MetricTrend,
  type TargetTrend,
  type TrendSummary,
  type TrendUnit,
  unitsPageScript,
  type Verdict,
} from "../schema/mod.ts";
import { type Html, htmlPage, markup } from "./html.ts";
import { REPORT_CSS } from "./_styles.ts";
import { trendClient } from "./_browser_trend.js";

/** Options of {@linkcode renderTrendHtml}. */
export interface TrendPageOptions {
  /** The page title. @default "ioscope trends" */
  title?: string;
  /** Where the runs came from, shown under the title (escaped). */
  store?: string;
  /** chart.js' source to inline. @default the pinned npm package's `dist/chart.umd.js` */
  chartJs?: string;
}

const TREND_CSS = `
.verdict { font-weight: 600; white-space: nowrap; }
.verdict.regression { color: var(--bad); }
.verdict.improvement { color: var(--good); }
.verdict.quiet { color: var(--muted); font-weight: 400; }
tr.regression td { background: #fef2f2; }
.ok-banner { border-left: 4px solid var(--good); background: #ecfdf5; padding: 6px 10px; margin: 8px 0; }
nav.targets a { margin-right: 14px; }
.trend-charts { margin-top: 12px; }
th.text { text-align: left; }
`;

const SERIES_COLORS = ["#2563eb", "#d97706", "#7c3aed", "#059669", "#0891b2", "#475569"];

/**
 * A relative change as a signed percentage.
 * @param change 0.25 for 25% higher
 * @returns e.g. `"+25%"`, `"-3.2%"`, `"n/a"`
 */
export function formatChange(change: number | null): string {
  if (change === null || !Number.isFinite(change)) return change === Infinity ? "new" : "n/a";
  const p = change * 100;
  const a = Math.abs(p);
  const t = a >= 100 ? p.toFixed(0) : a >= 10 ? p.toFixed(1) : p.toFixed(2);
  return `${p >= 0 ? "+" : ""}${t.includes(".") ? t.replace(/\.?0+$/, "") : t}%`;
}

function runLabel(iso: string, seconds = false): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d.toISOString().slice(0, seconds ? 19 : 16).replace("T", " ");
}

/** Short x-axis labels: no date when all runs share it, seconds when minutes repeat. */
function axisLabels(times: string[]): string[] {
  let labels = times.map((t) => runLabel(t));
  if (new Set(labels).size < labels.length) labels = times.map((t) => runLabel(t, true));
  const days = new Set(labels.map((l) => l.slice(0, 10)));
  return days.size === 1 && /^\d{4}-/.test(labels[0] ?? "")
    ? labels.map((l) => l.slice(11))
    : labels;
}

function verdictText(v: Verdict): string {
  return {
    "regression": "regression",
    "improvement": "improved",
    "ok": "ok",
    "no-baseline": "no baseline",
    "too-few-calls": "too few calls",
    "not-judged": "not judged",
  }[v];
}

function verdictCell(m: MetricTrend): Html {
  const cls = m.verdict === "regression" || m.verdict === "improvement"
    ? m.verdict
    : m.verdict === "ok"
    ? ""
    : "quiet";
  return markup`<td class="text"><span class="verdict ${cls}">${
    verdictText(m.verdict)
  }</span></td>`;
}

interface TrendChart {
  id: string;
  title: string;
  unit: TrendUnit;
  log: boolean;
  labels: string[];
  runs: string[];
  baseline: { from: number; to: number } | null;
  datasets: { label: string; data: (number | null)[]; color: string; regression: boolean }[];
}

const CHART_TITLES: Record<string, string> = {
  throughput: "Bytes moved per second",
  zero_copy: "Zero-copy share of bytes",
  faults: "Page faults per second",
  switches: "Context switches per second",
};

function chartsOf(t: TargetTrend, baselineWindow: number): TrendChart[] {
  const groups = new Map<string, MetricTrend[]>();
  for (const m of t.metrics) {
    const list = groups.get(m.chart);
    if (list) list.push(m);
    else groups.set(m.chart, [m]);
  }
  const labels = axisLabels(t.runs.map((r) => r.started_at));
  const runs = t.runs.map((r) => `${runLabel(r.started_at)}  ${r.file}`);
  const last = t.runs.length - 1;
  const from = Math.max(0, last - baselineWindow);
  const baseline = last >= 1 ? { from, to: last - 1 } : null;
  const out: TrendChart[] = [];
  let i = 0;
  for (const [key, metrics] of groups) {
    const first = metrics[0];
    if (!first) continue;
    const latency = first.unit === "ns";
    const name = key.replace(/^(syscalls|io_uring)\./, "");
    out.push({
      id: `${t.id}-${i++}`,
      title: latency
        ? `${key.startsWith("io_uring.") ? "io_uring " : ""}${name} latency`
        : CHART_TITLES[key] ?? key,
      unit: first.unit,
      log: latency,
      labels,
      runs,
      baseline,
      datasets: metrics.map((m, j) => ({
        label: latency
          ? m.label.replace(/^.* (P[\d.]+)$/, "$1")
          : m.label.replace(/ context switches\/s$/, "").replace(/\/s$/, ""),
        data: m.values,
        color: SERIES_COLORS[j % SERIES_COLORS.length] ?? "#2563eb",
        regression: m.verdict === "regression",
      })),
    });
  }
  return out;
}

function chartFigure(c: TrendChart): Html {
  return markup`<figure><h3>${c.title}</h3><div class="chart small"><canvas id="chart-${c.id}" role="img" aria-label="${c.title}">${c.title}</canvas></div></figure>`;
}

function comparisonTable(t: TargetTrend): Html {
  const rows = t.metrics.map((m) =>
    markup`<tr class="${m.verdict === "regression" ? "regression" : ""}"><td>${m.label}</td><td>${
      formatValue(m.unit, m.baseline)
    }</td><td>${formatValue(m.unit, m.latest)}</td><td>${formatChange(m.change)}</td><td>${
      m.tolerance === null ? "n/a" : formatChange(m.tolerance)
    }</td><td>${m.baseline_runs}</td>${verdictCell(m)}<td class="text sub">${m.reason}</td></tr>`
  );
  return markup`<div class="table-wrap"><table>
<thead><tr><th scope="col">metric</th><th scope="col" title="median of the baseline runs">baseline</th><th scope="col">latest</th><th scope="col">change</th><th scope="col" title="the change the rule allowed before flagging">allowed</th><th scope="col" title="baseline runs used">runs</th><th scope="col" class="text">verdict</th><th scope="col" class="text">why</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

function targetSection(t: TargetTrend, charts: TrendChart[]): Html {
  const first = t.runs[0];
  const last = t.runs[t.runs.length - 1];
  const hosts = [...new Set(t.runs.map((r) => r.host).filter(Boolean))];
  const regressions = t.metrics.filter((m) => m.verdict === "regression").length;
  const link = t.latest_report
    ? markup`<a href="${t.latest_report}">full report of the latest run</a>`
    : markup`<span class="sub">no report of the latest run</span>`;
  return markup`<section id="target-${t.id}">
<h2>${t.comm || "?"} <span class="sub">${t.runs.length} run${t.runs.length === 1 ? "" : "s"}${
    regressions ? `, ${regressions} regression${regressions === 1 ? "" : "s"}` : ""
  }</span></h2>
<code class="cmdline">${t.cmdline || "(no command line)"}</code>
<dl class="facts">
<div><dt>first run</dt><dd>${first ? runLabel(first.started_at) : "n/a"}</dd></div>
<div><dt>latest run</dt><dd>${last ? runLabel(last.started_at) : "n/a"}</dd></div>
<div><dt>host</dt><dd>${hosts.join(", ") || "n/a"}</dd></div>
<div><dt>latest file</dt><dd><code>${t.latest_file}</code></dd></div>
<div><dt>report</dt><dd>${link}</dd></div>
</dl>
<h3>Latest run against the baseline</h3>
${comparisonTable(t)}
<div class="grid trend-charts">${charts.map(chartFigure)}</div>
</section>`;
}

/**
 * Renders the trend summary as one self-contained HTML page.
 * @param summary from analyzeTrends (with `latest_report` links and `problems` filled in)
 * @param options `title`, `store`, `chartJs`
 * @returns the HTML document
 * @example
 * ```ts
 * import { analyzeTrends } from "./trend.ts";
 * import { renderTrendHtml } from "./trend_html.ts";
 * import type { RunDocument } from "../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_fio_psync.json")) as RunDocument;
 * const page = renderTrendHtml(analyzeTrends([{ file: "a.json", run }]));
 * console.assert(page.includes("Content-Security-Policy"));
 * ```
 */
export function renderTrendHtml(summary: TrendSummary, options: TrendPageOptions = {}): string {
  const { title = "ioscope trends", store, chartJs } = options;
  const charts = summary.targets.map((t) => chartsOf(t, summary.baseline_window));
  const regressionRows = summary.regressions.map((r) => {
    const t = summary.targets.find((x) => x.target === r.target);
    return markup`<tr class="regression"><td class="text">${
      t ? markup`<a href="#target-${t.id}">${t.comm}</a>` : r.target
    }</td><td class="text">${r.label}</td><td>${formatValue(r.unit, r.baseline)}</td><td>${
      formatValue(r.unit, r.latest)
    }</td><td>${formatChange(r.change)}</td><td>${formatChange(r.tolerance)}</td></tr>`;
  });
  const targetCount = summary.targets.length;
  const body = markup`<main>
<header>
<h1>ioscope trends</h1>
<p class="sub">${summary.runs} run${summary.runs === 1 ? "" : "s"} of ${targetCount} target${
    targetCount === 1 ? "" : "s"
  }${
    store ? markup` in <code>${store}</code>` : false
  }. The latest run of each target is compared with up to ${summary.baseline_window} runs before it; a change is a regression when it is worse than the threshold (${
    Math.round(summary.threshold * 100)
  }%), than the spread of those runs and its own sampling noise allow, and than every one of them. Generated ${
    runLabel(summary.generated_at)
  } UTC.</p>
</header>
${
    summary.problems.length
      ? markup`<div class="notice"><b>${summary.problems.length} file${
        summary.problems.length === 1 ? "" : "s"
      } in the store skipped:</b><ul>${
        summary.problems.map((p) => markup`<li><code>${p.file}</code>: ${p.reason}</li>`)
      }</ul></div>`
      : false
  }
<section>
<h2>Regressions</h2>
${
    summary.regressions.length
      ? markup`<div class="table-wrap"><table><thead><tr><th scope="col">target</th><th scope="col" class="text">metric</th><th scope="col">baseline</th><th scope="col">latest</th><th scope="col">change</th><th scope="col">allowed</th></tr></thead><tbody>${regressionRows}</tbody></table></div>`
      : markup`<p class="ok-banner">No regressions: every judged metric of every target's latest run is within what its baseline allows.</p>`
  }
${
    targetCount > 1
      ? markup`<nav class="targets">${
        summary.targets.map((t) => markup`<a href="#target-${t.id}">${t.comm || "?"}</a>`)
      }</nav>`
      : false
  }
</section>
${
    targetCount === 0
      ? markup`<p>No runs in the store yet: <code>ioscope trace --store DIR</code> adds one.</p>`
      : false
  }
${summary.targets.map((t, i) => targetSection(t, charts[i] ?? []))}
<footer>Made by ioscope from ${summary.runs} ioscope.run document${
    summary.runs === 1 ? "" : "s"
  }. One self-contained file: charts by Chart.js ${CHART_JS_VERSION} (MIT License, inlined); no network requests.</footer>
</main>`;
  return htmlPage({
    title,
    body,
    css: REPORT_CSS + TREND_CSS,
    data: { kind: "trend", charts: charts.flat() },
    scripts: [
      chartJs ?? chartJsSource(),
      unitsPageScript(),
      `(${trendClient.toString()})();`,
    ],
  });
}
