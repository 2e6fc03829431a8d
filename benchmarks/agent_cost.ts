/**
 * What the agent itself costs: CPU and memory while tracing a busy process,
 * and the time from `ioscope trace` to probes attached.
 * @module
 */

const ROOT = new URL("../", import.meta.url).pathname;
const TICKS = 100; // USER_HZ on Linux

/**
 * A process and every process below it (children, theirs...), by parent PID.
 * @param root the PID at the top
 * @returns `root` first, then its descendants
 */
export function procTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e.name)]);
    } catch {
      // gone
    }
  }
  const all: number[] = [];
  const walk = (p: number) => {
    all.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(root);
  return all;
}

/**
 * The CPU time (user + system, /proc/PID/stat) and resident memory of these
 * processes together; a process gone meanwhile counts nothing.
 * @param pids the processes
 * @returns seconds of CPU, MiB resident, MiB of it anonymous
 */
export function cpuAndRss(pids: number[]): { cpuS: number; rssMiB: number; anonMiB: number } {
  let cpuS = 0;
  let rssMiB = 0;
  let anonMiB = 0;
  for (const p of pids) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuS += (Number(f[11]) + Number(f[12])) / TICKS;
      const status = Deno.readTextFileSync(`/proc/${p}/status`);
      rssMiB += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
      // What the processes allocated, without the mapped binaries and libraries.
      anonMiB += Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    } catch {
      // gone
    }
  }
  return { cpuS, rssMiB, anonMiB };
}

/**
 * fio's arguments for the load the agent is measured under: psync 4 KiB
 * random reads of a page-cached file at a fixed rate.
 * @param file a 16 MiB file
 * @param seconds how long fio runs
 * @param rate reads a second
 */
export function fioPsyncArgs(file: string, seconds: number, rate: number): string[] {
  return [
    "--name=psync",
    `--filename=${file}`,
    "--size=16M",
    "--rw=randread",
    "--bs=4k",
    "--ioengine=psync",
    "--invalidate=0",
    "--thread",
    "--time_based",
    `--runtime=${seconds}`,
    `--rate_iops=${rate}`,
  ];
}

/** How long the footprint's trace runs, from its attach. */
const TRACE_S = 20;
/**
 * The steady window, seconds after the agent's spawn: past the first
 * seconds' compiling of the once-a-second code (a window from 2 s read
 * 0.95-1.08% where one from 3 s read 0.58-0.92%, 2026-12-02), and ending
 * before the trace's teardown (the final read and the Run document).
 */
const STEADY_FROM_S = 5;
const STEADY_END_S = TRACE_S - 0.5;

