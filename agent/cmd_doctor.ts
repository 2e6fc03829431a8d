/**
 * `ioscope doctor` (being written).
 * @module
 */
import type { Command } from "./command.ts";
/** `ioscope doctor`. */
export const doctorCommand: Command = {
  summary: "what this host supports for tracing, and why not",
  help: "ioscope doctor",
  run() {
    return Promise.resolve(0);
  },
};
