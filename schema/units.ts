/**
 * The documents' numbers as text, with their units: one module for the
 * terminal (`1.2us`, `470MiB`, `12.3k`), the HTML reports (`1.46 µs`,
 * `2.39 GiB`, `190 k`, `29.4 %`) and the pages' browser code, which runs these
 * same functions: {@linkcode unitsPageScript} inlines their source into the
 * page. So every function here reaches nothing outside the list it names.
 * Every formatter takes any number and never throws: a value that is not a
 * finite number reads `n/a`.
 * @module
 */

/**
 * How a value reads: `"terminal"` is compact ASCII (`1.5us`, `12.0k`, `29.4%`),
 * `"html"` has a space before the unit and µ (`1.5 µs`, `12 k`, `29.4 %`).
 */
export type UnitStyle = "terminal" | "html";

/** The options of every formatter. */
export interface UnitOptions {
  /**
   * How the value reads.
   * @default {"html"}
   */
  style?: UnitStyle;
}

/** The units a document's value can carry (a chart axis, a trend metric). */
export type ValueUnit = "ns" | "bytes" | "bytes/s" | "count" | "count/s" | "s" | "percent";

/**
 * Three significant digits. The HTML style drops trailing zeros after a point
 * (`1.5`, `12`); the terminal keeps one decimal below 100 (`1.5`, `12.0`).
 * @param x the number
 * @param style how it reads
 * @returns e.g. `"1.46"`
 * @example
 * ```ts
 * import { unitDigits } from "./units.ts";
 * console.assert(unitDigits(12, "html") === "12" && unitDigits(12, "terminal") === "12.0");
 * ```
 */
