/**
 * `ioscope report` (not built yet).
 * @module
 */

import type { Command } from "./command.ts";
import { RunError } from "./errors.ts";

/** `ioscope report`. */
export const reportCommand: Command = {
  summary: "report (not built yet)",
  help: "ioscope report: not built yet",
  run() {
    return Promise.reject(new RunError("ioscope report is not built yet"));
  },
};
