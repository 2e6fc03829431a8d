/**
 * The Prometheus exporter (not built yet).
 * @module
 */

import type { RunDocument } from "./schema.ts";
import { RunError } from "./errors.ts";

/** A running /metrics server. */
export interface Exporter {
  /** Where it listens, `HOST:PORT`. */
  readonly address: string;
  /** Stops serving. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serves `/metrics` for the Run document `current()` returns.
 * @param address `HOST:PORT` or `:PORT` (127.0.0.1 by default)
 */
export function startExporter(_address: string, _current: () => RunDocument): Promise<Exporter> {
  return Promise.reject(new RunError("--prom is not built yet"));
}
