/**
 * perf for the target: `perf stat` counters (`--perf`) and `perf record`
 * on-CPU stack samples folded for a flame graph (`--flamegraph`).
 *
 * Each perf runs in its own session (a Ctrl-C at the terminal reaches only
 * the agent, which then stops perf in order) with a parent-death signal (so
 * it ends if the agent is killed). Sampling uses the software `cpu-clock`
 * event at 99 Hz, which works without a hardware PMU; stacks include kernel
 * frames (perf runs as root). Counters the host cannot count are null with
 * the reason, never 0.
 * @module
 */

import { findCommand, RunError, UsageError } from "../mod.ts";
import type { RunDocument, Unsupported } from "../../schema/mod.ts";
import {
  type FoldedStacks,
  parsePerfStatCsv,
  PERF_COUNTERS,
  StackFolder,
} from "../../probes/mod.ts";
import { forEachLine } from "./read_lines.ts";

/** What perf adds to a Run document. */
export interface PerfResult {
  perf?: RunDocument["perf"];
  flamegraph?: RunDocument["flamegraph"];
  /** Counters the host does not expose, with the reason. */
  unsupported: Unsupported[];
  /** dTLB/iTLB load misses, for `tlb.dtlb_load_misses`; null when unsupported. */
  dtlbLoadMisses: number | null;
  itlbLoadMisses: number | null;
}

/** A running perf. */
export interface PerfSession {
  /** Stops perf, reaps it, and returns what it measured. Idempotent. */
  stop(): Promise<PerfResult>;
}

/** Sampling frequency for flame graphs: 99 Hz avoids lockstep with timers. */
export const SAMPLE_HZ = 99;
/** How long perf may take to open its events. */
const ATTACH_TIMEOUT_MS = 10_000;
/** How long perf may take to write its results after SIGINT. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * Where `perf record` writes: a directory only root can enter, on tmpfs (gone
 * at reboot), one folder per agent named by its PID, so that what a killed
 * agent left is found and removed by the next one ({@linkcode sweepStalePerfData}).
 */
export const PERF_DATA_ROOT = "/run/ioscope";
const PERF_DIR = /^perf-(\d+)-[0-9a-f]{8}$/;

/**
 * Removes the perf recordings of agents that are gone (kill -9 leaves one,
 * up to hundreds of MiB). Only this directory's `perf-PID-*` folders whose
 * agent PID no longer runs.
 * @param root the directory (tests give their own)
 * @returns the folders removed
 */
export function sweepStalePerfData(root = PERF_DATA_ROOT): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(root)];
  } catch {
    return removed; // no recording was ever made here
  }
  for (const e of entries) {
    const m = PERF_DIR.exec(e.name);
    if (!m || !e.isDirectory || Number(m[1]) === Deno.pid) continue;
    try {
      Deno.statSync(`/proc/${m[1]}`);
      continue; // its agent (or a process with its PID) still runs
    } catch {
      // gone
    }
    try {
      Deno.removeSync(`${root}/${e.name}`, { recursive: true });
      removed.push(e.name);
    } catch {
      // removed meanwhile
    }
  }
  return removed;
}

