/**
 * Sizes as a user writes them on the command line (`--size 256MiB`).
 * @module
 */

/**
 * A size in the largest binary unit that keeps it short: `256MiB`, `1.5GiB`, `4097B`.
 * @example
 * ```ts
 * import { sizeText } from "./size_text.ts";
 * console.assert(sizeText(1 << 20) === "1MiB" && sizeText(1536) === "1.5KiB");
 * ```
 */
export function sizeText(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${+v.toFixed(v >= 100 || i === 0 ? 0 : 1)}${units[i]}`;
}
