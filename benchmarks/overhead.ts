/**
 * What tracing costs nginx (benchmarks/nginx.ts) under wrk: for each tracer,
 * untraced and traced runs alternate (A B A B ... A), and each traced run's
 * requests/s is compared with the mean of the untraced runs around it; the
 * nginx worker's CPU per request is kept too. `deno task bench` runs every
 * tracer; run alone, this measures a few:
 *
 *   deno run -A benchmarks/overhead.ts [--tracers bpf,floor,bpftrace] [--rounds 4] [--seconds 3]
 *
 * A tracer `bpf@DIR` runs ioscope from the checkout in DIR: two versions in one run.
 * @module
 */

import { parseArgs } from "node:util";
import { startNginx, workerCpuSeconds, wrkRequestsPerSecond } from "./nginx.ts";
import {
  bpfFloor,
  bpftraceFloor,
  bpftraceOneLiner,
  ioscope,
  perfTrace,
  straceC,
  type Tracer,
} from "./tracers.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function log(msg: string): void {
  console.error(`bench: ${msg}`);
}

/** One tracer's rows: requests/s and nginx CPU per request, untraced and traced. */
export interface OverheadRow {
  tracer: string;
  command: string;
  untraced: number[];
  traced: number[];
  ratio: number | null;
  /** nginx worker CPU (user + system) per request, microseconds, per run. */
  untracedCpuUs: number[];
  tracedCpuUs: number[];
  note: string;
}

/** wrk's requests/s, and the nginx worker's CPU microseconds per request meanwhile. */
async function measured(
  url: string,
  pid: number,
  seconds: number,
): Promise<{ rate: number; cpuUs: number }> {
  const before = workerCpuSeconds(pid);
  const rate = await wrkRequestsPerSecond(url, seconds);
  return { rate, cpuUs: (workerCpuSeconds(pid) - before) / (rate * seconds) * 1e6 };
}

/**
 * Each tracer against nginx, untraced and traced runs alternating.
 * @param tracers the tracers, measured one after the other
 * @param options rounds (traced runs per tracer) and seconds per run
 * @returns one row per tracer
 */
export async function overhead(
  tracers: readonly Tracer[],
  options: { rounds: number; seconds: number },
): Promise<OverheadRow[]> {
  const { rounds, seconds } = options;
  const dir = Deno.makeTempDirSync({ prefix: "ioscope-bench-nginx-" });
  const rows: OverheadRow[] = [];
  try {
    await using nginx = await startNginx(dir);
    log(`nginx worker ${nginx.workerPid} on ${nginx.url}`);
    await wrkRequestsPerSecond(nginx.url, 1); // warm up
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
        untracedCpuUs: [],
        tracedCpuUs: [],
        note: "",
      };
      const untraced = async () => {
        const m = await measured(nginx.url, nginx.workerPid, seconds);
        row.untraced.push(m.rate);
        row.untracedCpuUs.push(m.cpuUs);
      };
      try {
        // A B A B ...: drift of the machine cancels out of the ratio.
        for (let r = 0; r < rounds; r++) {
          await untraced();
          const running = await tracer.start(nginx.workerPid);
          try {
            const m = await measured(nginx.url, nginx.workerPid, seconds);
            row.traced.push(m.rate);
            row.tracedCpuUs.push(m.cpuUs);
          } finally {
            await running.stop();
          }
        }
        await untraced();
        // Each traced round against the untraced runs just before and after it;
        // the median of those ratios (a busy host's noise hits single rounds).
        row.ratio = median(roundRatios(row));
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

/** The tracers by their short names on the command line. */
const BY_NAME: Record<string, Tracer> = {
  bpf: ioscope("bpf"),
  bpftrace: ioscope("bpftrace"),
  ftrace: ioscope("ftrace"),
  floor: bpfFloor,
  "bpftrace-floor": bpftraceFloor,
  "one-liner": bpftraceOneLiner,
  perf: perfTrace,
  strace: straceC,
};

/**
 * Each traced round's requests/s over the mean of the untraced runs just
 * before and after it, in the order run.
 * @param row a tracer's row
 * @returns one ratio per traced round
 */
export function roundRatios(row: OverheadRow): number[] {
  return row.traced.map((t, i) => t / (((row.untraced[i] ?? 0) + (row.untraced[i + 1] ?? 0)) / 2));
}

/**
 * The median of some numbers.
 * @param xs the numbers
 * @returns the median, or null for none
 */
export function median(xs: number[]): number | null {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] ?? null : null;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      tracers: { type: "string", default: "bpf,floor,bpftrace" },
      rounds: { type: "string", default: "4" },
      seconds: { type: "string", default: "3" },
    },
  });
  const tracers = values.tracers.split(",").map((n) => {
    // BACKEND@DIR: ioscope from another checkout, e.g. bpf@/tmp/main/ (compare versions).
    const [backend = "", dir] = n.split("@");
    if (dir && ["bpf", "bpftrace", "ftrace"].includes(backend)) {
      return ioscope(backend as "bpf", dir.endsWith("/") ? dir : `${dir}/`);
    }
    const t = BY_NAME[n];
    if (!t) {
      console.error(`Unknown tracer ${n}: one of ${Object.keys(BY_NAME).join(", ")}`);
      Deno.exit(2);
    }
    return t;
  });
  const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`${new Date().toISOString()} load ${load()}`);
  const rows = await overhead(tracers, {
    rounds: Number(values.rounds),
    seconds: Number(values.seconds),
  });
  for (const r of rows) {
    const ratios = roundRatios(r).map((x) => x.toFixed(2));
    const cpu = (median(r.untracedCpuUs) ?? 0) / (median(r.tracedCpuUs) ?? 1);
    console.log(
      `${r.tracer}: ratio ${r.ratio?.toFixed(3) ?? r.note} (rounds ${ratios.join(" ")}), ` +
        `CPU/request ${median(r.untracedCpuUs)?.toFixed(1)} -> ${
          median(r.tracedCpuUs)?.toFixed(1)
        } us, CPU ratio ${cpu.toFixed(3)}`,
    );
  }
  console.log(`${new Date().toISOString()} load ${load()}`);
}