/** A new folder for this agent's recording, under {@linkcode PERF_DATA_ROOT}, 0700. */
function perfDataDir(root = PERF_DATA_ROOT): string {
  Deno.mkdirSync(root, { recursive: true, mode: 0o700 });
  const info = Deno.lstatSync(root);
  if (!info.isDirectory || info.uid !== Deno.uid() || ((info.mode ?? 0) & 0o022) !== 0) {
    throw new RunError(`${root} is not a directory of this user's that only it can write to`);
  }
  const tag = Array.from(
    crypto.getRandomValues(new Uint8Array(4)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const dir = `${root}/perf-${Deno.pid}-${tag}`;
  Deno.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/** Where perf is, or null. */
export function findPerf(): string | null {
  return findCommand("perf");
}

/** The kernel's hardware PMU as perf sees it (`cpu`, `cpu_core`, ...), or null when none is exposed. */
export function cpuPmuName(): string | null {
  for (const name of ["cpu", "cpu_core", "cpu_atom", "armv8_pmuv3", "armv8_pmuv3_0"]) {
    try {
      Deno.statSync(`/sys/bus/event_source/devices/${name}`);
      return name;
    } catch {
      // not this one
    }
  }
  return null;
}

/** True when the kernel exposes a hardware PMU to perf. */
export function hasCpuPmu(): boolean {
  return cpuPmuName() !== null;
}

/** Open perf_event file descriptors of a process (perf's attached events). */
function perfEventFds(pid: number): number {
  let n = 0;
  try {
    for (const e of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        if (Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`) === "anon_inode:[perf_event]") n++;
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return -1;
  }
  return n;
}

/** A perf child and its collected stderr. */
interface PerfChild {
  child: Deno.ChildProcess;
  stderr: () => string;
  /** Resolves with the exit status once perf has ended and its output is read. */
  done: Promise<Deno.CommandStatus>;
}

function spawnPerf(perf: string, args: string[]): PerfChild {
  const child = new Deno.Command("setsid", {
    args: ["setpriv", "--pdeathsig", "TERM", "--", perf, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let err = "";
  const dec = new TextDecoder();
  const read = (async () => {
    for await (const c of child.stderr) err += dec.decode(c, { stream: true });
  })();
  const done = (async () => {
    const status = await child.status;
    await read.catch(() => {});
    return status;
  })();
  return { child, stderr: () => err, done };
}

/** Waits until perf has its events open (or has ended). */
async function waitAttached(p: PerfChild, what: string): Promise<void> {
  let ended = false;
  p.done.then(() => (ended = true));
  const deadline = Date.now() + ATTACH_TIMEOUT_MS;
  let seen = 0;
  for (;;) {
    const n = perfEventFds(p.child.pid);
    if (n > 0 && n === seen) return; // opened, and no more coming
    seen = n;
    if (ended || n < 0) {
      const status = await p.done;
      throw new RunError(
        `${what} ended at once (status ${status.code}): ${
          p.stderr().trim().split("\n").pop() ?? "no message"
        }`,
      );
    }
    if (Date.now() > deadline) {
      kill(p, "SIGKILL");
      throw new RunError(`${what} did not attach within ${ATTACH_TIMEOUT_MS / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function kill(p: PerfChild, signal: Deno.Signal): void {
  try {
    p.child.kill(signal);
  } catch {
    // already gone
  }
}

/** Ends a perf with SIGINT (it then writes its results), SIGKILL if it hangs. */
async function finish(p: PerfChild): Promise<void> {
  kill(p, "SIGINT");
  const timer = setTimeout(() => kill(p, "SIGKILL"), STOP_TIMEOUT_MS);
  await p.done;
  clearTimeout(timer);
}

/** Builds the counters part of a PerfResult from perf stat's output. */
export function countersResult(
  text: string,
  pmu: boolean,
): Pick<PerfResult, "perf" | "unsupported" | "dtlbLoadMisses" | "itlbLoadMisses"> {
  const lines = parsePerfStatCsv(text);
  const perf: Record<string, number | null> = {};
  const unsupported: Unsupported[] = [];
  for (const c of PERF_COUNTERS) {
    const line = lines.get(c.event);
    if (line?.status === "counted" && line.value !== null) {
      perf[c.key] = line.value;
    } else if (line?.status === "not-counted" && !c.hardware) {
      // A software counter that never ran: the target was not on a CPU while perf watched.
      perf[c.key] = 0;
    } else {
      perf[c.key] = null;
      const reason = !line
        ? "perf stat did not report it"
        : line.status === "not-supported"
        ? pmu
          ? "perf stat: not supported by this CPU's PMU"
          : "no hardware PMU on this host (perf stat: not supported)"
        : "perf stat: not counted (the counter was never scheduled)";
      unsupported.push({ metric: `perf.${c.key}`, reason });
    }
  }
  const dtlb = perf.dtlb_load_misses ?? null;
  const itlb = perf.itlb_load_misses ?? null;
  for (
    const [metric, v, key] of [
      ["tlb.dtlb_load_misses", dtlb, "dtlb_load_misses"],
      ["tlb.itlb_load_misses", itlb, "itlb_load_misses"],
    ] as const
  ) {
    const why = unsupported.find((u) => u.metric === `perf.${key}`)?.reason;
    if (v === null && why) unsupported.push({ metric, reason: why });
  }
  return { perf, unsupported, dtlbLoadMisses: dtlb, itlbLoadMisses: itlb };
}

/**
 * Starts perf for the PIDs (every thread of each, new ones included).
 * @param pids the processes
 * @param options which of counters and flame graph samples to collect
 * @returns the running session, once perf has attached
 * @example
 * ```ts ignore
 * const perf = await startPerf([1234], { counters: true, flamegraph: true });
 * // ... the workload runs ...
 * const result = await perf.stop();
 * console.log(result.perf?.page_faults, result.flamegraph?.samples);
 * ```
 */
export async function startPerf(
  pids: number[],
  options: { counters: boolean; flamegraph: boolean },
): Promise<PerfSession> {
  const { counters, flamegraph } = options;
  const perf = findPerf();
  if (!perf) {
    throw new UsageError(
      "perf is not installed: apt-get install linux-perf, or leave out --perf and --flamegraph",
    );
  }
  if (pids.length === 0) throw new RangeError("No process to measure");
  const pidList = pids.join(",");
  const children: PerfChild[] = [];
  let stat: PerfChild | null = null;
  let record: PerfChild | null = null;
  let dir: string | null = null;
  try {
    if (counters) {
      stat = spawnPerf(perf, [
        "stat",
        "-x,",
        "--no-big-num",
        "-e",
        PERF_COUNTERS.map((c) => c.event).join(","),
        "-p",
        pidList,
      ]);
      children.push(stat);
      await waitAttached(stat, "perf stat");
    }
    if (flamegraph) {
      dir = perfDataDir();
      record = spawnPerf(perf, [
        "record",
        "--quiet",
        "-e",
        "cpu-clock",
        "-F",
        String(SAMPLE_HZ),
        "-g",
        "-p",
        pidList,
        "-o",
        `${dir}/perf.data`,
      ]);
      children.push(record);
      await waitAttached(record, "perf record");
    }
  } catch (e: unknown) {
    for (const c of children) kill(c, "SIGKILL");
    await Promise.all(children.map((c) => c.done));
    if (dir) Deno.removeSync(dir, { recursive: true });
    throw e;
  }

  let stopped: Promise<PerfResult> | null = null;
  return {
    stop(): Promise<PerfResult> {
      stopped ??= (async () => {
        await Promise.all(children.map(finish));
        const result: PerfResult = { unsupported: [], dtlbLoadMisses: null, itlbLoadMisses: null };
        try {
          if (stat) Object.assign(result, countersResult(stat.stderr(), hasCpuPmu()));
          if (record && dir) {
            // A recording perf could not finish costs the flame graph, not the trace.
            try {
              result.flamegraph = await foldRecording(perf, `${dir}/perf.data`);
            } catch (e: unknown) {
              if (!(e instanceof RunError)) throw e;
              result.unsupported.push({ metric: "flamegraph", reason: e.message });
            }
          }
        } finally {
          if (dir) Deno.removeSync(dir, { recursive: true });
        }
        return result;
      })();
      return stopped;
    },
  };
}

/**
 * Runs `perf script` on a recording and folds its stacks as its output comes:
 * a minute of samples is hundreds of MiB of text, never held whole.
 * @param perf the perf command
 * @param file the recording
 * @returns the folded stacks
 * @throws {RunError} when perf script fails
 */
export async function foldRecording(perf: string, file: string): Promise<FoldedStacks> {
  try {
    Deno.statSync(file);
  } catch {
    return { folded: [], samples: 0 }; // perf wrote nothing: no samples
  }
  const child = new Deno.Command(perf, {
    args: ["script", "-i", file, "-F", "comm,tid,ip,sym,dso"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // done
    }
  }, 60_000);
  const folder = new StackFolder();
  let lastError = "";
  const [status] = await Promise.all([
    child.status,
    forEachLine(child.stdout, (line) => folder.line(line)),
    forEachLine(child.stderr, (line) => {
      if (line.trim() !== "") lastError = line.slice(0, 300);
    }),
  ]);
  clearTimeout(timer);
  if (!status.success) {
    throw new RunError(`perf script could not read the samples: ${lastError || "no message"}`);
  }
  return folder.finish();
}
