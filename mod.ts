/**
 * ioscope: an I/O observability agent for Linux. `deno run -A mod.ts <command>`
 * is the CLI; the library's pieces are exported below.
 * @module
 */

import { RunError, UsageError } from "./agent/mod.ts";
import {
  benchCommand,
  type Command,
  demoCommand,
  doctorCommand,
  reportCommand,
  scheduleCommand,
  terminalSafe,
  traceCommand,
} from "./agent/cli/mod.ts";

export type * from "./schema/mod.ts";
export { bucketBounds, bucketIndex, percentiles, quantile } from "./schema/mod.ts";
export { RunError, UsageError };
export { startTrace, type TraceSession } from "./agent/trace/mod.ts";
export { type BenchOptions, runBench } from "./agent/bench/mod.ts";
export { type Finding, findings, renderBenchHtml, renderRunHtml } from "./report/mod.ts";
export { loadRuns, renderMetrics, saveRun, startExporter } from "./agent/nightly/mod.ts";

const COMMANDS: Record<string, Command> = {
  trace: traceCommand,
  bench: benchCommand,
  report: reportCommand,
  schedule: scheduleCommand,
  doctor: doctorCommand,
  demo: demoCommand,
};

function mainHelp(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return [
    "ioscope: which I/O paths a process takes, and what they cost",
    "",
    "Usage: ioscope <command> [options]     (ioscope <command> --help for more)",
    "",
    ...lines,
  ].join("\n");
}

/**
 * Runs the CLI with the given arguments.
 * @param args the command line after `mod.ts`
 * @returns the exit status
 */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    console.log(mainHelp());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(
      `ioscope: unknown command '${terminalSafe(name)}'; run 'ioscope --help' for the list`,
    );
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    const dashdash = rest.indexOf("--");
    const helpAt = Math.max(rest.indexOf("--help"), rest.indexOf("-h"));
    if (dashdash === -1 || helpAt < dashdash) {
      console.log(command.help);
      return 0;
    }
  }
  try {
    return await command.run(rest);
  } catch (e: unknown) {
    // One line per line of the message, each safe for a terminal: messages
    // quote paths, file contents and tools' output.
    const say = (text: string) => {
      for (const line of text.split("\n")) console.error(`ioscope ${name}: ${terminalSafe(line)}`);
    };
    if (e instanceof UsageError) {
      say(e.message);
      return 2;
    }
    if (e instanceof RunError) {
      say(e.message);
      return 1;
    }
    say(`unexpected failure: ${e instanceof Error ? e.stack : e}`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
