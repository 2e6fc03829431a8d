/**
 * `ioscope bench`: every I/O path on this host, each in a traced worker
 * process, side by side.
 * @module
 */

import { checkWritable, parseFlags, parseSizeBytes } from "./_args.ts";
import { RunError, UsageError, writeFileAtomic } from "../mod.ts";
import { type Output, writeEach } from "./_outputs.ts";
import { parseBackendName } from "../trace/backends/mod.ts";
import {
  type BenchOptions,
  PATH_SUMMARY,
  runBench,
  type Scenario,
  SCENARIO_PATHS,
} from "../bench/mod.ts";
import type { BenchDocument } from "../../schema/mod.ts";
import { loadChartJs, renderBenchHtml } from "../../report/mod.ts";
import { benchTable } from "./_bench_table.ts";
import type { Command } from "./command.ts";

const pathHelp = (s: Scenario) =>
  SCENARIO_PATHS[s].map((p) => `    ${p.padEnd(16)}${PATH_SUMMARY[s][p]}`).join("\n");

const HELP = `ioscope bench: what each I/O path costs on this host

Usage: ioscope bench [options]

Runs each path in its own worker process (through Deno FFI: libc and raw
io_uring), traces the worker with the same probes as 'ioscope trace', checks
the bytes moved against the file's checksum, and compares the paths.

Scenarios and their paths:
  scan    file -> memory, the whole file, as fio's engines do
${pathHelp("scan")}
  serve   file -> a TCP socket on 127.0.0.1, read by a sink process
${pathHelp("serve")}

Options:
  --scenario NAME    scan (default) or serve
  --paths A,B,...    the paths to run (default: all of the scenario)
  --size SIZE        size of the file bench writes and removes (default 256MiB)
  --file PATH        use this existing file instead (only read)
  --dir DIR          where to write the file (default: the temporary directory)
  --block SIZE       bytes per call (default 1MiB)
  --queue-depth N    io_uring requests in flight (default 8)
  --backend NAME     auto (default), bpftrace, ftrace, or none (untraced)
  --fio              scan: run fio's matching engine on the same file after
                     each path (psync, pvsync, mmap, io_uring) and compare
  --repeat N         run each path N times (and fio after each run); report
                     the median run and list all (default 1)
  --json FILE        write the Bench document (schema ioscope.bench/1)
  --out FILE.html    write an HTML report
  -h, --help         this help

Needs root to trace (or --backend none).
Example:
  ioscope bench --scenario serve --size 1GiB --out serve.html`;

/** `ioscope bench`. */
export const benchCommand: Command = {
  summary: "run every I/O path (read, readv, mmap, sendfile, splice, io_uring) here",
  help: HELP,
  run: runBenchCommand,
};

