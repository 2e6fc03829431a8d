/**
 * The tracing backends a test runs against: every name `--backend` accepts
 * except `auto`, so a backend added later is covered by the same tests.
 * @module
 */

import { BACKEND_NAMES } from "../../agent/trace/backends/resolve.ts";

/** Every concrete backend (`bpftrace`, `ftrace`, and `bpf` once it exists). */
export const TRACE_BACKENDS: readonly string[] = BACKEND_NAMES.filter((n) => n !== "auto");
