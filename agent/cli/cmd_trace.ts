/**
 * `ioscope trace`: attach to a process (or start one), measure its I/O paths,
 * print a summary, write JSON/HTML, keep it in a store, serve /metrics.
 * One way out: every end (duration, Ctrl-C, SIGTERM, target exit, error)
 * goes through the session's stop and then the same output code.
 * @module
 */

import { checkWritable, DEFAULT_KEEP, parseDurationMs, parseFlags, parseKeep } from "./_args.ts";
import { type BackendChoice, parseBackendName, resolveBackend } from "../trace/backends/mod.ts";
import type { Command } from "./command.ts";
import { dirOf, RunError, UsageError, writeErrorReason, writeFileAtomic } from "../mod.ts";
import type { IntervalDocument, RunDocument } from "../../schema/mod.ts";
import { summaryText } from "./_summary.ts";
import { jsonTerminalSafe } from "./terminal_safe.ts";
import { findPerf, startTrace, type StoppedCommand, type TraceSession } from "../trace/mod.ts";
import { loadChartJs, renderRunHtml } from "../../report/mod.ts";
import {
  checkStoreDir,
  type Exporter,
  PRIVATE_FILE_MODE,
  pruneRuns,
  saveRun,
  startExporter,
  UnsafeStoreError,
} from "../nightly/mod.ts";
import {
  parsePushArgs,
  PUSH_FLAGS,
  PUSH_HELP,
  type PushArgs,
  type Pushing,
  startPushing,
} from "./_push_args.ts";
import { type Relay, startRelay } from "./_relay.ts";
import { type Output, writeEach } from "./_outputs.ts";
import { intervalText } from "./_interval_text.ts";
import { LiveView } from "./_live_controller.ts";
import { fitsSnapshotRhythm } from "../../probes/mod.ts";
import { checkTargetFlags, openTarget, type Target, type TargetFlags } from "./_trace_target.ts";

const HELP = `ioscope trace: measure the I/O paths of a process

Usage:
  ioscope trace --pid PID [--follow] [options]
  ioscope trace --comm NAME [options]
  ioscope trace --cgroup DIR [options]
  ioscope trace [options] -- COMMAND [ARGS...]

Target (exactly one):
  --pid PID          a running process, every thread (new ones too); a
                     container's process by its host PID; a thread id means
                     its process
  --follow           with --pid: the processes it forks too, and theirs
  --comm NAME        every process whose name (comm) is NAME, and those that
                     take the name later (fork, exec) while the trace runs
  --cgroup DIR       every process in a cgroup v2 directory (a systemd unit's,
                     a container's), those that join later too
  -- COMMAND ARGS    start COMMAND, trace it and what it forks from its first
                     syscall, end when it and any daemon it left have exited
  -u, --user NAME    run COMMAND as this user instead of root
A process leaves the trace when it exits (its PID may be given to another).

Options:
  --duration TIME    stop after TIME (30s, 500ms, 2m); default: until Ctrl-C
                     or the target exits
  --backend NAME     auto (default: bpf where its programs load, else
                     bpftrace if installed, else ftrace), bpf, bpftrace or
                     ftrace
  --json FILE        write the Run document (schema ioscope.run/2)
  --out FILE.html    write a self-contained HTML report
  --store DIR        keep the Run document in a run store (see ioscope report)
  --keep N           with --store: keep the newest N runs of this target, remove
                     older ones (default: 100)
  --prom HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics
                     (native histograms to a scraper asking for protobuf)
${PUSH_HELP}
  --perf             add perf stat counters (faults, context switches, TLB
                     misses where the CPU exposes them)
  --flamegraph       sample on-CPU stacks and add a flame graph to the report
  --interval TIME    every TIME (whole seconds: 1s, 5s), print that interval's
                     calls/s, bytes/s, P50 and P99 per syscall, faults/s,
                     switches/s and TLB flushes/s
  --json-lines       with --interval (default 1s): one JSON object per interval
                     on stdout instead (schema ioscope.interval/1); the summary
                     goes to stderr
  --live             on a terminal: a full-screen view redrawn every interval,
                     heaviest syscalls first; keys t, c, p sort by time, calls,
                     P99; q ends the trace (outputs are written as usual);
                     a command after -- runs with no stdin/stdout/stderr
  -h, --help         this help

Needs root and tracefs; the default backend needs nothing more (ioscope doctor).
Example:
  ioscope trace --pid 4242 --duration 30s --out nginx.html --json nginx.json`;

