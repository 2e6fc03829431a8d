/**
 * fio as the independent reference: a job started with a delay (`--startdelay`)
 * so the tracers given attach before its first I/O, traced by `ioscope trace
 * --pid` with each backend at once, until fio exits.
 * @module
 */

import { assert } from "./assert.ts";
import { startTrace, type Trace } from "./trace_run.ts";
import type { RunDocument } from "../../schema/mod.ts";

/** fio's figures for the reads of its first job (`jobs[0].read` of `--output-format=json`). */
export interface FioRead {
  total_ios: number;
  iops: number;
  runtime: number;
  clat_ns: { percentile: Record<string, number> };
  lat_ns: { percentile: Record<string, number> };
}

/** A directory on a disk filesystem (O_DIRECT needs one: tmpfs refuses it). */
export function diskDir(): { path: string } & AsyncDisposable {
  const path = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "ioscope-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A directory in /dev/shm, for "page-cached" files: this host's reclaim evicts a
 * disk file's pages within seconds, and reads that go to the disk then make the
 * tail of a "cached" run.
 */
export function shmDir(): { path: string } & AsyncDisposable {
  const path = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "ioscope-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Runs `argv` (a fio command line with `--startdelay=startDelayS` and
 * `--output-format=json --output=DIR/fio.json`) while each backend traces it.
 * @param dir where the Run documents go, and fio's output
 * @param argv the command, fio (or a wrapper such as nice) first
 * @param backends the backends, traced at once
 * @param startDelayS fio's start delay: every tracer must attach within it
 * @param ordered start each backend once the one before is attached, so their
 *   probes run in the order given (a tracepoint runs its probes in the order
 *   they were registered); else all start at once
 * @returns fio's reads and each backend's Run document
 */
export async function traceFio(
  dir: string,
  argv: string[],
  backends: readonly ("bpf" | "bpftrace" | "ftrace")[],
  startDelayS: number,
  ordered = false,
): Promise<{ fio: FioRead; runs: Map<string, RunDocument> }> {
  const [cmd = "fio", ...args] = argv;
  const fio = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).spawn();
  const started = performance.now();
  const spawn = (backend: string) =>
    startTrace(["--pid", String(fio.pid), "--backend", backend], `${dir}/${backend}.json`, {
      what: backend,
    });
  const traces: { backend: string; trace: Promise<Trace> }[] = [];
  const spawnedAt = performance.now();
  for (const backend of backends) {
    traces.push({ backend, trace: spawn(backend) });
    if (ordered) await traces.at(-1)!.trace;
  }
  await Promise.all(traces.map((t) => t.trace));
  const attachedS = (performance.now() - started) / 1000;
  const out = await fio.output();
  assert(out.success, `fio failed: ${new TextDecoder().decode(out.stderr)}`);
  assert(
    attachedS < startDelayS - 0.2,
    `attaching took ${attachedS.toFixed(1)} s; fio started at ${startDelayS} s`,
  );
  const fioRead: FioRead = JSON.parse(Deno.readTextFileSync(`${dir}/fio.json`)).jobs[0].read;
  const runs = new Map<string, RunDocument>();
  for (const { backend, trace } of traces) {
    const { run } = await (await trace).end();
    assertDurationCovers(run, fioRead, (performance.now() - spawnedAt) / 1000, backend);
    runs.set(backend, run);
  }
  return { fio: fioRead, runs };
}

/**
 * A Run's own duration against two clocks it does not share: it holds fio's
 * whole job (fio's runtime, its own clock: the trace attached before the job's
 * first I/O and ended after fio exited), and lies inside the agent's life as
 * the test saw it (spawned to exited). A rate from it (count / duration_s) is
 * then ioscope's own, not fio's IOPS handed back.
 * @param run the Run document
 * @param fio fio's reads (`runtime` in ms)
 * @param cliWallS seconds from before the agent was spawned to after it exited
 * @param what the backend, for the message
 */
export function assertDurationCovers(
  run: RunDocument,
  fio: Pick<FioRead, "runtime">,
  cliWallS: number,
  what: string,
): void {
  const d = run.meta.duration_s;
  assert(
    d >= fio.runtime / 1000 && d <= cliWallS,
    `${what}: duration_s ${d} outside fio's runtime ${fio.runtime / 1000} s .. the agent's life ${
      cliWallS.toFixed(3)
    } s`,
  );
}

/**
 * A tracer's count against fio's: lost events are not calls, so either none
 * was lost and the count is exact, or the count is short of fio's by no more
 * than the events lost (count <= fio <= count + lost).
 * @param count the calls (or completions) the tracer counted
 * @param lost the events it says it lost
 * @param fioTotal fio's `total_ios`
 * @param what the figure, for the message
 */
export function assertCountOrLost(
  count: number,
  lost: number,
  fioTotal: number,
  what: string,
): void {
  const ok = lost === 0 ? count === fioTotal : count <= fioTotal && fioTotal <= count + lost;
  if (!ok) {
    throw new Error(`${what}: counted ${count}, lost ${lost} events, fio did ${fioTotal}`);
  }
}

/**
 * The floor of a tracer's P99 on page-cached reads, from fio's clat of the
 * same reads: fio's clat is the syscall plus a near-constant overhead (its
 * clock reads and the user/kernel transitions: fio's P50 minus ours), plus
 * preemptions between its clock read and the syscall, which dominate its P99
 * on a shared 2-CPU host (3-10x its P95) but not its P95. So the syscall's
 * P95 is about fio's P95 less that overhead, and a P99 below it means the
 * slowest calls were lost. Measured (bpftrace, fio at 3000 IOPS): fio P95
 * 3280/3600/5088 ns, P50 2928/3024/3728; ours P50 1171/1194/1594, P99
 * 2199/2244/5278 against floors of 1371/1593/2659 (0.9 x the estimate).
 * @param oursP50 the tracer's P50, ns
 * @param oursP99 the tracer's P99, ns
 * @param fio fio's read stats
 * @returns the floor, ns, when the P99 is above it; throws when not
 */
export function assertTailKept(
  oursP50: number,
  oursP99: number,
  fio: Pick<FioRead, "clat_ns">,
): number {
  const p = fio.clat_ns.percentile;
  const overhead = (p["50.000000"] ?? 0) - oursP50;
  const floor = 0.9 * ((p["95.000000"] ?? 0) - overhead);
  if (!(oursP99 >= floor)) {
    throw new Error(
      `P99 ${oursP99} ns below ${
        Math.round(floor)
      } ns, fio's P95 less its overhead: the tail was lost`,
    );
  }
  return floor;
}
