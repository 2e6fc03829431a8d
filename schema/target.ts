/**
 * One target, one id: what the store puts in its file names and the trend
 * summary in `targets[].id`, and the name reports show.
 * @module
 */

import { sha256Hex } from "./sha256.ts";

/**
 * A short, stable id of a target: the first 8 hex digits of SHA-256 over its
 * process name and command line. Runs of one target share it.
 * @param meta the Run's `comm` and `cmdline`
 * @returns 8 lowercase hex digits
 * @example
 * ```ts
 * import { targetId } from "./target.ts";
 * console.assert(targetId({ comm: "fio", cmdline: "fio job.fio" }).length === 8);
 * ```
 */
export function targetId(meta: { comm: string; cmdline: string }): string {
  return sha256Hex(`${meta.comm}\0${meta.cmdline}`).slice(0, 8);
}

/**
 * How a target is named in reports: `comm (cmdline)`, or the comm alone.
 * @param meta the Run's comm and cmdline
 * @returns the name
 * @example
 * ```ts
 * import { targetName } from "./target.ts";
 * console.assert(targetName({ comm: "fio", cmdline: "fio job.fio" }) === "fio (fio job.fio)");
 * ```
 */
export function targetName(meta: { comm: string; cmdline: string }): string {
  const cmd = meta.cmdline.trim();
  return cmd && cmd !== meta.comm ? `${meta.comm} (${cmd})` : meta.comm;
}
