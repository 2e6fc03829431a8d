/**
 * `ioscope schedule` (not built yet).
 * @module
 */

import type { Command } from "./command.ts";
import { RunError } from "./errors.ts";

/** `ioscope schedule`. */
export const scheduleCommand: Command = {
  summary: "schedule (not built yet)",
  help: "ioscope schedule: not built yet",
  run() {
    return Promise.reject(new RunError("ioscope schedule is not built yet"));
  },
};