/** `ioscope trace`. */
export const traceCommand: Command = {
  summary: "measure the I/O paths of a running process or a command",
  help: HELP,
  run: runTrace,
};

interface TraceArgs {
  /** What to trace, looked up once. */
  target: Target;
  durationMs?: number;
  /** The backend, chosen once for this host (resolveBackend) and passed down as it is. */
  backend: BackendChoice;
  json?: string;
  out?: string;
  store?: string;
  keep: number;
  prom?: string;
  perf: boolean;
  flamegraph: boolean;
  intervalMs?: number;
  jsonLines: boolean;
  live: boolean;
  /** `--remote-write`, `--otlp` and their options; absent: no push. */
  push?: PushArgs;
  /** `--metrics-pid`: a pid label on every exported series. */
  metricsPid: boolean;
}

/** Parses and checks every argument; throws UsageError before anything starts. */
export function parseTraceArgs(args: string[]): TraceArgs {
  const dd = args.indexOf("--");
  const own = dd >= 0 ? args.slice(0, dd) : args;
  const command = dd >= 0 ? args.slice(dd + 1) : undefined;
  const { values, positionals } = parseFlags(own, {
    pid: { type: "string" },
    follow: { type: "boolean", default: false },
    comm: { type: "string" },
    cgroup: { type: "string" },
    user: { type: "string", short: "u" },
    duration: { type: "string" },
    backend: { type: "string", default: "auto" },
    json: { type: "string" },
    out: { type: "string" },
    store: { type: "string" },
    keep: { type: "string" },
    prom: { type: "string" },
    perf: { type: "boolean", default: false },
    flamegraph: { type: "boolean", default: false },
    interval: { type: "string" },
    "json-lines": { type: "boolean", default: false },
    live: { type: "boolean", default: false },
    ...PUSH_FLAGS,
  }, true);
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}'; put a command to run after --`);
  }
  const flags: TargetFlags = {
    pid: values.pid as string | undefined,
    follow: values.follow === true,
    comm: values.comm as string | undefined,
    cgroup: values.cgroup as string | undefined,
    command,
    user: values.user as string | undefined,
  };
  checkTargetFlags(flags);
  const asked = parseBackendName(values.backend as string);

  const parsed: Omit<TraceArgs, "target" | "backend"> = {
    perf: values.perf === true,
    flamegraph: values.flamegraph === true,
    jsonLines: values["json-lines"] === true,
    live: values.live === true,
    keep: typeof values.keep === "string" ? parseKeep(values.keep) : DEFAULT_KEEP,
    metricsPid: values["metrics-pid"] === true,
  };
  const push = parsePushArgs(values);
  if (push) parsed.push = push;
  if (typeof values.keep === "string" && values.store === undefined) {
    throw new UsageError("--keep goes with --store DIR (the runs it keeps)");
  }
  if (values.duration !== undefined) parsed.durationMs = parseDurationMs(values.duration as string);
  parseIntervalArgs(values.interval as string | undefined, parsed);
  for (const key of ["json", "out", "store", "prom"] as const) {
    const v = values[key];
    if (typeof v === "string") parsed[key] = v;
  }
  if (parsed.json) checkWritable(parsed.json, "--json");
  if (parsed.out) checkWritable(parsed.out, "--out");
  if (parsed.store !== undefined) checkStoreArg(parsed.store);
  if (parsed.prom !== undefined && !/^([\w.-]*|\[[0-9a-fA-F:]+\]):\d{1,5}$/.test(parsed.prom)) {
    throw new UsageError(`invalid --prom '${parsed.prom}': use HOST:PORT, e.g. 127.0.0.1:9464`);
  }

  if (Deno.uid() !== 0) {
    throw new UsageError(
      "tracing needs root (bpftrace and tracefs need CAP_SYS_ADMIN): run with sudo",
    );
  }
  // Chosen once, here: the session and the backend get this choice, and
  // nothing resolves it again (and it says it is bpftrace when missing).
  const backend = resolveBackend(asked);
  if ((parsed.perf || parsed.flamegraph) && !findPerf()) {
    const flag = parsed.perf ? "--perf" : "--flamegraph";
    throw new UsageError(`${flag} needs perf: apt-get install linux-perf, or leave out ${flag}`);
  }
  return { ...parsed, backend, target: openTarget(flags) };
}

