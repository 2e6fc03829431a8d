/**
 * `deno task bench`: what tracing costs the traced process, what the agent
 * costs, how fast it attaches and renders, measured on the host at hand, and
 * written to BENCHMARKS.md (`--out FILE` to write elsewhere, `--rounds N`).
 * Needs root, nginx-light, wrk, bpftrace, perf, strace, fio.
 * @module
 */

import { parseArgs } from "node:util";
import { startNginx, wrkRequestsPerSecond } from "./nginx.ts";
import {
  bpftraceFloor,
  bpftraceOneLiner,
  ioscope,
  perfTrace,
  straceC,
  type Tracer,
} from "./tracers.ts";
import { measureFootprint, measureTimeToFirstData } from "./agent_cost.ts";
import { measureReports } from "./report_cost.ts";
import { measurePaths } from "./paths_cost.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string", default: "BENCHMARKS.md" },
    rounds: { type: "string", default: "3" },
    seconds: { type: "string", default: "3" },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const ROOT = new URL("../", import.meta.url).pathname;

function log(msg: string): void {
  console.error(`bench: ${msg}`);
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
}

interface OverheadRow {
  tracer: string;
  command: string;
  untraced: number[];
  traced: number[];
  ratio: number | null;
  note: string;
}

async function overhead(): Promise<OverheadRow[]> {
  const dir = Deno.makeTempDirSync({ prefix: "ioscope-bench-nginx-" });
  const rows: OverheadRow[] = [];
  try {
    await using nginx = await startNginx(dir);
    log(`nginx worker ${nginx.workerPid} on ${nginx.url}`);
    await wrkRequestsPerSecond(nginx.url, 1); // warm up
    const tracers: Tracer[] = [
      ioscope("bpftrace"),
      ioscope("ftrace"),
      bpftraceOneLiner,
      bpftraceFloor,
      perfTrace,
      straceC,
    ];
    for (const tracer of tracers) {
      const row: OverheadRow = {
        tracer: tracer.name,
        command: tracer.command(nginx.workerPid).join(" ").replace(Deno.execPath(), "deno").replace(
          ROOT,
          "",
        ),
        untraced: [],
        traced: [],
        ratio: null,
        note: "",
      };
      try {
        // A B A B ...: drift of the machine cancels out of the ratio.
        for (let r = 0; r < rounds; r++) {
          row.untraced.push(await wrkRequestsPerSecond(nginx.url, seconds));
          const running = await tracer.start(nginx.workerPid);
          try {
            row.traced.push(await wrkRequestsPerSecond(nginx.url, seconds));
          } finally {
            await running.stop();
          }
        }
        row.untraced.push(await wrkRequestsPerSecond(nginx.url, seconds));
        row.ratio = mean(row.traced) / mean(row.untraced);
      } catch (e: unknown) {
        row.note = `not measured: ${e instanceof Error ? e.message.split("\n")[0] : e}`;
      }
      log(`${tracer.name}: ${row.ratio?.toFixed(3) ?? row.note}`);
      rows.push(row);
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return rows;
}

const started = new Date();
const host = {
  date: started.toISOString().slice(0, 10),
  kernel: Deno.osRelease(),
  cpus: navigator.hardwareConcurrency,
  memGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
};
log(`kernel ${host.kernel}, ${host.cpus} CPUs, ${host.memGiB} GiB`);
const overheadRows = await overhead();
const footprint = await measureFootprint();
const firstData = await measureTimeToFirstData();
const reports = await measureReports();
const paths = await measurePaths({ sizeBytes: 512 * 2 ** 20, repeat: 3 });

const fmt = (x: number | null, d = 3) => x === null ? "n/a" : x.toFixed(d);
const lines: string[] = [
  "# ioscope benchmarks",
  "",
  `Measured by \`deno task bench\` (bench/run.ts) on ${host.date}: kernel ${host.kernel}, ` +
  `${host.cpus} CPUs, ${host.memGiB} GiB, a VM. Regenerate with \`deno task bench\` as root.`,
  "",
  "## Overhead on the traced process",
  "",
  `nginx (nginx-light, one worker, \`sendfile on\`, a 4 KiB file) under \`wrk -t1 -c16 -d${seconds}s\` on`,
  `loopback; untraced and traced runs alternate (A B A B ... A, ${rounds} traced rounds), and the`,
  "ratio is mean traced requests/s over mean untraced requests/s. Goal for ioscope's bpftrace",
  "backend: >= 0.97.",
  "",
  "| tracer | untraced req/s | traced req/s | ratio | command |",
  "| --- | --- | --- | --- | --- |",
  ...overheadRows.map((r) =>
    `| ${r.tracer} | ${fmt(mean(r.untraced), 0)} | ${
      r.traced.length ? fmt(mean(r.traced), 0) : "n/a"
    } | ${r.ratio === null ? r.note : fmt(r.ratio)} | \`${r.command.slice(0, 120)}\` |`
  ),
  "",
  "## The agent's own footprint",
  "",
  footprint.description,
  "",
  "| what | value | goal |",
  "| --- | --- | --- |",
  `| CPU, agent + bpftrace, steady state | ${fmt(footprint.steadyCpuPct, 2)}% of one core | < 5% |`,
  `| CPU, agent + bpftrace, whole run incl. start | ${
    fmt(footprint.totalCpuPct, 2)
  }% of one core | |`,
  `| peak RSS, agent + bpftrace | ${fmt(footprint.peakRssMiB, 1)} MiB | < 100 MiB |`,
  `| of which anonymous (RssAnon: not the mapped deno binary, LLVM and clang) | ${
    fmt(footprint.peakAnonMiB, 1)
  } MiB | |`,
  `| target's syscalls/s while traced | ${fmt(footprint.syscallsPerSecond, 0)} | ~50 000 |`,
  "",
  "## Time to first data",
  "",
  firstData.description,
  "",
  `| median | min | max | goal |`,
  `| --- | --- | --- | --- |`,
  `| ${fmt(firstData.medianS, 2)} s | ${fmt(firstData.minS, 2)} s | ${
    fmt(firstData.maxS, 2)
  } s | < 2 s |`,
  "",
  "## Report generation",
  "",
  ...reports,
  "",
  "## Bench paths against fio, and what zero-copy saves",
  "",
  ...paths.lines,
  "",
];
Deno.writeTextFileSync(values.out as string, lines.join("\n"));
log(`wrote ${values.out}`);
