/**
 * The fleet page (`report --fleet DIR,DIR --out FILE.html`): the latest Run
 * of each (host, target) merged into one histogram per target and syscall.
 * Per target, a table of its syscalls with the merged P50 and P99 and the
 * spread of the hosts' own P99s; per syscall, each host's P99 as a bar and
 * the merged histogram with its percentiles. One self-contained file, like
 * the other reports: chart.js and styles inlined, a strict
 * Content-Security-Policy, every host, target and syscall name escaped (they
 * come from the Runs: untrusted), chart labels drawn as canvas text only.
 * @module
 */

import { type FleetDocument, type FleetRow, formatCount, formatNs } from "../schema/mod.ts";
import { type Html, markup } from "./html.ts";
import {
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
import { logHistogramChart } from "./_why_html.ts";

/** Options of {@linkcode renderFleetHtml}. */
export interface FleetPageOptions extends RenderOptions {
  /** Where the Runs came from (the `--fleet` directories), shown under the title (escaped). */
  sources?: readonly string[];
}

/** Syscalls per target given charts (the table lists them all). */
const CHARTED_PER_TARGET = 8;

/**
 * Renders the fleet page.
 * @param doc the fleet document (`report --fleet`'s `--json`)
 * @param options title, sources, chart.js' source
 * @returns the HTML document
 * @example
 * ```ts
 * import { renderFleetHtml } from "./fleet_html.ts";
 * const page = renderFleetHtml({ schema: "ioscope.fleet/1", rows: [{
 *   target: "<b>x</b>", syscall: "read", hosts: 1, count: 3, p50_ns: 1000, p99_ns: 2000,
 *   p99_by_host: { "<i>h</i>": 2000 }, buckets: [[977, 1021, 3]],
 * }] }, { chartJs: "" });
 * console.assert(page.includes("&lt;b&gt;x&lt;/b&gt;") && !page.includes("<i>h</i>"));
 * ```
 */
export function renderFleetHtml(doc: FleetDocument, options: FleetPageOptions = {}): string {
  const { title = "ioscope fleet", sources = [], chartJs } = options;
  const rows = Array.isArray(doc.rows) ? doc.rows : [];
  const charts: ChartSpec[] = [];
  const byTarget = new Map<string, FleetRow[]>();
  for (const r of rows) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  const hosts = [...new Set(rows.flatMap((r) => Object.keys(r.p99_by_host ?? {})))].sort();
  const sections = [...byTarget].map(([target, list], t) => targetSection(target, list, t, charts));
  const body = markup`<main>
<header>
<h1>${title} <span class="sub">${hosts.length} host${
    hosts.length === 1 ? "" : "s"
  }, ${byTarget.size} target${byTarget.size === 1 ? "" : "s"}</span></h1>
${
    facts([
      ["hosts", hosts.join(", ") || "none"],
      ["from", sources.join(", ") || "?"],
    ])
  }
<p class="sub">The latest Run of each host and target. Their histograms merge exactly: each Run's buckets are schema-4 native buckets (16 per power of two, 4.4% wide), and the counts of the same bucket add up, so the merged P50 and P99 are those of all the hosts' calls together (each the upper bound of its bucket), not an average of the hosts'. Each host's own P99 shows the spread.</p>
</header>
${
    rows.length === 0
      ? markup`<p class="notice">No Runs with syscalls in these directories.</p>`
      : false
  }
${sections}
${footer(doc.schema ?? "ioscope.fleet/1")}
</main>`;
  return page(title, body, { kind: "fleet", charts }, chartJs);
}

const COLUMNS: Column[] = [
  { label: "syscall", type: "text" },
  { label: "hosts" },
  { label: "calls", title: "timed (successful) calls, all hosts" },
  { label: "P50", title: "of the merged histogram" },
  { label: "P99", title: "of the merged histogram" },
  { label: "P99 by host", type: "text", title: "each host's own P99, fastest to slowest" },
  { label: "spread", title: "slowest host's P99 / fastest host's" },
];

function targetSection(target: string, list: FleetRow[], t: number, charts: ChartSpec[]): Html {
  const sorted = [...list].sort((a, b) => num(b.count) - num(a.count));
  const cells = sorted.map((r): Cell[] => {
    const p99s = hostP99s(r);
    const low = p99s[0]?.[1] ?? 0;
    const high = p99s[p99s.length - 1]?.[1] ?? 0;
    const spread = low > 0 ? high / low : 0;
    return [
      { text: r.syscall },
      { text: formatCount(num(r.hosts)), v: num(r.hosts) },
      { text: formatCount(num(r.count)), v: num(r.count) },
      { text: formatNs(num(r.p50_ns)), v: num(r.p50_ns) },
      { text: formatNs(num(r.p99_ns)), v: num(r.p99_ns) },
      { text: p99s.map(([h, ns]) => `${h} ${formatNs(ns)}`).join(", ") },
      { text: spread > 0 ? `${spread.toFixed(2)}x` : "-", v: spread },
    ];
  });
  const boxes = sorted.slice(0, CHARTED_PER_TARGET).map((r, s) => {
    const id = `fleet-${t}-${s}`;
    const p99s = hostP99s(r);
    charts.push({
      id: `${id}-hosts`,
      type: "bar",
      horizontal: true,
      labels: p99s.map(([h]) => h),
      datasets: [{
        label: "P99",
        data: p99s.map(([, ns]) => ns),
        color: color(3),
        unit: "ns",
      }],
      x: { unit: "ns", beginAtZero: true, title: "P99 of the host's own calls" },
      y: { category: true },
      legend: false,
    });
    charts.push(
      logHistogramChart(
        `${id}-merged`,
        r.syscall,
        {
          p50_ns: num(r.p50_ns),
          p99_ns: num(r.p99_ns),
          buckets: r.buckets ?? [],
        },
        s,
        { x: "latency (merged native buckets)", y: "calls, all hosts" },
      ),
    );
    return markup`<div class="grid two">${
      chartBox(`${id}-hosts`, `${r.syscall}: P99 by host`, {
        size: "small",
        note: `merged P99 ${formatNs(num(r.p99_ns))} over ${formatCount(num(r.hosts))} hosts`,
      })
    }${
      chartBox(`${id}-merged`, `${r.syscall}: merged histogram`, {
        size: "small",
        note: `${formatCount(num(r.count))} calls; P50 ${formatNs(num(r.p50_ns))}, P99 ${
          formatNs(num(r.p99_ns))
        }`,
      })
    }</div>`;
  });
  const more = sorted.length > CHARTED_PER_TARGET
    ? markup`<p class="sub">Charts for the ${CHARTED_PER_TARGET} syscalls with the most calls; the table lists all ${sorted.length}.</p>`
    : false;
  return markup`<section class="fleet-target"><h2>${target}</h2>${
    table(COLUMNS, cells, { sortedBy: 2 })
  }${boxes}${more}</section>`;
}

/** A row's hosts and their P99s, fastest first. */
function hostP99s(r: FleetRow): [string, number][] {
  return Object.entries(r.p99_by_host ?? {})
    .map(([h, ns]): [string, number] => [h, num(ns)])
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
}

function num(x: unknown): number {
  return typeof x === "number" && Number.isFinite(x) ? x : 0;
}
