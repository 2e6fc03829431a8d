/**
 * Building blocks shared by the Run and Bench reports: chart descriptions (the
 * JSON the page's script turns into chart.js charts), chart boxes, summary
 * cards, sortable tables, fact lists, and the page assembly with chart.js and
 * the client script inlined.
 * @module
 */

import { CHART_JS_VERSION, chartJsSource } from "./chartjs.ts";
import { clientMain } from "./_browser_report.js";
import { type Html, htmlPage, markup } from "./html.ts";
import type { Marker } from "./_histogram.ts";
import { REPORT_CSS } from "./_styles.ts";
import { unitsPageScript, type ValueUnit } from "../schema/mod.ts";

/** How an axis' or dataset's values are formatted in the page. */
export type Unit = ValueUnit;

/** One axis of a chart. */
export interface AxisSpec {
  title?: string;
  unit?: Unit;
  log?: boolean;
  category?: boolean;
  stacked?: boolean;
  beginAtZero?: boolean;
  min?: number;
  /** The axis ends here. */
  max?: number;
  /** The axis reaches at least this far (more when the data does). */
  suggestedMax?: number;
}

/** One dataset of a chart. */
export interface DatasetSpec {
  label: string;
  data: unknown[];
  color: string;
  /** Fill colour, when different from `color`. */
  background?: string;
  /** chart.js fill target (`"start"`, `"origin"`). */
  fill?: string;
  yAxisID?: string;
  stack?: string;
  dashed?: boolean;
  unit?: Unit;
  /** Per-slice colours (doughnut). */
  colors?: string[];
}

/** A chart, drawn into the canvas with id `id`. */
export interface ChartSpec {
  id: string;
  type: "line" | "bar" | "doughnut";
  labels?: string[];
  datasets: DatasetSpec[];
  x?: AxisSpec;
  y?: AxisSpec;
  y1?: AxisSpec;
  /** Bars along the x axis, categories on y. */
  horizontal?: boolean;
  /** Vertical lines on the x axis (latency percentiles). */
  markers?: Marker[];
  legend?: boolean;
}

/** Colours for series, in order. */
export const PALETTE: readonly string[] = [
  "#2563eb",
  "#dc2626",
  "#059669",
  "#d97706",
  "#7c3aed",
  "#0891b2",
  "#db2777",
  "#65a30d",
  "#475569",
  "#ea580c",
];

/** The `i`th palette colour, wrapping around. */
export function color(i: number): string {
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length] ?? "#2563eb";
}

/** A colour with transparency (`#rrggbb` and an alpha 0 to 1). */
export function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
}

/**
 * A chart's box: a figure with a canvas the page script draws into.
 * @param id the canvas id (from our code, never from a document)
 * @param caption what the chart shows (untrusted parts are escaped)
 * @param options `size`: the box height (@default "normal"); `note`: a line under it
 * @returns the figure's markup
 */
export function chartBox(
  id: string,
  caption: string,
  options: { size?: "small" | "normal" | "tall"; note?: string | Html } = {},
): Html {
  const { size = "normal", note } = options;
  const cls = size === "normal" ? "chart" : `chart ${size}`;
  return markup`<figure><h3>${caption}</h3><div class="${cls}"><canvas id="chart-${id}" role="img" aria-label="${caption}">${caption}</canvas></div>${
    note === undefined ? false : markup`<figcaption>${note}</figcaption>`
  }</figure>`;
}

/** A summary figure. */
export function card(label: string, value: string, note?: string): Html {
  const n = note ? markup`<div class="note">${note}</div>` : false;
  return markup`<div class="card"><div class="label">${label}</div><div class="value">${value}</div>${n}</div>`;
}

/** A list of facts: label, value. */
export function facts(pairs: [string, string | Html][]): Html {
  const items = pairs.map(([k, v]) => markup`<div><dt>${k}</dt><dd>${v}</dd></div>`);
  return markup`<dl class="facts">${items}</dl>`;
}

/** A column of a {@linkcode table}. */
export interface Column {
  label: string;
  /** Numbers sort numerically, by each cell's `v`. @default "number" */
  type?: "number" | "text";
  /** Why the column is what it is (the header's title). */
  title?: string;
}

/** A cell: its text and, for number columns, the value it sorts by. */
export interface Cell {
  text: string | Html;
  v?: number;
}

/**
 * A table whose headers sort it when clicked (in the page), sorted on
 * `sortedBy` as given (the caller sorts the rows).
 * @param columns the columns
 * @param rows the rows' cells
 * @param options `sortedBy`: the column the rows come sorted by, descending;
 *   `rowClass`: a class per row (e.g. "best")
 * @returns the table's markup
 */
export function table(
  columns: Column[],
  rows: Cell[][],
  options: { sortedBy?: number; rowClass?: (i: number) => string | undefined; id?: string } = {},
): Html {
  const { sortedBy, rowClass, id } = options;
  const head = columns.map((c, i) => {
    const type = c.type ?? "number";
    const sort = i === sortedBy ? (type === "number" ? "descending" : "ascending") : undefined;
    const sortAttr = sort ? markup` aria-sort="${sort}"` : false;
    const titleAttr = c.title ? markup` title="${c.title}"` : false;
    return markup`<th scope="col" data-type="${type}"${sortAttr}${titleAttr}><button type="button">${c.label}</button></th>`;
  });
  const body = rows.map((cells, r) => {
    const cls = rowClass?.(r);
    const tds = cells.map((c, i) => {
      const text = (columns[i]?.type ?? "number") === "text" ? markup` class="text"` : false;
      const v = c.v !== undefined && Number.isFinite(c.v) ? markup` data-v="${c.v}"` : false;
      return markup`<td${text}${v}>${c.text}</td>`;
    });
    return markup`<tr${cls ? markup` class="${cls}"` : false}>${tds}</tr>`;
  });
  const idAttr = id ? markup` id="${id}"` : false;
  return markup`<div class="table-wrap"><table class="sortable"${idAttr}><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** Rendering options shared by both reports. */
export interface RenderOptions {
  /** The page title. @default derived from the document */
  title?: string;
  /**
   * The chart.js browser build to inline.
   * @default chart.js's `dist/chart.umd.js` from the pinned npm package
   */
  chartJs?: string;
}

/**
 * A complete report page: the body, its charts' data, chart.js and the page
 * script inlined, under a strict CSP.
 * @param title the page title (escaped)
 * @param body the body's markup
 * @param data what the page script reads: `{ charts, flame? }`
 * @param chartJs chart.js' source, or undefined for the pinned package's
 * @returns the HTML document
 */
export function page(
  title: string,
  body: Html,
  data: { kind: "run" | "bench" | "fleet"; charts: ChartSpec[]; flame?: unknown },
  chartJs: string | undefined,
): string {
  return htmlPage({
    title,
    body,
    css: REPORT_CSS,
    data,
    scripts: [
      chartJs ?? chartJsSource(),
      unitsPageScript(),
      `(${clientMain.toString()})();`,
    ],
  });
}

/** The footer of every report. */
export function footer(schema: string): Html {
  return markup`<footer>Made by ioscope from a ${schema} document. One self-contained file: charts by Chart.js ${CHART_JS_VERSION} (MIT License, inlined); no network requests.</footer>`;
}
