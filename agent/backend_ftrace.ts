/**
 * The ftrace backend (not built yet).
 * @module
 */

import type { BackendOptions, TraceBackend } from "./backend.ts";
import { RunError } from "./errors.ts";

/** Removes tracefs instances left by a killed run. */
export function sweepStaleInstances(): string[] {
  return [];
}

/** Starts the ftrace backend. */
export function startFtrace(_options: BackendOptions): TraceBackend {
  throw new RunError("the ftrace backend is not built yet: use --backend bpftrace");
}
