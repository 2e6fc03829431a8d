/**
 * Traces a Python one-off workload with the CLI: the script runs, is traced
 * for a while with one backend, and is killed; the Run comes back once the CLI
 * ended cleanly (status 0, nothing of the agent left).
 * @module
 */

import { tmpDir } from "./common.ts";
import { traceRun } from "./trace_run.ts";
import type { RunDocument } from "../../schema/mod.ts";

/**
 * Runs `python3 -c source`, lets it start (300 ms), traces it for `duration`
 * with `backend`, kills it.
 * @param source the Python program
 * @param backend the `--backend` value
 * @param duration the `--duration` value
 * @returns the Run document
 */
export async function tracePython(
  source: string,
  backend: string,
  duration: string,
): Promise<RunDocument> {
  await using dir = tmpDir();
  const target = new Deno.Command("python3", { args: ["-c", source] }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const args = ["--pid", String(target.pid), "--backend", backend, "--duration", duration];
    return (await traceRun(args, `${dir.path}/run.json`, { what: backend })).run;
  } finally {
    target.kill("SIGKILL");
    await target.status;
  }
}
