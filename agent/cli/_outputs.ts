/**
 * Writing a command's outputs each on its own: one that fails (a full disk,
 * a read-only one, no permission) costs only itself; the others are written,
 * and the command then fails with exit status 1 and one line per failure,
 * naming the output and the reason.
 * @module
 */

import { RunError, writeErrorReason } from "../mod.ts";
import { terminalSafe } from "./terminal_safe.ts";

/** One output: what it is (`--json run.json`) and how to write it. */
export interface Output {
  /** The output as the user named it, for the failure line: `--json /tmp/run.json`. */
  what: string;
  /** Writes it; resolves with the line to print (`Wrote /tmp/run.json`), or null. */
  write: () => Promise<string | null>;
}

/**
 * Writes every output in turn, each on its own.
 * @param outputs the outputs, in the order given on the command line
 * @param earlier failure lines from outputs written before (added first)
 * @throws {RunError} with one line per failure (`could not write WHAT: REASON`)
 * @example
 * ```ts ignore
 * await writeEach([{ what: `--json ${path}`, write: async () => { ...; return `Wrote ${path}`; } }]);
 * ```
 */
export async function writeEach(outputs: Output[], earlier: string[] = []): Promise<void> {
  const failures = [...earlier];
  for (const o of outputs) {
    try {
      const line = await o.write();
      if (line !== null) console.error(terminalSafe(line));
    } catch (e: unknown) {
      failures.push(`could not write ${o.what}: ${writeErrorReason(e)}`);
    }
  }
  if (failures.length > 0) throw new RunError(failures.join("\n"));
}
