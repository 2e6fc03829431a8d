// Records tests/testdata/run_demo.json: a real Run document of the demo
// workload (agent/cli/_demo_workload.ts: read, pread64, preadv, pwrite64, mmap,
// munmap, sendfile64, fdatasync for 3 s), traced by `ioscope trace`, with
// `perf` counters (perf stat) and a flame graph (perf record -g, folded here
// like stackcollapse-perf.pl --kernel) of the same process at the same time.
// perf attaches a moment after the trace starts, so it misses the first ~0.1 s.
// Until `trace --perf --flamegraph` is built, this is how the perf parts get in.
// Run as root from the repository root: deno run -A tests/testdata/record_report_run.ts
import type { RunDocument, Unsupported } from "../../schema/mod.ts";
import { spawnCli } from "../_helpers/common.ts";
import { readRun } from "../_helpers/documents.ts";

const root = new URL("../../", import.meta.url).pathname;
const work = await Deno.makeTempDir({ prefix: "ioscope-record-" });
try {
  const cli = spawnCli([
    "trace",
    "--json",
    `${work}/run.json`,
    "--",
    Deno.execPath(),
    "run",
    "-A",
    `${root}agent/cli/_demo_workload.ts`,
    work,
    "3",
  ]);
  await cli.waitForStderr("Tracing pid");
  const pid = /Tracing pid (\d+)/.exec(cli.stderr())?.[1];
  if (!pid) throw new Error(`no pid in: ${cli.stderr()}`);
  const events = [
    "page-faults",
    "minor-faults",
    "major-faults",
    "context-switches",
    "cpu-migrations",
    "dTLB-load-misses",
    "iTLB-load-misses",
  ];
  const stat = new Deno.Command("perf", {
    args: ["stat", "-x", ",", "-e", events.join(","), "-p", pid],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const record = new Deno.Command("perf", {
    args: ["record", "-e", "cpu-clock", "-F", "499", "-g", "-p", pid, "-o", `${work}/perf.data`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const result = await cli.done;
  if (result.code !== 0) throw new Error(`trace failed: ${result.stderr}`);
  const statOut = new TextDecoder().decode((await stat.output()).stderr);
  await record.status;
  const script = await new Deno.Command("perf", {
    args: ["script", "-i", `${work}/perf.data`],
    stdout: "piped",
    stderr: "null",
  }).output();

  const run = readRun(`${work}/run.json`);
  const perf: Record<string, number | null> = {};
  const unsupported: Unsupported[] = [];
  for (const line of statOut.split("\n")) {
    const [value, , event] = line.split(",");
    if (!event || !events.includes(event)) continue;
    if (value === "<not supported>" || value === "<not counted>") {
      perf[event] = null;
      unsupported.push({
        metric: `perf.${event}`,
        reason: `perf: ${value.slice(1, -1)} on this CPU (no hardware PMU exposed)`,
      });
    } else {
      perf[event] = Number(value);
    }
  }
  run.perf = perf;
  run.meta.unsupported = [...run.meta.unsupported, ...unsupported];
  if ("dTLB-load-misses" in perf) run.tlb.dtlb_load_misses = perf["dTLB-load-misses"] ?? null;
  if (perf["dTLB-load-misses"] === null) {
    run.meta.unsupported.push({
      metric: "tlb.dtlb_load_misses",
      reason: "perf: dTLB-load-misses not supported on this CPU (no hardware PMU exposed)",
    });
  }
  const folded = fold(new TextDecoder().decode(script.stdout));
  run.flamegraph = { folded, samples: folded.reduce((t, l) => t + Number(l.split(" ").pop()), 0) };
  Deno.writeTextFileSync(`${root}tests/testdata/run_demo.json`, JSON.stringify(run, null, 2) + "\n");
  console.log(
    `recorded pid ${pid}: ${Object.keys(run.syscalls).length} syscalls, ` +
      `${run.flamegraph.samples} stack samples in ${folded.length} stacks`,
  );
} finally {
  await Deno.remove(work, { recursive: true }).catch(() => {});
}

/** `perf script` text folded into `comm;root;...;leaf count` lines, kernel frames `_[k]`. */
function fold(text: string): string[] {
  const counts = new Map<string, number>();
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split("\n").filter((l) => l.trim() !== "");
    const head = lines.shift();
    if (!head) continue;
    const comm = head.trim().split(/\s+/)[0] ?? "?";
    const frames = lines.map((l) => {
      const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(l);
      if (!m) return "[unknown]";
      const sym = (m[1] ?? "[unknown]").replace(/\+0x[0-9a-f]+$/, "");
      return m[2] === "[kernel.kallsyms]" ? `${sym}_[k]` : sym;
    }).reverse();
    const key = [comm, ...frames].join(";");
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, n]) => `${k} ${n}`);
}
