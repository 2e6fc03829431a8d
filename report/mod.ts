/**
 * Reports: a Run document (from `ioscope trace`) or a Bench document (from
 * `ioscope bench`) rendered as one self-contained HTML file (chart.js and
 * styles inlined, a strict Content-Security-Policy, no network requests, every
 * untrusted text escaped), and the findings a Run's data supports.
 *
 * ```ts
 * import { findings, renderRunHtml } from "./mod.ts";
 * import type { RunDocument } from "../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_demo.json")) as RunDocument;
 * const page = renderRunHtml(run);
 * console.assert(page.includes("Content-Security-Policy"));
 * console.assert(findings(run).length > 0);
 * ```
 * @module
 */

export * from "./run.ts";
export * from "./bench.ts";
export * from "./findings.ts";
export { escapeHtml, type Html, htmlPage, jsonForScript, markup } from "./html.ts";
export { CHART_JS_VERSION, loadChartJs } from "./chartjs.ts";
export { analyzeTrends } from "./trend.ts";
export { formatChange, renderTrendHtml } from "./trend_html.ts";
export { type FleetPageOptions, renderFleetHtml } from "./fleet_html.ts";