/** `--interval`, `--json-lines` and `--live`, checked together. */
function parseIntervalArgs(
  interval: string | undefined,
  parsed: Pick<TraceArgs, "intervalMs" | "jsonLines" | "live">,
): void {
  if (interval !== undefined) {
    const ms = parseDurationMs(interval, "--interval");
    if (!fitsSnapshotRhythm(ms)) {
      throw new UsageError(
        `invalid --interval '${interval}': use whole seconds (1s, 5s): the probes report once a second`,
      );
    }
    parsed.intervalMs = ms;
  }
  if (parsed.live && parsed.jsonLines) {
    throw new UsageError(
      "--live draws on the terminal and --json-lines writes to a pipe: give one of them",
    );
  }
  if (parsed.live && !(Deno.stdin.isTerminal() && Deno.stdout.isTerminal())) {
    throw new UsageError(
      "--live needs a terminal (stdin and stdout); piped, use --interval 1s --json-lines",
    );
  }
  if ((parsed.live || parsed.jsonLines) && parsed.intervalMs === undefined) {
    parsed.intervalMs = 1000;
  }
}

function checkStoreArg(dir: string): void {
  if (dir === "") throw new UsageError("--store needs a directory");
  try {
    if (!Deno.statSync(dir).isDirectory) throw new UsageError(`--store ${dir} is not a directory`);
    // Refused before the trace, not after it: others could plant files in it.
    checkStoreDir(dir);
  } catch (e: unknown) {
    if (e instanceof UsageError) throw e;
    if (e instanceof UnsafeStoreError) throw new UsageError(e.message);
    // A store that does not exist yet is created; its parent must exist.
    const parent = dirOf(dir.replace(/\/+$/, "") || "/");
    try {
      if (!Deno.statSync(parent).isDirectory) throw new Error();
    } catch {
      throw new UsageError(`cannot create --store ${dir}: ${parent} does not exist`);
    }
  }
}

const END_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

async function runTrace(args: string[]): Promise<number> {
  const a = parseTraceArgs(args);
  let session: TraceSession | null = null;
  let signalled = false;
  const onSignal = () => {
    signalled = true;
    session?.stop("signal");
  };
  for (const s of END_SIGNALS) Deno.addSignalListener(s, onSignal);
  // One way out for the unexpected too: an error nothing caught (in a timer,
  // a callback, a promise nobody awaits) ends the trace like a signal, and the
  // outputs are written, instead of the process dying with the probes attached.
  let uncaught: unknown = undefined;
  const onUncaught = (e: Event) => {
    e.preventDefault();
    if (uncaught === undefined) {
      uncaught = e instanceof ErrorEvent
        ? e.error ?? e.message
        : (e as PromiseRejectionEvent).reason;
    }
    session?.stop("stopped");
  };
  globalThis.addEventListener("error", onUncaught);
  globalThis.addEventListener("unhandledrejection", onUncaught);

  let child: StoppedCommand | null = null;
  let exporter: Exporter | null = null;
  let live: LiveView | null = null;
  let relay: Relay | null = null;
  let pushing: Pushing | null = null;
  try {
    child = await a.target.launch?.(a.live) ?? null;
    if (child) relay = startRelay(child);
    // Described before the trace starts (a process's name as it is now).
    const what = a.target.describe();
    const notice = a.target.notice();
    if (notice !== null) console.error(notice);
    const options = {
      backend: a.backend,
      ...a.target.following(),
      ...(a.durationMs !== undefined ? { durationMs: a.durationMs } : {}),
      ...(a.perf || a.flamegraph ? { perf: { counters: a.perf, flamegraph: a.flamegraph } } : {}),
      ...(a.intervalMs !== undefined
        ? {
          intervalMs: a.intervalMs,
          onInterval: (last: IntervalDocument, total: IntervalDocument) => {
            if (live) live.update(last, total);
            // The JSON's strings hold process names: C1 controls and the
            // like go out as \u escapes, the same value a terminal only shows.
            else if (a.jsonLines) writeLine(jsonTerminalSafe(JSON.stringify(last)));
            else writeLine(intervalText(last) + "\n");
          },
        }
        : {}),
    };
    if (a.prom !== undefined) {
      exporter = await startExporter(a.prom, () => session?.current() ?? null, {
        pidLabel: a.metricsPid,
      });
      console.error(`Serving metrics at http://${exporter.address}/metrics`);
    }
    session = await startTrace(a.target.traceTarget(), options);
    child?.resume();
    const s = session;
    pushing = a.push ? await startPushing(a.push, () => s.current(), a.metricsPid) : null;
    const how = a.durationMs !== undefined ? `for ${a.durationMs / 1000} s` : "until it exits";
    console.error(`Tracing ${what} ${how} with ${session.backendName}... Ctrl-C to end.`);
    if (a.live) {
      const s = session;
      live = new LiveView(s, a.durationMs, () => s.stop("stopped"));
    }
    if (signalled) session.stop("signal");
    if (uncaught !== undefined) session.stop("stopped");
    const run = await session.done;
    // The whole Run to the receivers, at most a few seconds; what they did goes into it.
    if (pushing) run.meta.exports = await pushing.finish(run);
    // The terminal is put back before anything else is written to it.
    live?.close();
    // The command's last words come before the summary.
    await relay?.finish();
    const daemons = child?.orphans() ?? [];
    if (daemons.length > 0) {
      console.error(`Left running: the command's pid ${daemons.join(", ")} (not ended by ioscope)`);
    }
    await writeOutputs(run, a);
    if (uncaught !== undefined) {
      const why = uncaught instanceof Error ? uncaught.message : String(uncaught);
      throw new RunError(`the trace ended early on an unexpected error: ${why}`);
    }
    return 0;
  } finally {
    globalThis.removeEventListener("error", onUncaught);
    globalThis.removeEventListener("unhandledrejection", onUncaught);
    live?.close();
    for (const s of END_SIGNALS) Deno.removeSignalListener(s, onSignal);
    await session?.stop("stopped").catch(() => {});
    await pushing?.close();
    await exporter?.close();
    await child?.reap();
    await relay?.finish(0);
  }
}

