/**
 * Numbers with units for reports: `1.46 µs`, `2.39 GiB`, `190 k`, `29.4 %`.
 * Every formatter takes any number and never throws: a value that is not a
 * finite number reads `n/a`.
 * @module
 */

/**
 * A duration in nanoseconds, in the largest unit that keeps it at least 1.
 * @param ns nanoseconds
 * @returns e.g. `"1.46 µs"`
 * @example
 * ```ts
 * import { formatNs } from "./html_format.ts";
 * console.assert(formatNs(1460) === "1.46 µs");
 * ```
 */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return "n/a";
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${digits(ns / 1e3)} µs`;
  if (a < 1e9) return `${digits(ns / 1e6)} ms`;
  return `${digits(ns / 1e9)} s`;
}

/**
 * Bytes in binary units.
 * @param bytes a byte count
 * @returns e.g. `"2.39 GiB"`
 * @example
 * ```ts
 * import { formatBytes } from "./html_format.ts";
 * console.assert(formatBytes(1536) === "1.5 KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "n/a";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${digits(v)} ${units[i]}`;
}

/**
 * A count, with k, M and G from 10 000 up.
 * @param n a count
 * @returns e.g. `"612 k"`
 * @example
 * ```ts
 * import { formatCount } from "./html_format.ts";
 * console.assert(formatCount(612_345) === "612 k");
 * console.assert(formatCount(9_999) === "9999");
 * ```
 */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  const a = Math.abs(n);
  if (a < 10) return n === Math.round(n) ? String(n) : digits(n);
  if (a < 1e4) return String(Math.round(n));
  if (a < 1e7) return `${digits(n / 1e3)} k`;
  if (a < 1e10) return `${digits(n / 1e6)} M`;
  return `${digits(n / 1e9)} G`;
}

/**
 * A fraction as a percentage.
 * @param fraction 0 to 1
 * @returns e.g. `"29.4 %"`
 * @example
 * ```ts
 * import { formatPercent } from "./html_format.ts";
 * console.assert(formatPercent(0.294) === "29.4 %");
 * ```
 */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction)) return "n/a";
  return `${(fraction * 100).toFixed(fraction !== 0 && Math.abs(fraction) < 0.001 ? 2 : 1)} %`;
}

/**
 * Seconds, for durations of a trace.
 * @param s seconds
 * @returns e.g. `"3.22 s"`, `"2 min 5 s"`
 * @example
 * ```ts
 * import { formatSeconds } from "./html_format.ts";
 * console.assert(formatSeconds(3.216) === "3.22 s");
 * console.assert(formatSeconds(125) === "2 min 5 s");
 * ```
 */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "n/a";
  if (s < 60) return `${digits(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Three significant digits, at most two decimals, no trailing zeros after a point. */
function digits(x: number): string {
  const a = Math.abs(x);
  const text = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/**
 * A rate per second over a duration, or null when the duration is not positive.
 * @param total the count over the whole duration
 * @param seconds the duration
 * @returns `total / seconds`, or null
 * @example
 * ```ts
 * import { perSecond } from "./html_format.ts";
 * console.assert(perSecond(10, 2) === 5);
 * console.assert(perSecond(10, 0) === null);
 * ```
 */
export function perSecond(total: number, seconds: number): number | null {
  return Number.isFinite(total) && Number.isFinite(seconds) && seconds > 0 ? total / seconds : null;
}
