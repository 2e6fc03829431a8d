/**
 * Parsing and checking command-line values: durations, sizes, PIDs, output
 * paths. Every failure is a UsageError naming the value and the fix.
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";
import { dirOf, writeTempFile } from "../atomic_write.ts";
import { findUnknownOption, type OptionTable, unknownOptionMessage } from "./suggest.ts";

export { dirOf, writeFileAtomic } from "../atomic_write.ts";

/**
 * Parses a duration: `30s`, `500ms`, `2m`, `1h`, or plain seconds (`1.5`).
 * @param text the value given
 * @param flag the flag's name, for the message
 * @returns milliseconds, > 0
 * @example
 * ```ts
 * import { parseDurationMs } from "./args.ts";
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

/**
 * node:util parseArgs with its errors turned into UsageErrors.
 * @param args the arguments
 * @param options the parseArgs options
 * @returns what parseArgs returns
 */
export function parseFlags<T extends ParseArgsConfig["options"]>(
  args: string[],
  options: T,
  allowPositionals = false,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  // An unknown option: one line naming it and the nearest known one (from this table).
  const unknown = findUnknownOption(args, (options ?? {}) as OptionTable);
  if (unknown) throw new UsageError(unknownOptionMessage(unknown));
  // `--duration -3s`: join a value that starts with '-' and a digit to its flag,
  // so it is checked (and refused) as a value rather than taken for a flag.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const next = args[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : "";
    if (name && options?.[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${a}=${next}`);
      i++;
    } else {
      joined.push(a);
    }
  }
  try {
    const parsed = parseArgs({ args: joined, options, allowPositionals, strict: true });
    return {
      values: parsed.values as Record<string, string | boolean | undefined>,
      positionals: parsed.positionals,
    };
  } catch (e: unknown) {
    const msg = e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e);
    throw new UsageError(`${msg.replace(/\.$/, "")}; see --help`);
  }
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