/**
 * Prints the summary and writes each output on its own: one that fails (a
 * full disk, a read-only one, no permission) costs only itself. Throws a
 * RunError with one line per failure, naming the output and the reason.
 */
async function writeOutputs(run: RunDocument, a: TraceArgs): Promise<void> {
  const failures: string[] = [];
  try {
    // With --json-lines, stdout carries only the intervals' JSON: the summary goes to stderr.
    if (a.jsonLines) console.error(summaryText(run));
    else writeAllStdout(summaryText(run) + "\n");
  } catch (e: unknown) {
    failures.push(`could not write the summary (stdout): ${writeErrorReason(e)}`);
  }
  const outputs: Output[] = [];
  const { json, out, store } = a;
  if (json !== undefined) {
    outputs.push({
      what: `--json ${json}`,
      write: async () => {
        await writeFileAtomic(json, JSON.stringify(run, null, 2) + "\n", {
          mode: PRIVATE_FILE_MODE,
        });
        return `Wrote ${json}`;
      },
    });
  }
  if (out !== undefined) {
    outputs.push({
      what: `--out ${out}`,
      write: async () => {
        await loadChartJs();
        await writeFileAtomic(out, renderRunHtml(run), { mode: PRIVATE_FILE_MODE });
        return `Wrote ${out}`;
      },
    });
  }
  if (store !== undefined) {
    outputs.push({
      what: `--store ${store}`,
      write: async () => {
        const path = await saveRun(store, run);
        const removed = await pruneRuns(store, run, a.keep);
        return `Stored ${path}${
          removed.length > 0
            ? ` (removed ${removed.length} older run${
              removed.length === 1 ? "" : "s"
            }: --keep ${a.keep})`
            : ""
        }`;
      },
    });
  }
  await writeEach(outputs, failures);
}

/** Writes all of `text` to stdout, so a failure (a full disk, a closed pipe) is seen. */
function writeAllStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  let done = 0;
  while (done < bytes.length) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/** Writes a line to stdout at once (intervals must not wait in a buffer). */
function writeLine(text: string): void {
  const bytes = new TextEncoder().encode(text + "\n");
  let done = 0;
  while (done < bytes.length) done += Deno.stdout.writeSync(bytes.subarray(done));
}
