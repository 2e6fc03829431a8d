/**
 * Picks and starts a backend by name.
 * @module
 */

import type { BackendOptions, TraceBackend } from "./trace_backend.ts";
import { findBpftrace, startBpftrace, sweepStaleBpftrace } from "./bpftrace.ts";
import { startFtrace, sweepStaleInstances } from "./ftrace.ts";
import { UsageError } from "../../errors.ts";

/** The backends `--backend` accepts. */
export const BACKEND_NAMES = ["auto", "bpftrace", "ftrace"] as const;
/** A `--backend` value. */
export type BackendName = typeof BACKEND_NAMES[number];

/** Checks a `--backend` value. */
export function parseBackendName(value: string): BackendName {
  if ((BACKEND_NAMES as readonly string[]).includes(value)) return value as BackendName;
  throw new UsageError(`unknown backend '${value}': use one of ${BACKEND_NAMES.join(", ")}`);
}

/** What `auto` resolves to on this host. */
export function resolveBackendName(name: BackendName): "bpftrace" | "ftrace" {
  if (name !== "auto") return name;
  return findBpftrace() ? "bpftrace" : "ftrace";
}

/** Cleans what a killed earlier run may have left, then starts the backend. */
export async function openBackend(
  name: BackendName,
  options: BackendOptions,
): Promise<TraceBackend> {
  sweepStaleBpftrace();
  const resolved = resolveBackendName(name);
  if (resolved === "bpftrace") {
    if (!findBpftrace()) {
      throw new UsageError(
        "bpftrace is not installed: apt-get install bpftrace, or use --backend ftrace",
      );
    }
    return startBpftrace(options);
  }
  sweepStaleInstances();
  return await startFtrace(options);
}
