/**
 * Numbers with units, for the terminal: `1.2us`, `470.1MiB`, `12.3k`.
 * @module
 */

/**
 * A duration in nanoseconds, in the largest unit that keeps it >= 1.
 * @example
 * ```ts
 * import { formatNs } from "./terminal_format.ts";
 * console.assert(formatNs(1500) === "1.5us");
 * ```
 */
export function formatNs(ns: number): string {
  if (ns < 1_000) return `${Math.round(ns)}ns`;
  if (ns < 1_000_000) return `${trim(ns / 1_000)}us`;
  if (ns < 1_000_000_000) return `${trim(ns / 1_000_000)}ms`;
  return `${trim(ns / 1_000_000_000)}s`;
}

/**
 * Bytes in binary units.
 * @example
 * ```ts
 * import { formatBytes } from "./terminal_format.ts";
 * console.assert(formatBytes(1536) === "1.5KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${trim(v)}${units[i]}`;
}

/**
 * A count, with k/M/G above 10 000.
 * @example
 * ```ts
 * import { formatCount } from "./terminal_format.ts";
 * console.assert(formatCount(123456) === "123.5k");
 * ```
 */
export function formatCount(n: number): string {
  if (n < 10_000) return String(Math.round(n));
  if (n < 10_000_000) return `${trim(n / 1_000)}k`;
  if (n < 10_000_000_000) return `${trim(n / 1_000_000)}M`;
  return `${trim(n / 1_000_000_000)}G`;
}

function trim(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2).replace(/0$/, "");
}