export function unitDigits(x: number, style: UnitStyle): string {
  const a = Math.abs(x);
  const text = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  if (style === "terminal") return a >= 10 ? text : text.replace(/0$/, "");
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/**
 * A number and its unit, joined as the style writes them.
 * @param text the number as text
 * @param unit the unit (`µs` reads `us` on the terminal)
 * @param style how it reads
 * @returns e.g. `"1.5 µs"` or `"1.5us"`
 * @example
 * ```ts
 * import { withUnit } from "./units.ts";
 * console.assert(withUnit("3", "µs", "terminal") === "3us");
 * ```
 */
export function withUnit(text: string, unit: string, style: UnitStyle): string {
  if (style === "terminal") return text + (unit === "µs" ? "us" : unit);
  return text + " " + unit;
}

/**
 * A duration in nanoseconds, in the largest unit that keeps it at least 1.
 * @param ns nanoseconds
 * @param options how it reads
 * @returns e.g. `"1.46 µs"`, or `"1.46us"` on the terminal
 * @example
 * ```ts
 * import { formatNs } from "./units.ts";
 * console.assert(formatNs(1460) === "1.46 µs");
 * console.assert(formatNs(1500, { style: "terminal" }) === "1.5us");
 * ```
 */
export function formatNs(ns: number, options: UnitOptions = {}): string {
  const { style = "html" } = options;
  if (!Number.isFinite(ns)) return "n/a";
  const a = Math.abs(ns);
  if (a < 1e3) return withUnit(String(Math.round(ns)), "ns", style);
  if (a < 1e6) return withUnit(unitDigits(ns / 1e3, style), "µs", style);
  if (a < 1e9) return withUnit(unitDigits(ns / 1e6, style), "ms", style);
  return withUnit(unitDigits(ns / 1e9, style), "s", style);
}

/**
 * A byte count in binary units: the value scaled by 1024 until it is below
 * 1024, and its unit.
 * @param bytes a byte count
 * @returns `[value, unit]`, e.g. `[1.5, "KiB"]`
 * @example
 * ```ts
 * import { binaryScale } from "./units.ts";
 * const [v, unit] = binaryScale(1536);
 * console.assert(v === 1.5 && unit === "KiB");
 * ```
 */
export function binaryScale(bytes: number): [number, string] {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return [v, units[i] ?? "B"];
}

/**
 * Bytes in binary units.
 * @param bytes a byte count
 * @param options how it reads
 * @returns e.g. `"2.39 GiB"`, or `"2.39GiB"` on the terminal
 * @example
 * ```ts
 * import { formatBytes } from "./units.ts";
 * console.assert(formatBytes(1536) === "1.5 KiB");
 * console.assert(formatBytes(1536, { style: "terminal" }) === "1.5KiB");
 * ```
 */
export function formatBytes(bytes: number, options: UnitOptions = {}): string {
  const { style = "html" } = options;
  if (!Number.isFinite(bytes)) return "n/a";
  const [v, unit] = binaryScale(bytes);
  return withUnit(unit === "B" ? String(Math.round(v)) : unitDigits(v, style), unit, style);
}

/**
 * A size as a user writes it on the command line (`--size 256MiB`): the
 * largest binary unit, at most one decimal, no space.
 * @param bytes a byte count
 * @returns e.g. `"256MiB"`, `"1.5KiB"`
 * @example
 * ```ts
 * import { sizeText } from "./units.ts";
 * console.assert(sizeText(1 << 20) === "1MiB" && sizeText(1536) === "1.5KiB");
 * ```
 */
export function sizeText(bytes: number): string {
  if (!Number.isFinite(bytes)) return "n/a";
  const [v, unit] = binaryScale(bytes);
  return `${+v.toFixed(v >= 100 || unit === "B" ? 0 : 1)}${unit}`;
}

/**
 * A count, with k, M and G from 10 000 up.
 * @param n a count
 * @param options how it reads
 * @returns e.g. `"612 k"`, or `"612k"` on the terminal
 * @example
 * ```ts
 * import { formatCount } from "./units.ts";
 * console.assert(formatCount(612_345) === "612 k");
 * console.assert(formatCount(9_999) === "9999");
 * console.assert(formatCount(123_456, { style: "terminal" }) === "123k");
 * ```
 */
export function formatCount(n: number, options: UnitOptions = {}): string {
  const { style = "html" } = options;
  if (!Number.isFinite(n)) return "n/a";
  const a = Math.abs(n);
  if (a < 10) return n === Math.round(n) ? String(n) : unitDigits(n, style);
  if (a < 1e4) return String(Math.round(n));
  if (a < 1e7) return withUnit(unitDigits(n / 1e3, style), "k", style);
  if (a < 1e10) return withUnit(unitDigits(n / 1e6, style), "M", style);
  return withUnit(unitDigits(n / 1e9, style), "G", style);
}

/**
 * A fraction as a percentage.
 * @param fraction 0 to 1
 * @param options how it reads
 * @returns e.g. `"29.4 %"`, or `"29.4%"` on the terminal
 * @example
 * ```ts
 * import { formatPercent } from "./units.ts";
 * console.assert(formatPercent(0.294) === "29.4 %");
 * console.assert(formatPercent(0.294, { style: "terminal" }) === "29.4%");
 * ```
 */
export function formatPercent(fraction: number, options: UnitOptions = {}): string {
  const { style = "html" } = options;
  if (!Number.isFinite(fraction)) return "n/a";
  const places = fraction !== 0 && Math.abs(fraction) < 0.001 ? 2 : 1;
  return withUnit((fraction * 100).toFixed(places), "%", style);
}

/**
 * Seconds, for durations of a trace.
 * @param s seconds
 * @param options how it reads
 * @returns e.g. `"3.22 s"`, `"2 min 5 s"`
 * @example
 * ```ts
 * import { formatSeconds } from "./units.ts";
 * console.assert(formatSeconds(3.216) === "3.22 s");
 * console.assert(formatSeconds(125) === "2 min 5 s");
 * ```
 */
export function formatSeconds(s: number, options: UnitOptions = {}): string {
  const { style = "html" } = options;
  if (!Number.isFinite(s)) return "n/a";
  if (s < 60) return withUnit(unitDigits(s, style), "s", style);
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/**
 * A value with its unit: the one formatter of trend metrics, chart axes and
 * tooltips, on the terminal and in the pages.
 * @param unit the value's unit
 * @param v the value, or null
 * @param options how it reads
 * @returns e.g. `"1.46 µs"`, `"12 MiB/s"`, `"n/a"` for null
 * @example
 * ```ts
 * import { formatValue } from "./units.ts";
 * console.assert(formatValue("bytes/s", 12 * 2 ** 20) === "12 MiB/s");
 * console.assert(formatValue("percent", 0.5, { style: "terminal" }) === "50.0%");
 * console.assert(formatValue("ns", null) === "n/a");
 * ```
 */
export function formatValue(unit: ValueUnit, v: number | null, options: UnitOptions = {}): string {
  if (v === null || !Number.isFinite(v)) return "n/a";
  switch (unit) {
    case "ns":
      return formatNs(v, options);
    case "bytes":
      return formatBytes(v, options);
    case "bytes/s":
      return `${formatBytes(v, options)}/s`;
    case "s":
      return formatSeconds(v, options);
    case "percent":
      return formatPercent(v, options);
    case "count/s":
      return `${formatCount(v, options)}/s`;
    default: // "count", and a page's axis that names no unit
      return formatCount(v, options);
  }
}

/**
 * A rate per second over a duration, or null when the duration is not positive.
 * @param total the count over the whole duration
 * @param seconds the duration
 * @returns `total / seconds`, or null
 * @example
 * ```ts
 * import { perSecond } from "./units.ts";
 * console.assert(perSecond(10, 2) === 5);
 * console.assert(perSecond(10, 0) === null);
 * ```
 */
export function perSecond(total: number, seconds: number): number | null {
  return Number.isFinite(total) && Number.isFinite(seconds) && seconds > 0 ? total / seconds : null;
}

/** What the pages' script gets, in `globalThis.ioscopeFormat`: the formatters above, as they are. */
const PAGE_FUNCTIONS = [
  unitDigits,
  withUnit,
  binaryScale,
  formatNs,
  formatBytes,
  formatCount,
  formatPercent,
  formatSeconds,
  formatValue,
] as const;

/**
 * The script a page runs before its own code: the source of this module's
 * formatters (as Deno runs them, types stripped), which sets
 * `globalThis.ioscopeFormat`, frozen. The page's CSP hashes it like any other
 * inline script, so it is the same text on every build.
 * @returns JavaScript source
 * @example
 * ```ts
 * import { unitsPageScript } from "./units.ts";
 * console.assert(unitsPageScript().includes("function formatNs("));
 * ```
 */
export function unitsPageScript(): string {
  const names = PAGE_FUNCTIONS.map((f) => f.name);
  return `(function () {\n"use strict";\n${PAGE_FUNCTIONS.map(String).join("\n")}\n` +
    `globalThis.ioscopeFormat = Object.freeze({ ${names.join(", ")} });\n})();`;
}
