/**
 * `ioscope bench` (not built yet).
 * @module
 */

import type { Command } from "./command.ts";
import { RunError } from "./errors.ts";

/** `ioscope bench`. */
export const benchCommand: Command = {
  summary: "bench (not built yet)",
  help: "ioscope bench: not built yet",
  run() {
    return Promise.reject(new RunError("ioscope bench is not built yet"));
  },
};
