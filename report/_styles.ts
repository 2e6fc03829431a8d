/**
 * The reports' stylesheet: light, dense, readable on paper (`@media print`
 * drops the controls, keeps sections whole, and prints in black on white).
 * @module
 */

/** The stylesheet shared by the Run and Bench reports. */
export const REPORT_CSS: string = `
:root { --fg: #111827; --muted: #4b5563; --line: #e5e7eb; --bg: #ffffff; --panel: #f8fafc;
  --accent: #2563eb; --warn: #b45309; --bad: #b91c1c; --good: #047857; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: var(--bg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 4px; }
p { margin: 6px 0; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
.cmdline { display: block; padding: 6px 8px; background: var(--panel); border: 1px solid var(--line);
  border-radius: 4px; white-space: pre-wrap; word-break: break-all; }
.sub { color: var(--muted); }
section { margin: 26px 0 0; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 2px 18px;
  margin: 10px 0; }
.facts div { display: flex; gap: 8px; min-width: 0; }
.facts dt { color: var(--muted); flex: none; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.notice { border-left: 4px solid var(--warn); background: #fffbeb; padding: 6px 10px; margin: 8px 0; }
.notice.bad { border-color: var(--bad); background: #fef2f2; }
.notice ul { margin: 4px 0; padding-left: 20px; }
.cards + .grid, .cards + p { margin-top: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.card .label { color: var(--muted); font-size: 12px; }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
ol.findings { padding-left: 22px; margin: 0; }
ol.findings > li { margin: 0 0 12px; }
.sev { display: inline-block; font-size: 11px; font-weight: 700; text-transform: uppercase;
  border-radius: 3px; padding: 0 5px; margin-right: 6px; color: #fff; }
.sev.high { background: var(--bad); } .sev.medium { background: var(--warn); }
.sev.low { background: #6b7280; }
.findings ul { margin: 4px 0; padding-left: 18px; color: var(--muted); }
.try { margin: 2px 0 0; } .try b { color: var(--good); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; white-space: normal; overflow-wrap: anywhere; }
thead th { background: var(--panel); font-weight: 600; position: sticky; top: 0; }
th button { all: unset; cursor: pointer; }
th button:focus-visible { outline: 2px solid var(--accent); }
th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: 10px; }
th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: 10px; }
tr.best td { font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
.grid.two { grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); }
figure { margin: 0; border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; min-width: 0; }
figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; overflow-wrap: anywhere; }
.chart { position: relative; height: 260px; }
.chart.small { height: 190px; }
.chart.tall { height: 330px; }
.chart canvas { display: block; }
.flame { width: 100%; overflow-x: hidden; }
.flame svg { display: block; font: 11px ui-monospace, Menlo, Consolas, monospace; }
.flame .frame { cursor: pointer; }
.flame .frame:hover rect, .flame .frame:focus rect { stroke: #111827; stroke-width: 1; }
.flame .frame.faded { opacity: 0.55; }
.flame text { fill: #111827; pointer-events: none; }
.flame-bar { display: flex; gap: 12px; align-items: center; margin: 4px 0 8px; min-height: 24px; }
#flame-detail { color: var(--muted); overflow-wrap: anywhere; }
button.plain { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 4px;
  background: var(--panel); cursor: pointer; }
button.plain:disabled { opacity: 0.5; cursor: default; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
  padding-top: 8px; }
@media print {
  @page { margin: 12mm; }
  body { font-size: 10.5pt; color: #000; }
  main { max-width: none; padding: 0; }
  section, figure, .card, ol.findings > li, tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  .no-print, th button::after { display: none; }
  th button { all: unset; }
  thead th { position: static; }
  .grid, .grid.two { grid-template-columns: 1fr 1fr; }
  .chart { height: 210px; }
  .table-wrap { overflow: visible; }
  table { font-size: 8.5pt; }
  th, td { padding: 2px 4px; }
  .cards { grid-template-columns: repeat(4, 1fr); }
  .card .value { font-size: 14pt; }
  a { color: inherit; text-decoration: none; }
}
`;
