/**
 * Parsing and checking command-line values: durations, sizes, PIDs, output
 * paths. Every failure is a UsageError naming the value and the fix.
 * @module
 */

import { dirOf, outputKind, UsageError, writeErrorReason, writeTempFile } from "../mod.ts";
import { findUnknownOption, unknownOptionMessage } from "./_suggest.ts";

/** The longest time a flag may give: 7 days (a timer cannot wait 2^31 ms, 24.8 days). */
export const MAX_DURATION_MS = 7 * 24 * 3_600_000;

/**
 * Parses a duration: `30s`, `500ms`, `2m`, `1h`, or plain seconds (`1.5`).
 * @param text the value given
 * @param flag the flag's name, for the message
 * @returns milliseconds, > 0
 * @example
 * ```ts
 * import { parseDurationMs } from "./_args.ts";
 * console.assert(parseDurationMs("2m") === 120000);
 * ```
 */
export function parseDurationMs(text: string, flag = "--duration"): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(
      `invalid ${flag} '${text}': use a positive time like 30s, 500ms, 2m or 1h`,
    );
  }
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000;
  const ms = Number(m[1]) * unit;
  if (!(ms > 0)) throw new UsageError(`invalid ${flag} '${text}': it must be more than zero`);
  // A timer of 2^31 ms or more fires at once: the trace would end as it starts.
  if (ms > MAX_DURATION_MS) {
    throw new UsageError(`invalid ${flag} '${text}': at most 7 days (168h)`);
  }
  return ms;
}

/**
 * Parses a size: `256MiB`, `1M`, `4k`, `4096` (bytes); binary units.
 * @param text the value given
 * @param flag the flag's name, for the message
 * @returns bytes, > 0
 */