/** The agent's CPU and peak RSS while tracing ~50k syscalls/s for TRACE_S with a backend. */
export async function measureFootprint(backend: "bpf" | "bpftrace" | "ftrace"): Promise<{
  description: string;
  steadyCpuPct: number | null;
  totalCpuPct: number | null;
  peakRssMiB: number | null;
  peakAnonMiB: number | null;
  syscallsPerSecond: number | null;
}> {
  const dir = Deno.makeTempDirSync({ prefix: "ioscope-bench-fp-" });
  const rate = 50_000;
  try {
    Deno.writeFileSync(`${dir}/f`, new Uint8Array(16 << 20));
    const fio = new Deno.Command("fio", {
      args: fioPsyncArgs(`${dir}/f`, TRACE_S + 20, rate),
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = performance.now();
    const agent = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}mod.ts`,
        "trace",
        "--pid",
        String(fio.pid),
        "--duration",
        `${TRACE_S}s`,
        "--backend",
        backend,
        "--json",
        `${dir}/r.json`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    let peak = 0;
    let peakAnon = 0;
    let atFrom: { cpuS: number; t: number } | null = null;
    let last = { cpuS: 0, t: 0 };
    let steadyLast = { cpuS: 0, t: 0 };
    const sampler = setInterval(() => {
      const now = cpuAndRss(procTree(agent.pid));
      peak = Math.max(peak, now.rssMiB);
      peakAnon = Math.max(peakAnon, now.anonMiB);
      const t = (performance.now() - t0) / 1000;
      if (t >= STEADY_FROM_S && !atFrom) atFrom = { cpuS: now.cpuS, t };
      if (now.cpuS > 0) last = { cpuS: now.cpuS, t };
      if (now.cpuS > 0 && t < STEADY_END_S) steadyLast = last;
    }, 100);
    await agent.status;
    clearInterval(sampler);
    try {
      fio.kill("SIGKILL");
    } catch {
      // it ended first (a slow start on a busy host)
    }
    await fio.status;
    const run = JSON.parse(Deno.readTextFileSync(`${dir}/r.json`));
    const calls = Object.values(run.syscalls as Record<string, { count: number }>).reduce(
      (s, v) => s + v.count,
      0,
    );
    const from = atFrom as { cpuS: number; t: number } | null; // set in the sampler
    return {
      description:
        `ioscope tracing fio (psync 4 KiB page-cached reads, \`--rate_iops=${rate}\`) for ${TRACE_S} s; ` +
        "CPU is user+system of the agent and its children (bpftrace; the bpf backend has none) " +
        "from /proc/PID/stat, sampled every 100 ms; " +
        `steady state is from ${STEADY_FROM_S} s to ${STEADY_END_S} s after start (the teardown, ` +
        "the final read and the Run document, is only in the whole run); RSS is the sum over " +
        "those processes.",
      steadyCpuPct: from && steadyLast.t > from.t
        ? (steadyLast.cpuS - from.cpuS) / (steadyLast.t - from.t) * 100
        : null,
      totalCpuPct: last.t > 0 ? last.cpuS / last.t * 100 : null,
      peakRssMiB: peak,
      peakAnonMiB: peakAnon,
      syscallsPerSecond: calls / run.meta.duration_s,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Seconds for `deno eval 0`: Deno's own start-up and exit. */
async function bareDenoOnceS(): Promise<number> {
  const t0 = performance.now();
  await new Deno.Command(Deno.execPath(), { args: ["eval", "0"], stdout: "null" }).output();
  return (performance.now() - t0) / 1000;
}

/** Reads a child's stream, calling `line` with each whole line as it arrives. */
async function eachLine(stream: ReadableStream<Uint8Array>, line: (text: string) => void) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const c of stream) {
    buf += dec.decode(c, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      line(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
}

/** The traced calls in one `--json-lines` interval document (0 for any other line). */
function intervalCalls(line: string): number {
  try {
    const doc = JSON.parse(line) as { syscalls?: Record<string, { calls?: number }> };
    return Object.values(doc.syscalls ?? {}).reduce((a, v) => a + (v.calls ?? 0), 0);
  } catch {
    return 0;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/**
 * Seconds from starting `ioscope trace --interval 1s --json-lines` on a busy
 * process (fio, 1000 page-cached preads a second) to two moments: its
 * "Tracing..." line (every probe attached: calls are counted from here) and
 * its first interval document on stdout that holds a traced call (the first
 * data a user sees; without `--interval` the only data is the summary at the
 * trace's end). Each less Deno's own start-up: a `deno eval 0` before each run,
 * in the same loop, so that both see the same load.
 * @param backend the backend to start
 * @param runs how many runs of each (@default 5)
 */
export async function measureTimeToFirstData(
  backend: "bpf" | "bpftrace" | "ftrace",
  runs = 5,
): Promise<
  {
    description: string;
    medianS: number;
    minS: number;
    maxS: number;
    denoS: number;
    denoMinS: number;
    afterDenoS: number;
    firstDataS: number;
    firstDataMinS: number;
    firstDataMaxS: number;
    firstDataAfterDenoS: number;
  }
> {
  const dir = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "ioscope-first-data-" });
  Deno.writeFileSync(`${dir}/f`, new Uint8Array(16 << 20));
  const target = new Deno.Command("fio", {
    args: fioPsyncArgs(`${dir}/f`, 600, 1000),
    stdout: "null",
    stderr: "null",
  }).spawn();
  const attach: number[] = [];
  const first: number[] = [];
  const deno: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 0; i < runs; i++) {
      deno.push(await bareDenoOnceS());
      const t0 = performance.now();
      const cli = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          `${ROOT}mod.ts`,
          "trace",
          "--pid",
          String(target.pid),
          "--duration",
          "3s",
          "--interval",
          "1s",
          "--json-lines",
          "--backend",
          backend,
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      let attachS = NaN;
      let firstS = NaN;
      const since = () => (performance.now() - t0) / 1000;
      await Promise.all([
        eachLine(cli.stderr, (l) => {
          if (Number.isNaN(attachS) && l.includes("Tracing pid")) attachS = since();
        }),
        eachLine(cli.stdout, (l) => {
          if (Number.isNaN(firstS) && intervalCalls(l) > 0) firstS = since();
        }),
      ]);
      const status = await cli.status;
      if (!status.success || Number.isNaN(attachS) || Number.isNaN(firstS)) {
        throw new Error(`run ${i + 1}: the trace exited ${status.code} without both moments`);
      }
      attach.push(attachS);
      first.push(firstS);
    }
  } finally {
    target.kill("SIGKILL");
    await target.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  const denoS = median(deno);
  return {
    description:
      "From spawning `deno run -A mod.ts trace --pid PID --interval 1s --json-lines` (Deno " +
      "start-up included; PID a fio making 1000 page-cached preads a second) to two moments: its " +
      "`Tracing pid ...` line (attach), printed once every probe is attached (bpftrace: the " +
      "agent's sentinel probe, attached last, has fired; bpf: the programs are attached and the " +
      "maps readable), calls counted from here; and its first interval document holding a traced " +
      "call (first data), which comes one interval (a second) after attach by design: an " +
      "interval's figures are that second's. " +
      `${runs} runs per backend; \`after Deno\` subtracts the median time of \`deno eval 0\`, ` +
      "run before each of them in the same loop.",
    medianS: median(attach),
    minS: Math.min(...attach),
    maxS: Math.max(...attach),
    denoS,
    denoMinS: Math.min(...deno),
    afterDenoS: median(attach) - denoS,
    firstDataS: median(first),
    firstDataMinS: Math.min(...first),
    firstDataMaxS: Math.max(...first),
    firstDataAfterDenoS: median(first) - denoS,
  };
}

// `deno run -A benchmarks/agent_cost.ts first-data [bpf|bpftrace|ftrace] [RUNS]`: that
// measurement alone (BENCHMARKS.md "Time to first data"), without the whole bench.
if (import.meta.main && Deno.args[0] === "first-data") {
  const backend = (Deno.args[1] ?? "bpf") as "bpf" | "bpftrace" | "ftrace";
  const r = await measureTimeToFirstData(backend, Number(Deno.args[2] ?? 5));
  const s = (x: number) => `${x.toFixed(3)} s`;
  console.log(
    `${backend}: attach median ${s(r.medianS)}, min ${s(r.minS)}, max ${s(r.maxS)}, ` +
      `after Deno ${s(r.afterDenoS)}; first data median ${s(r.firstDataS)}, min ` +
      `${s(r.firstDataMinS)}, max ${s(r.firstDataMaxS)}, after Deno ${s(r.firstDataAfterDenoS)}; ` +
      `deno eval 0: median ${s(r.denoS)}, min ${s(r.denoMinS)}`,
  );
}
