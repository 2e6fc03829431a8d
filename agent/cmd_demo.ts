/**
 * `ioscope demo` (being written).
 * @module
 */
import type { Command } from "./command.ts";
/** `ioscope demo`. */
export const demoCommand: Command = {
  summary: "bench + trace on this host, an HTML report, no arguments",
  help: "ioscope demo",
  run() {
    return Promise.resolve(0);
  },
};
