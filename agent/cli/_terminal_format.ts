/**
 * The unit formatters of `schema/units.ts` in their terminal style, for every
 * line agent/cli prints: `1.2us`, `470MiB`, `12.3k`, `29.4%`.
 * @module
 */

import * as units from "../../schema/mod.ts";

const TERMINAL: units.UnitOptions = { style: "terminal" };

/**
 * A duration in nanoseconds, in the largest unit that keeps it >= 1.
 * @param ns nanoseconds
 * @returns e.g. `"1.5us"`
 * @example
 * ```ts
 * import { formatNs } from "./_terminal_format.ts";
 * console.assert(formatNs(1500) === "1.5us");
 * ```
 */
export function formatNs(ns: number): string {
  return units.formatNs(ns, TERMINAL);
}

/**
 * Bytes in binary units.
 * @param bytes a byte count
 * @returns e.g. `"1.5KiB"`
 * @example
 * ```ts
 * import { formatBytes } from "./_terminal_format.ts";
 * console.assert(formatBytes(1536) === "1.5KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  return units.formatBytes(bytes, TERMINAL);
}

/**
 * A count, with k/M/G from 10 000 up.
 * @param n a count
 * @returns e.g. `"123k"`
 * @example
 * ```ts
 * import { formatCount } from "./_terminal_format.ts";
 * console.assert(formatCount(123456) === "123k");
 * ```
 */
export function formatCount(n: number): string {
  return units.formatCount(n, TERMINAL);
}

/**
 * A value with its unit (a trend metric's baseline or latest value).
 * @param unit the value's unit
 * @param v the value, or null
 * @returns e.g. `"12MiB/s"`, `"50.0%"`, `"n/a"` for null
 * @example
 * ```ts
 * import { formatValue } from "./_terminal_format.ts";
 * console.assert(formatValue("percent", 0.5) === "50.0%");
 * ```
 */
export function formatValue(unit: units.ValueUnit, v: number | null): string {
  return units.formatValue(unit, v, TERMINAL);
}
