// Units as text: one module (schema/units.ts) for the terminal, the HTML
// reports and the pages' browser code, which runs the module's own source.
import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  formatBytes,
  formatCount,
  formatNs,
  formatPercent,
  formatSeconds,
  formatValue,
  perSecond,
  sizeText,
  type UnitOptions,
  unitsPageScript,
  type ValueUnit,
} from "../../schema/units.ts";
import { renderRunHtml } from "../../report/mod.ts";
import { renderTrendHtml } from "../../report/trend_html.ts";
import { demoRun } from "../_helpers/documents.ts";
import { analyzeTrends } from "../../report/trend.ts";

const TERMINAL: UnitOptions = { style: "terminal" };

Deno.test("formats carry units and never throw", () => {
  assertEquals(formatNs(999), "999 ns");
  assertEquals(formatNs(1_460), "1.46 µs");
  assertEquals(formatNs(16_400_000), "16.4 ms");
  assertEquals(formatNs(2.5e9), "2.5 s");
  assertEquals(formatBytes(0), "0 B");
  assertEquals(formatBytes(2.39 * 2 ** 30), "2.39 GiB");
  assertEquals(formatCount(612_345), "612 k");
  assertEquals(formatCount(0.62), "0.62");
  assertEquals(formatPercent(0.294), "29.4 %");
  assertEquals(formatSeconds(125), "2 min 5 s");
  assertEquals(formatNs(NaN), "n/a");
  assertEquals(formatBytes(Infinity, TERMINAL), "n/a");
  assertEquals(perSecond(10, 0), null);
});

Deno.test("the terminal style is compact ASCII and keeps one decimal below 100", () => {
  // What the terminal printed before the formatters were one module (live_view_test reads these).
  assertEquals(formatNs(38_000, TERMINAL), "38.0us");
  assertEquals(formatNs(1_500, TERMINAL), "1.5us");
  assertEquals(formatNs(999, TERMINAL), "999ns");
  assertEquals(formatNs(2e9, TERMINAL), "2.0s");
  assertEquals(formatCount(12_345, TERMINAL), "12.3k");
  assertEquals(formatCount(123_456, TERMINAL), "123k");
  assertEquals(formatCount(1234, TERMINAL), "1234");
  assertEquals(formatBytes(7.54 * 2 ** 30, TERMINAL), "7.54GiB");
  assertEquals(formatBytes(512, TERMINAL), "512B");
  assertEquals(formatValue("percent", 0.5, TERMINAL), "50.0%");
  assertEquals(formatValue("bytes/s", 12 * 2 ** 20, TERMINAL), "12.0MiB/s");
});

Deno.test("sizes read as a user writes them on the command line", () => {
  assertEquals(sizeText(32 << 20), "32MiB");
  assertEquals(sizeText(1 << 20), "1MiB");
  assertEquals(sizeText(1536), "1.5KiB");
  assertEquals(sizeText(4000), "3.9KiB");
  assertEquals(sizeText(1000), "1000B");
});

Deno.test("formatValue reads every unit a chart or a trend names", () => {
  const cases: [ValueUnit, number, string][] = [
    ["ns", 1_460, "1.46 µs"],
    ["bytes", 1536, "1.5 KiB"],
    ["bytes/s", 12 * 2 ** 20, "12 MiB/s"],
    ["count", 612_345, "612 k"],
    ["count/s", 50, "50/s"],
    ["s", 3.216, "3.22 s"],
    ["percent", 0.294, "29.4 %"],
  ];
  for (const [unit, v, text] of cases) assertEquals(formatValue(unit, v), text, unit);
  assertEquals(formatValue("ns", null), "n/a");
});

/** Runs the page's script in a scope of its own and returns what it sets. */
function pageFormat(): Record<string, (...args: unknown[]) => string> {
  const scope: { ioscopeFormat?: Record<string, (...args: unknown[]) => string> } = {};
  new Function("globalThis", unitsPageScript())(scope);
  assert(scope.ioscopeFormat, "the page script sets globalThis.ioscopeFormat");
  assert(Object.isFrozen(scope.ioscopeFormat), "and freezes it");
  return scope.ioscopeFormat;
}

Deno.test("the pages run the module's own formatters: same text for the same value", () => {
  const page = pageFormat();
  const values = [
    0,
    0.62,
    7,
    999,
    1_460,
    9_999,
    12_345,
    612_345,
    16.4e6,
    2.39 * 2 ** 30,
    2.5e9,
    -3e4,
  ];
  const units: ValueUnit[] = ["ns", "bytes", "bytes/s", "count", "count/s", "s", "percent"];
  for (const unit of units) {
    for (const v of values) {
      for (const style of ["html", "terminal"] as const) {
        assertEquals(page.formatValue!(unit, v, { style }), formatValue(unit, v, { style }));
      }
    }
  }
  assertEquals(page.formatValue!("ns", NaN), "n/a");
});

Deno.test("the run report and the trend page inline the formatters' script, not a copy", () => {
  const script = unitsPageScript();
  assert(renderRunHtml(demoRun()).includes(script), "the run report carries unitsPageScript()");
  const trend = renderTrendHtml(
    analyzeTrends([{ file: "a.json", run: demoRun() }, { file: "b.json", run: demoRun() }]),
  );
  assert(trend.includes(script), "the trend page carries unitsPageScript()");
});
