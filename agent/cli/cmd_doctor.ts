/**
 * `ioscope doctor`: what this host supports, and why not.
 * @module
 */

import { parseFlags } from "./_args.ts";
import type { Command } from "./command.ts";
import { doctorChecks, doctorText } from "../trace/mod.ts";

const HELP = `ioscope doctor: what this host supports for tracing, and why not

Usage: ioscope doctor [--json]

One line per facility: yes/no, what was found, and (with --json) what needs it.
Changes nothing on the host.`;

/** `ioscope doctor`. */
export const doctorCommand: Command = {
  summary: "what this host supports for tracing, and why not",
  help: HELP,
  run(args) {
    const { values } = parseFlags(args, { json: { type: "boolean", default: false } });
    const checks = doctorChecks();
    console.log(values.json ? JSON.stringify(checks, null, 2) : doctorText(checks));
    return Promise.resolve(0);
  },
};
