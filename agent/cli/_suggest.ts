/**
 * Unknown command-line options: find the first one in a command's arguments
 * and name the nearest option the command does know, from the same option
 * table the parser uses (so a new option is suggested the day it is added).
 * @module
 */

import { terminalSafe } from "./terminal_safe.ts";

/** The part of a parseArgs option table the suggester reads. */
export type OptionTable = Record<string, { type: "string" | "boolean"; short?: string }>;

/** An option the table does not know, and the known one nearest to it. */
export interface UnknownOption {
  /** The option as given, without any `=value` (`--interval`, `-x`). */
  given: string;
  /** The nearest known option (`--duration`), or null when the table is empty. */
  nearest: string | null;
}

/**
 * The edit distance between two strings (insertions, deletions, substitutions
 * and swaps of two neighbours each cost one).
 * @param a one string
 * @param b the other
 * @returns the number of edits
 * @example
 * ```ts
 * import { editDistance } from "./_suggest.ts";
 * console.assert(editDistance("druation", "duration") === 1);
 * ```
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, ((rows[i - 2] as number[])[j - 2] ?? 0) + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] ?? 0;
}

/**
 * The known option nearest to a name: fewest edits, then a shared prefix
 * (`--dur` is `--duration`), then the shorter name.
 * @param name the option's name without dashes (`interval`)
 * @param table the command's option table
 * @returns the nearest option with its dashes, or null for an empty table
 */
export function nearestOption(name: string, table: OptionTable): string | null {
  let best: { option: string; score: number } | null = null;
  for (const [long, spec] of Object.entries(table)) {
    const candidates: [string, string][] = [[long, `--${long}`]];
    if (spec.short) candidates.push([spec.short, `-${spec.short}`]);
    for (const [bare, option] of candidates) {
      // A prefix of a known name is as good as one edit.
      const prefix = bare.startsWith(name) || name.startsWith(bare);
      // Ties go to the fewer real edits (`--json-line`: `--json-lines`, not
      // the prefix `--json`), then to the shorter name.
      const edits = editDistance(name, bare);
      const score = Math.min(edits, prefix ? 1 : Infinity) * 1e6 + edits * 1000 + bare.length;
      if (!best || score < best.score) best = { option, score };
    }
  }
  return best?.option ?? null;
}

/**
 * The first option in `args` that the table does not know (up to a `--`).
 * A string option's value is skipped, so `--comm -x` is not mistaken for `-x`.
 * @param args the command's arguments
 * @param table the command's option table
 * @returns the unknown option and its nearest known one, or null when all are known
 * @example
 * ```ts
 * import { findUnknownOption } from "./_suggest.ts";
 * const u = findUnknownOption(["--durration", "5s"], { duration: { type: "string" } });
 * console.assert(u?.given === "--durration" && u.nearest === "--duration");
 * ```
 */
export function findUnknownOption(args: string[], table: OptionTable): UnknownOption | null {
  const shorts = new Map<string, string>();
  for (const [long, spec] of Object.entries(table)) if (spec.short) shorts.set(spec.short, long);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--") return null;
    if (a === "-" || !a.startsWith("-")) continue;
    const long = a.startsWith("--");
    const name = long ? a.slice(2).split("=")[0] ?? "" : a.slice(1, 2);
    const known = long ? name in table : shorts.has(name);
    if (!known) {
      const given = long ? `--${name}` : `-${name}`;
      return { given, nearest: nearestOption(name, table) };
    }
    const spec = table[long ? name : shorts.get(name) ?? ""];
    const inline = long ? a.includes("=") : a.length > 2;
    if (spec?.type === "string" && !inline) i++;
  }
  return null;
}

/**
 * The one line for an unknown option.
 * @param u the unknown option
 * @returns e.g. `unknown option '--durration'; the nearest is '--duration' (see --help)`
 */
export function unknownOptionMessage(u: UnknownOption): string {
  const given = terminalSafe(u.given);
  return u.nearest === null
    ? `unknown option '${given}': this command takes no options (see --help)`
    : `unknown option '${given}'; the nearest is '${u.nearest}' (see --help)`;
}
