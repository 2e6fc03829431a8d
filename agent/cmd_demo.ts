/**
 * `ioscope demo`: with no arguments, traces a built-in workload (a child that
 * reads and writes a file through several I/O paths), runs a small bench, and
 * writes the reports under ./out/demo/.
 * @module
 */

import { parseFlags, writeFileAtomic } from "./args.ts";
import { resolveBackendName } from "./backends.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./errors.ts";
import { plainRunHtml } from "./plain_html.ts";
import { startStoppedCommand } from "./spawn_target.ts";
import { summaryText } from "./summary.ts";
import { startTrace } from "./trace.ts";

const HELP = `ioscope demo: see ioscope work on this host, no arguments needed

Usage: ioscope demo [--out-dir DIR] [--seconds N]

Traces a built-in workload (a child process reading and writing a file with
read, pread64, readv, mmap, sendfile and fdatasync) and writes an HTML report
and the Run document to DIR (default ./out/demo).
Needs root (ioscope doctor tells what else).`;

/** `ioscope demo`. */
export const demoCommand: Command = {
  summary: "trace a built-in workload on this host and write a report",
  help: HELP,
  run: runDemo,
};

async function runDemo(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    "out-dir": { type: "string", default: "out/demo" },
    seconds: { type: "string", default: "3" },
  });
  const outDir = values["out-dir"] as string;
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 600)) {
    throw new UsageError(`invalid --seconds '${values.seconds}': use 1 to 600`);
  }
  if (Deno.uid() !== 0) {
    throw new UsageError("the demo traces, and tracing needs root: run with sudo");
  }
  await Deno.mkdir(outDir, { recursive: true });
  const workDir = await Deno.makeTempDir({ prefix: "ioscope-demo-" });
  const backend = resolveBackendName("auto");
  console.error(`ioscope demo: tracing a built-in workload for ${seconds} s with ${backend}...`);
  const workload = new URL("./demo_workload.ts", import.meta.url).pathname;
  const child = await startStoppedCommand([
    Deno.execPath(),
    "run",
    "-A",
    workload,
    workDir,
    String(seconds),
  ]);
  try {
    const session = await startTrace({
      pids: [child.pid],
      comm: "deno",
      cmdline: `ioscope demo workload (${seconds} s)`,
    }, { backend: "auto" });
    child.resume();
    const run = await session.done;
    console.log(summaryText(run));
    await writeFileAtomic(`${outDir}/trace.json`, JSON.stringify(run, null, 2) + "\n");
    await writeFileAtomic(`${outDir}/trace.html`, plainRunHtml(run));
    console.error(`ioscope demo: wrote ${outDir}/trace.html and ${outDir}/trace.json`);
  } finally {
    await child.reap();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  return 0;
}
