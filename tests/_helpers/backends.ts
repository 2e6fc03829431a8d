/**
 * The tracing backends a test runs against: every name `--backend` accepts
 * except `auto`, so a backend added later is covered by the same tests.
 * @module
 */

import { BACKEND_NAMES } from "../../agent/trace/backends/resolve.ts";
import { spawnCli } from "./common.ts";

/** Every concrete backend (`bpftrace`, `ftrace`, and `bpf` once it exists). */
export const TRACE_BACKENDS: readonly string[] = BACKEND_NAMES.filter((n) => n !== "auto");

/**
 * Starts `ioscope trace --pid PID --backend NAME --json JSON` with some
 * environment variables set for it alone (IOSCOPE_BPF_ATTACH and the like).
 * @param pid the target
 * @param backend the backend's name
 * @param json where the Run goes
 * @param env variables for the agent
 * @returns the running CLI
 */
export function traceJson(
  pid: number,
  backend: string,
  json: string,
  env: Record<string, string> = {},
): ReturnType<typeof spawnCli> {
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  try {
    return spawnCli(["trace", "--pid", String(pid), "--backend", backend, "--json", json]);
  } finally {
    for (const k of Object.keys(env)) Deno.env.delete(k);
  }
}
