/**
 * Scale: ioscope against a target with 10 000 threads, `--comm` matching 500
 * processes, and a host making 200 000 syscalls/s besides. For each: the time
 * from starting `ioscope trace` to its "Tracing" line (every probe attached),
 * whether it counted the workload's known preads exactly, and the time from
 * SIGINT to the agent's exit (every probe detached, outputs written). A
 * 1-thread target on a quiet host is the baseline.
 *
 *     deno run -A benchmarks/scale.ts [--backends bpftrace,ftrace] [--write BENCHMARKS.md]
 *
 * The workloads are tests/_helpers/workloads/many_tasks.py (python3).
 * @module
 */

import { parseArgs } from "node:util";
import { replaceSection } from "./soak.ts";
import { startPython } from "../tests/_helpers/python.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const startWorkload = (args: string[]) => startPython("many_tasks.py", args);

/** One traced case. */
export interface ScaleCase {
  name: string;
  backend: string;
  attachS: number;
  detachS: number;
  counted: number;
  expected: number;
  tracedPids: number;
  exitCode: number;
  error?: string;
}

async function traceCase(
  name: string,
  backend: string,
  target: string[],
  drive: () => Promise<void>,
  expected: number,
): Promise<ScaleCase> {
  const dir = Deno.makeTempDirSync({ prefix: "ioscope-scale-" });
  try {
    const t0 = performance.now();
    const agent = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}mod.ts`,
        "trace",
        ...target,
        "--backend",
        backend,
        "--json",
        `${dir}/r.json`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let err = "";
    let attachS = NaN;
    const dec = new TextDecoder();
    const reading = (async () => {
      for await (const c of agent.stderr) {
        err += dec.decode(c, { stream: true });
        if (Number.isNaN(attachS) && err.includes("Tracing ")) {
          attachS = (performance.now() - t0) / 1000;
        }
      }
    })();
    const deadline = Date.now() + 180_000;
    while (Number.isNaN(attachS) && Date.now() < deadline) {
      if (err.includes("ioscope trace:")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!Number.isNaN(attachS)) await drive();
    const tStop = performance.now();
    try {
      agent.kill("SIGINT");
    } catch {
      // ended by itself
    }
    const status = await agent.status;
    const detachS = (performance.now() - tStop) / 1000;
    await reading;
    let counted = 0;
    let tracedPids = 0;
    try {
      const run = JSON.parse(Deno.readTextFileSync(`${dir}/r.json`));
      counted = run.syscalls?.pread64?.count ?? 0;
      tracedPids = run.meta?.pids?.length ?? 0;
    } catch {
      // no document: the error says why
    }
    const c: ScaleCase = {
      name,
      backend,
      attachS,
      detachS,
      counted,
      expected,
      tracedPids,
      exitCode: status.code,
    };
    if (status.code !== 0) c.error = err.trim().split("\n").pop() ?? "";
    return c;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

async function signalAll(pids: number[], signal: Deno.Signal): Promise<void> {
  for (const p of pids) {
    try {
      Deno.kill(p, signal);
    } catch {
      // gone
    }
  }
  await Promise.resolve();
}

/** The baseline: one thread, quiet host. */
async function baseline(backend: string): Promise<ScaleCase> {
  const w = startWorkload(["threads", "1", "100", "1"]);
  try {
    await w.waitFor("ready", 30_000);
    return await traceCase(
      "1 thread (baseline)",
      backend,
      ["--pid", String(w.pid)],
      async () => {
        Deno.kill(w.pid, "SIGUSR1");
        await w.waitFor("done", 30_000);
      },
      100,
    );
  } finally {
    await w.stop();
  }
}

/** A target with `threads` threads; the last 100 do 100 preads each. */
export async function manyThreads(backend: string, threads = 10_000): Promise<ScaleCase> {
  const w = startWorkload(["threads", String(threads), "100", "100"]);
  try {
    await w.waitFor("ready", 120_000);
    return await traceCase(
      `${threads} threads`,
      backend,
      ["--pid", String(w.pid)],
      async () => {
        Deno.kill(w.pid, "SIGUSR1");
        await w.waitFor("done", 120_000);
      },
      100 * 100,
    );
  } finally {
    await w.stop();
  }
}

/** `--comm` matching `procs` processes, each doing 20 preads. */
export async function manyProcesses(backend: string, procs = 500): Promise<ScaleCase> {
  const name = `ioscale${Deno.pid % 10000}`;
  const w = startWorkload(["procs", String(procs), "20", name]);
  try {
    const line = await w.waitFor("ready", 120_000);
    const pids = line.split(" ").slice(1).map(Number);
    return await traceCase(
      `--comm matching ${procs} processes`,
      backend,
      ["--comm", name],
      async () => {
        await signalAll(pids, "SIGUSR1");
        // Each child does its 20 preads at once; give the 2 CPUs time for 500 of them.
        await new Promise((r) => setTimeout(r, 3000));
      },
      procs * 20,
    );
  } finally {
    await w.stop();
  }
}

/** 1 000 threads traced while other processes make `rate` syscalls/s (as measured by them). */
export async function busyHost(backend: string, rate = 200_000): Promise<ScaleCase> {
  // Two load processes (one per CPU), each half the rate.
  const loads = [
    startWorkload(["load", String(rate / 2)]),
    startWorkload(["load", String(rate / 2)]),
  ];
  const w = startWorkload(["threads", "1000", "100", "100"]);
  let c: ScaleCase;
  try {
    for (const l of loads) await l.waitFor("ready", 30_000);
    await w.waitFor("ready", 60_000);
    c = await traceCase("1000 threads, busy host", backend, ["--pid", String(w.pid)], async () => {
      Deno.kill(w.pid, "SIGUSR1");
      await w.waitFor("done", 60_000);
    }, 100 * 100);
  } finally {
    await w.stop();
    for (const l of loads) await l.stop();
  }
  // What the load really made (it prints its rate when stopped).
  const made = loads.reduce(
    (a, l) => a + Number(l.lines.find((x) => x.startsWith("rate "))?.slice(5) ?? 0),
    0,
  );
  c.name = `1000 threads, host at ${Math.round(made / 1000)}k syscalls/s`;
  return c;
}

/** The host's 1-minute load average, from /proc/loadavg. */
function loadAverage(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ")[0] ?? "?";
}

/** The scale section of BENCHMARKS.md. */
export function scaleMarkdown(
  cases: ScaleCase[],
  date: string,
  load: { before: string; after: string } = { before: "?", after: "?" },
): string {
  const s = (v: number) => Number.isFinite(v) ? `${v.toFixed(2)} s` : "n/a";
  return [
    "<!-- scale -->",
    "## Scale: many threads, many processes, a busy host",
    "",
    `Measured by \`deno run -A benchmarks/scale.ts\` on ${date}. Attach: from starting ` +
    "`ioscope trace` (Deno start-up included) to its `Tracing ...` line. Detach: from SIGINT to " +
    "the agent's exit, probes detached and `--json` written. Counted: pread64 calls in the Run " +
    "document against the workload's own count (tests/_helpers/workloads/many_tasks.py).",
    "",
    "| case | backend | attach | detach | counted / expected | processes | exit |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...cases.map((c) =>
      `| ${c.name} | ${c.backend} | ${s(c.attachS)} | ${
        s(c.detachS)
      } | ${c.counted} / ${c.expected} | ${c.tracedPids} | ${
        c.exitCode === 0
          ? "0"
          : `${c.exitCode}: ${(c.error ?? "").replaceAll("|", "\\|").slice(0, 80)}`
      } |`
    ),
    "",
    (cases.every((c) => c.counted === c.expected)
      ? "Every case counted exactly. "
      : "Not every case counted exactly: see the table. ") +
    "The busy host is two Python processes pacing getppid() to 100k " +
    "calls/s each; the rate in the case's name is the one they measured themselves. bpftrace's " +
    "`--comm` attach is the compile of a predicate with one `pid ==` per process; bpf and ftrace " +
    "hold the set in a map and in `set_event_pid`. The host's 1-minute load average was " +
    `${load.before} before the cases and ${load.after} after. All but the 100 reading threads ` +
    "of a many-thread target stay asleep, as a pool's idle threads do (until 2026-12-06 all of " +
    "them woke at once: a herd on two Python locks that once took over 120 s on a VM of this " +
    "kind). Tests: tests/e2e/scale_test.ts (10 000 threads and `--comm` over 500 " +
    "processes, default backend).",
    "<!-- /scale -->",
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      backends: { type: "string", default: "bpftrace,ftrace" },
      write: { type: "string" },
    },
  });
  const cases: ScaleCase[] = [];
  const before = loadAverage();
  for (const backend of String(values.backends).split(",")) {
    for (const run of [baseline, manyThreads, manyProcesses, busyHost]) {
      const c = await run(backend);
      console.error(JSON.stringify(c));
      cases.push(c);
    }
  }
  const md = scaleMarkdown(cases, new Date().toISOString().slice(0, 10), {
    before,
    after: loadAverage(),
  });
  console.log(md);
  if (values.write) replaceSection(values.write, "scale", md);
}