export function parseSizeBytes(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid ${flag} '${text}': use a size like 4KiB, 1MiB or 256MiB`);
  const unit = (m[2] ?? "b").toLowerCase()[0] ?? "b";
  const mult = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit] ?? 1;
  const bytes = Math.round(Number(m[1]) * mult);
  if (!(bytes > 0)) throw new UsageError(`invalid ${flag} '${text}': it must be more than zero`);
  return bytes;
}

/**
 * Parses a PID given on the command line.
 * @param text the value given
 * @returns the PID, a positive integer
 */
export function parsePid(text: string): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`invalid --pid '${text}': a PID is a positive whole number`);
  }
  const pid = Number(text);
  if (pid <= 0 || pid > 4_194_304) {
    throw new UsageError(`invalid --pid '${text}': a PID is between 1 and 4194304`);
  }
  return pid;
}

/**
 * Checks that a file can be written at `path` (its directory exists and is
 * writable, and it is not a directory), before any work is done.
 * @param path the output path
 * @param flag the flag's name, for the message
 */
export function checkWritable(path: string, flag: string): void {
  if (path === "") throw new UsageError(`${flag} needs a file path`);
  try {
    if (Deno.statSync(path).isDirectory) {
      throw new UsageError(`cannot write ${flag} ${path}: it is a directory; give a file path`);
    }
  } catch (e: unknown) {
    if (e instanceof UsageError) throw e;
  }
  try {
    // A device or FIFO is written through (its directory need not be writable); else refused.
    if (outputKind(path) === "through") return;
  } catch (e: unknown) {
    throw new UsageError(`cannot write ${flag} ${path}: ${writeErrorReason(e)}`);
  }
  const dir = dirOf(path);
  try {
    // The writer's own way in (O_EXCL|O_NOFOLLOW, a random name): a planted link is never followed.
    Deno.removeSync(writeTempFile(dir, ""));
  } catch (e: unknown) {
    const why = (e as { code?: string } | null)?.code === "ENOENT"
      ? "its directory does not exist"
      : "its directory is not writable";
    throw new UsageError(`cannot write ${flag} ${path}: ${why}`);
  }
}

/** A command's options, as {@linkcode parseFlags} reads them (node:util parseArgs' shape). */
export type FlagTable = Record<
  string,
  { type: "string" | "boolean"; short?: string; default?: string | boolean }
>;

/**
 * Parses a command's arguments the way node:util's `parseArgs` does in strict
 * mode (`--name value`, `--name=value`, `-x value`, `-xvalue`, grouped boolean
 * shorts, `--` ends the options, the last of a repeated option wins, defaults
 * filled in), each mistake a UsageError of one line. Our own because importing
 * node:util starts Deno's Node compatibility layer: 30 ms and more before
 * `ioscope trace` can attach, for a few dozen lines.
 * @param args the arguments
 * @param options the command's option table
 * @param allowPositionals whether arguments that are not options are taken
 * @returns the values by long name, and the positionals
 * @throws {UsageError} on an unknown option, a missing or unexpected value, or a positional
 * @example
 * ```ts
 * import { parseFlags } from "./_args.ts";
 * const { values } = parseFlags(["--pid", "42", "-f"], {
 *   pid: { type: "string" },
 *   follow: { type: "boolean", short: "f", default: false },
 * });
 * console.assert(values.pid === "42" && values.follow === true);
 * ```
 */
export function parseFlags(
  args: string[],
  options: FlagTable,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  // An unknown option: one line naming it and the nearest known one (from this table).
  const unknown = findUnknownOption(args, options);
  if (unknown) throw new UsageError(unknownOptionMessage(unknown));
  const values: Record<string, string | boolean | undefined> = {};
  const positionals: string[] = [];
  const longOf = new Map<string, string>();
  for (const [long, spec] of Object.entries(options)) if (spec.short) longOf.set(spec.short, long);
  const fail = (message: string): never => {
    throw new UsageError(`${message}; see --help`);
  };
  /** Takes one option: `value` given inline (`inline`), or from the next argument. */
  const take = (long: string, rawName: string, inline: string | undefined, at: number): number => {
    const spec = options[long];
    if (!spec) return fail(unknownOptionMessage({ given: rawName, nearest: null }));
    const named = `${spec.short ? `-${spec.short}, ` : ""}--${long}`;
    if (spec.type === "boolean") {
      if (inline !== undefined) fail(`Option '${named}' does not take an argument`);
      values[long] = true;
      return at;
    }
    if (inline !== undefined) {
      values[long] = inline;
      return at;
    }
    const next = args[at + 1];
    if (next === undefined) return fail(`Option '${named} <value>' argument missing`);
    // `--comm --pid`: a value that looks like an option is refused, as parseArgs does.
    if (next.length > 1 && next.startsWith("-")) {
      fail(`Option '${rawName}' argument is ambiguous (give it as ${rawName}=${next})`);
    }
    values[long] = next;
    return at + 1;
  };
  // `--duration -3s`: a value that starts with '-' and a digit goes with its
  // flag, so it is checked (and refused) as a value rather than taken for a flag.
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const long = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const next = args[i + 1];
      if (eq < 0 && options[long]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
        values[long] = next;
        i++;
      } else i = take(long, eq >= 0 ? a.slice(0, eq) : a, eq >= 0 ? a.slice(eq + 1) : undefined, i);
    } else if (a.length > 1 && a.startsWith("-")) {
      const first = longOf.get(a[1] ?? "") ?? "";
      if (options[first]?.type === "string") {
        i = take(first, `-${a[1]}`, a.length > 2 ? a.slice(2) : undefined, i);
      } else {
        // `-ab`: a group of boolean shorts.
        for (const c of a.slice(1)) i = take(longOf.get(c) ?? "", `-${c}`, undefined, i);
      }
    } else {
      if (!allowPositionals) {
        fail(`Unexpected argument '${a}'. This command does not take positional arguments`);
      }
      positionals.push(a);
    }
  }
  for (const [long, spec] of Object.entries(options)) {
    if (values[long] === undefined && spec.default !== undefined) values[long] = spec.default;
  }
  return { values, positionals };
}

/**
 * Parses a threshold: `10%`, `10` (percent) or `0.1%`.
 * @param text the value given
 * @returns the fraction (0.1 for 10%)
 * @throws {UsageError} when it is not a percentage from 0 to 1000
 */
export function parseThreshold(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*%?$/.exec(text.trim());
  const pct = Number(m?.[1]);
  if (!m || !(pct >= 0 && pct <= 1000)) {
    throw new UsageError(`invalid --threshold '${text}': use a percentage like 10% (0% to 1000%)`);
  }
  return pct / 100;
}

/** How many runs of a target a store keeps by default (`--keep`): a nightly job's three months. */
export const DEFAULT_KEEP = 100;
/** The most `--keep` may be: a store stays bounded. */
export const MAX_KEEP = 10_000;

/**
 * Parses `--keep N`: how many runs of a target a store keeps.
 * @param text the value given
 * @returns N, from 1 to {@linkcode MAX_KEEP}
 * @throws {UsageError} for anything else
 */
export function parseKeep(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!(n >= 1 && n <= MAX_KEEP)) {
    throw new UsageError(`invalid --keep '${text}': use a number of runs from 1 to ${MAX_KEEP}`);
  }
  return n;
}
