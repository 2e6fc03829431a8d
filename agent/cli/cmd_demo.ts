/**
 * `ioscope demo`: with no arguments, traces a built-in workload (a child that
 * reads and writes a file through several I/O paths), runs a small bench, and
 * writes the reports under ./out/demo/.
 * @module
 */

import { parseFlags, parseSizeBytes } from "./_args.ts";
import { UsageError, writeFileAtomic } from "../mod.ts";
import { runBench } from "../bench/mod.ts";
import { benchTable } from "./_bench_table.ts";
import { resolveBackend } from "../trace/backends/mod.ts";
import type { Command } from "./command.ts";
import { PRIVATE_FILE_MODE } from "../nightly/mod.ts";
import { startStoppedCommand, startTrace } from "../trace/mod.ts";
import { summaryText } from "./_summary.ts";
import { loadChartJs, renderBenchHtml, renderRunHtml } from "../../report/mod.ts";

const HELP = `ioscope demo: see ioscope work on this host, no arguments needed

Usage: ioscope demo [--out-dir DIR] [--seconds N] [--bench-size SIZE] [--no-bench]

1. Traces a built-in workload (a child process reading and writing a file
   with read, pread64, readv, mmap, sendfile and fdatasync) for N seconds
   (default 3) and writes trace.html and trace.json.
2. Runs a small bench: every scan path, then every serve path, over a file of
   SIZE (default 64MiB), each traced, and writes bench-scan.{html,json} and
   bench-serve.{html,json}. --no-bench leaves it out.
Everything goes to DIR (default ./out/demo). Needs root (ioscope doctor tells
what else).`;

/** `ioscope demo`. */
export const demoCommand: Command = {
  summary: "trace a built-in workload and run a small bench on this host, with reports",
  help: HELP,
  run: runDemo,
};

async function runDemo(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    "out-dir": { type: "string", default: "out/demo" },
    seconds: { type: "string", default: "3" },
    "bench-size": { type: "string", default: "64MiB" },
    "no-bench": { type: "boolean", default: false },
  });
  const outDir = values["out-dir"] as string;
  const seconds = Number(values.seconds);
  if (!(seconds > 0 && seconds <= 600)) {
    throw new UsageError(`invalid --seconds '${values.seconds}': use 1 to 600`);
  }
  const benchBytes = parseSizeBytes(values["bench-size"] as string, "--bench-size");
  if (benchBytes < 1 << 20 || benchBytes > 64 * 2 ** 30) {
    throw new UsageError(`invalid --bench-size '${values["bench-size"]}': use 1MiB to 64GiB`);
  }
  if (Deno.uid() !== 0) {
    throw new UsageError("the demo traces, and tracing needs root: run with sudo");
  }
  await Deno.mkdir(outDir, { recursive: true });
  await traceWorkload(outDir, seconds);
  await loadChartJs();
  if (values["no-bench"] !== true) {
    for (const scenario of ["scan", "serve"] as const) {
      console.error(`ioscope demo: bench ${scenario}, every path over ${values["bench-size"]}...`);
      const doc = await runBench({ scenario, sizeBytes: benchBytes });
      console.log(benchTable(doc));
      const base = `${outDir}/bench-${scenario}`;
      await writeFileAtomic(`${base}.json`, JSON.stringify(doc, null, 2) + "\n");
      await writeFileAtomic(`${base}.html`, renderBenchHtml(doc));
      console.error(`ioscope demo: wrote ${base}.html and ${base}.json`);
    }
  }
  return 0;
}

/** Traces the built-in workload from its first syscall to its exit. */
async function traceWorkload(outDir: string, seconds: number): Promise<void> {
  const workDir = await Deno.makeTempDir({ prefix: "ioscope-demo-" });
  const backend = resolveBackend("auto");
  console.error(
    `ioscope demo: tracing a built-in workload for ${seconds} s with ${backend.name}...`,
  );
  const workload = new URL("./_demo_workload.ts", import.meta.url).pathname;
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
    }, { backend });
    child.resume();
    const run = await session.done;
    console.log(summaryText(run));
    // A Run holds descriptor targets and command lines: owner-only, as trace's.
    const mode = PRIVATE_FILE_MODE;
    await writeFileAtomic(`${outDir}/trace.json`, JSON.stringify(run, null, 2) + "\n", { mode });
    await writeFileAtomic(`${outDir}/trace.html`, renderRunHtml(run), { mode });
    console.error(`ioscope demo: wrote ${outDir}/trace.html and ${outDir}/trace.json`);
  } finally {
    await child.reap();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}
