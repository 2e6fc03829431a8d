/**
 * The run store (not built yet): one Run document per file.
 * @module
 */

import type { RunDocument } from "./schema.ts";
import { RunError } from "./errors.ts";

/**
 * Keeps a Run document in the store directory, atomically.
 * @returns the path written
 */
export function saveRun(_dir: string, _run: RunDocument): Promise<string> {
  return Promise.reject(new RunError("--store is not built yet"));
}