/** Parses and checks the arguments; throws UsageError before anything starts. */
export function parseBenchArgs(
  args: string[],
): BenchOptions & { json?: string; out?: string } {
  const { values } = parseFlags(args, {
    scenario: { type: "string", default: "scan" },
    paths: { type: "string" },
    size: { type: "string" },
    file: { type: "string" },
    dir: { type: "string" },
    block: { type: "string", default: "1MiB" },
    "queue-depth": { type: "string", default: "8" },
    backend: { type: "string", default: "auto" },
    fio: { type: "boolean", default: false },
    repeat: { type: "string", default: "1" },
    json: { type: "string" },
    out: { type: "string" },
  });
  const scenario = values.scenario as string;
  if (scenario !== "scan" && scenario !== "serve") {
    throw new UsageError(`unknown --scenario '${scenario}': use scan or serve`);
  }
  const o: BenchOptions & { json?: string; out?: string } = { scenario };
  if (values.paths !== undefined) {
    o.paths = (values.paths as string).split(",").map((p) => p.trim()).filter((p) => p !== "");
    for (const p of o.paths) {
      if (!SCENARIO_PATHS[scenario].includes(p)) {
        throw new UsageError(
          `unknown ${scenario} path '${p}' in --paths: use ${SCENARIO_PATHS[scenario].join(",")}`,
        );
      }
    }
    if (o.paths.length === 0) throw new UsageError("--paths names no path");
  }
  if (values.size !== undefined && values.file !== undefined) {
    throw new UsageError("give --size or --file, not both");
  }
  if (values.size !== undefined) o.sizeBytes = parseSizeBytes(values.size as string, "--size");
  if (values.file !== undefined) {
    const file = values.file as string;
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(file);
    } catch {
      throw new UsageError(`cannot use --file ${file}: no such file`);
    }
    if (!st.isFile) throw new UsageError(`cannot use --file ${file}: not a regular file`);
    if (st.size === 0) throw new UsageError(`cannot use --file ${file}: it is empty`);
    o.file = file;
  }
  if (values.dir !== undefined) {
    const dir = values.dir as string;
    let isDir = false;
    try {
      isDir = Deno.statSync(dir).isDirectory;
    } catch {
      // reported below
    }
    if (!isDir) throw new UsageError(`cannot use --dir ${dir}: not a directory`);
    o.dir = dir;
  }
  o.blockBytes = parseSizeBytes(values.block as string, "--block");
  if (o.blockBytes < 512 || o.blockBytes > 256 * 2 ** 20) {
    throw new UsageError(`invalid --block '${values.block}': use 512 bytes to 256MiB`);
  }
  const qd = values["queue-depth"] as string;
  if (!/^\d+$/.test(qd) || Number(qd) < 1 || Number(qd) > 1024) {
    throw new UsageError(`invalid --queue-depth '${qd}': use a whole number from 1 to 1024`);
  }
  o.queueDepth = Number(qd);
  const repeat = values.repeat as string;
  if (!/^\d+$/.test(repeat) || Number(repeat) < 1 || Number(repeat) > 100) {
    throw new UsageError(`invalid --repeat '${repeat}': use a whole number from 1 to 100`);
  }
  o.repeat = Number(repeat);
  const backend = values.backend as string;
  o.backend = backend === "none" ? "none" : parseBackendName(backend);
  o.fio = values.fio === true;
  if (o.fio && scenario !== "scan") {
    throw new UsageError("--fio compares the scan paths only: add --scenario scan");
  }
  if (values.json !== undefined) {
    checkWritable(values.json as string, "--json");
    o.json = values.json as string;
  }
  if (values.out !== undefined) {
    checkWritable(values.out as string, "--out");
    o.out = values.out as string;
  }
  return o;
}

const END_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

async function runBenchCommand(args: string[]): Promise<number> {
  const { json, out, ...options } = parseBenchArgs(args);
  const abort = new AbortController();
  const onSignal = () => abort.abort(new RunError("interrupted; nothing was written"));
  for (const s of END_SIGNALS) Deno.addSignalListener(s, onSignal);
  let doc: BenchDocument;
  try {
    doc = await runBench({
      ...options,
      signal: abort.signal,
      onProgress: (line) => console.error(line),
    });
  } finally {
    for (const s of END_SIGNALS) Deno.removeSignalListener(s, onSignal);
  }
  console.log(benchTable(doc));
  // Each on its own: a failing one (a full disk) costs only itself.
  const outputs: Output[] = [];
  if (json !== undefined) {
    outputs.push({
      what: `--json ${json}`,
      write: async () => {
        await writeFileAtomic(json, JSON.stringify(doc, null, 2) + "\n");
        return `Wrote ${json}`;
      },
    });
  }
  if (out !== undefined) {
    outputs.push({
      what: `--out ${out}`,
      write: async () => {
        await writeFileAtomic(out, await benchHtml(doc));
        return `Wrote ${out}`;
      },
    });
  }
  await writeEach(outputs);
  return 0;
}

/**
 * The Bench document as an HTML page: the report's renderer.
 * @param doc the Bench document
 * @returns the page
 */
export async function benchHtml(doc: BenchDocument): Promise<string> {
  await loadChartJs();
  return renderBenchHtml(doc);
}
