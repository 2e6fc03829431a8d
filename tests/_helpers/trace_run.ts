/**
 * The end-to-end block every trace test writes: spawn `ioscope trace` with a
 * `--json` output, drive the target while it traces, wait for its end, assert
 * it exited 0 and left the host clean (no process of the agent, no tracefs
 * instance of it, no BPF link of an `ios_` program), and read the Run.
 * @module
 */

import { assert, assertEquals } from "./assert.ts";
import { type CliResult, leftovers, spawnCli } from "./common.ts";
import { readRun } from "./documents.ts";
import type { LineWorkload } from "./line_workload.ts";
import type { RunDocument } from "../../schema/mod.ts";

/** The traces {@linkcode startTrace} started that have not ended yet. */
const running = new Set<Promise<CliResult>>();

/** The running CLI, as {@linkcode spawnCli} returns it. */
export type TraceCli = ReturnType<typeof spawnCli>;

/** Options of {@linkcode traceRun}. */
export interface TraceRunOptions {
  /**
   * The stderr text to wait for before `during` runs, or null to run it at once.
   * @default {"Tracing "}
   */
  ready?: string | null;
  /**
   * How long to wait for `ready`, in ms.
   * @default {30000}
   */
  readyTimeoutMs?: number;
  /** What to do while the CLI traces (start the workload, send a signal); the trace ends after. */
  during?: (cli: TraceCli) => Promise<void>;
  /**
   * The exit status expected.
   * @default {0}
   */
  code?: number;
  /** A label for the assertions' messages (the backend, the case). */
  what?: string;
}

/** A trace run to its end: the Run, what the CLI printed, its pid. */
export interface TracedRun extends CliResult {
  run: RunDocument;
  /** The agent's pid (gone by now). */
  pid: number;
}

/** A trace under way, from {@linkcode startTrace}. */
export interface Trace {
  /** The running CLI. */
  cli: TraceCli;
  /**
   * Ends the trace (with `signal`, or waits for it to end by itself), checks it
   * as every end-to-end test does (exit status, a clean host), reads the Run.
   */
  end(signal?: Deno.Signal): Promise<TracedRun>;
}

/** SIGKILL, unless it has ended already (kill() throws then, hiding the error that brought us here). */
function killIfRunning(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // It exited by itself: cli.done has what it said.
  }
}

/**
 * Starts `ioscope trace ...args --json json` and waits until it traces (the
 * `ready` text on stderr; null: does not wait).
 * @param args what follows `trace` (without `--json`)
 * @param json where the Run document is written
 * @param options what to wait for and expect (`during` is {@linkcode traceRun}'s)
 * @returns the trace under way
 */
export async function startTrace(
  args: readonly string[],
  json: string,
  options: Omit<TraceRunOptions, "during"> = {},
): Promise<Trace> {
  const { ready = "Tracing ", readyTimeoutMs = 30_000, code = 0, what = "" } = options;
  const tag = what ? `${what}: ` : "";
  const dashes = args.indexOf("--");
  const withJson = dashes < 0
    ? [...args, "--json", json]
    : [...args.slice(0, dashes), "--json", json, ...args.slice(dashes)];
  const cli = spawnCli(["trace", ...withJson]);
  running.add(cli.done);
  cli.done.finally(() => running.delete(cli.done));
  const end = async (signal?: Deno.Signal): Promise<TracedRun> => {
    if (signal) cli.child.kill(signal);
    const result = await cli.done;
    assertEquals(result.code, code, `${tag}${result.stderr}`);
    await assertHostClean(cli.child.pid, what);
    return { ...result, run: readRun(json), pid: cli.child.pid };
  };
  if (ready !== null) {
    try {
      await cli.waitForStderr(ready, readyTimeoutMs);
    } catch (e) {
      killIfRunning(cli.child);
      await cli.done;
      throw e;
    }
  }
  return { cli, end };
}

/**
 * Runs `ioscope trace ...args --json json` to its end: waits until it traces
 * when there is something to do meanwhile (`during`), does it, then checks it
 * as every end-to-end test does (exit status, a clean host) and reads the Run.
 * @param args what follows `trace` (without `--json`)
 * @param json where the Run document is written
 * @param options what to wait for, what to do meanwhile, what status to expect
 * @returns the Run and the CLI's result
 */
export async function traceRun(
  args: readonly string[],
  json: string,
  options: TraceRunOptions = {},
): Promise<TracedRun> {
  const { during, ready = "Tracing ", ...rest } = options;
  const trace = await startTrace(args, json, { ...rest, ready: during ? ready : null });
  try {
    await during?.(trace.cli);
  } catch (e) {
    killIfRunning(trace.cli.child);
    await trace.cli.done;
    throw e;
  }
  return await trace.end();
}

/** Options of {@linkcode tracePid}: those of {@linkcode traceRun}, and the backend. */
export interface TracePidOptions extends TraceRunOptions {
  /** The `--backend` value (also the label of the assertions), or none for the default. */
  backend?: string;
  /** More arguments after `--pid PID --backend BACKEND`. */
  args?: readonly string[];
}

/**
 * {@linkcode traceRun} of `--pid PID [--backend BACKEND] [...args]`, the most common trace.
 * @param pid the target
 * @param json where the Run document is written
 * @param options the backend, what to do while it traces, what to expect
 * @returns the Run and the CLI's result
 */
export function tracePid(
  pid: number,
  json: string,
  options: TracePidOptions = {},
): Promise<TracedRun> {
  const { backend, args = [], what = backend, ...rest } = options;
  const flags = ["--pid", String(pid), ...(backend ? ["--backend", backend] : []), ...args];
  return traceRun(flags, json, { ...rest, ...(what === undefined ? {} : { what }) });
}

/**
 * {@linkcode tracePid} of a line workload run to its end: once the CLI traces,
 * the workload is told to go, and must exit 0 having printed `done`.
 * @param w the workload (tests/_helpers/line_workload.ts)
 * @param json where the Run document is written
 * @param options the backend, what to expect
 * @returns the Run, the CLI's result, and what the workload printed
 */
export async function traceWorkload(
  w: LineWorkload,
  json: string,
  options: Omit<TracePidOptions, "during"> = {},
): Promise<TracedRun & { text: string }> {
  let text = "";
  const traced = await tracePid(w.pid, json, {
    ...options,
    during: async () => {
      await w.go();
      const done = await w.done();
      text = done.text;
      assert(done.status.success && text.includes("done"), `the workload: ${text}`);
    },
  });
  return { ...traced, text };
}

/**
 * Asserts that nothing of an agent that has ended is left: no process that
 * names it, no tracefs instance of it, no BPF link of one of its programs
 * (named `ios_`; links go when the last descriptor closes, so they are given
 * two seconds). A link names no process: the check waits for every other trace
 * this test started to end first (15 s at most, then fails saying so), and
 * another test's agent would count too: run under the test lock.
 * @param agentPid the agent's pid
 * @param what a label for the messages
 */
export async function assertHostClean(agentPid: number, what = ""): Promise<void> {
  const tag = what ? `${what}: ` : "";
  assertEquals(leftovers(agentPid), [], `${tag}processes or tracefs instances left`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const others = await Promise.race([
    Promise.all([...running]).then(() => 0),
    new Promise<number>((r) => timer = setTimeout(() => r(running.size), 15_000)),
  ]);
  clearTimeout(timer);
  assert(others === 0, `${tag}${others} other traces still run: end them before checking links`);
  const deadline = Date.now() + 2000;
  let links = await ourBpfLinks();
  while (links.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    links = await ourBpfLinks();
  }
  assert(links.length === 0, `${tag}BPF links left: ${links.join(", ")}`);
}

/**
 * The BPF links attached for a program of ours (its name starts with `ios_`).
 * @returns one `link ID (prog NAME)` per link
 */
export async function ourBpfLinks(): Promise<string[]> {
  const json = async (what: string) => {
    const out = await new Deno.Command("bpftool", {
      args: ["-j", what, "show"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, `bpftool ${what} show: ${new TextDecoder().decode(out.stderr)}`);
    return JSON.parse(text || "[]") as { id: number; name?: string; prog_id?: number }[];
  };
  const names = new Map((await json("prog")).map((p) => [p.id, p.name ?? ""]));
  return (await json("link"))
    .filter((l) => (names.get(l.prog_id ?? -1) ?? "").startsWith("ios_"))
    .map((l) => `link ${l.id} (prog ${names.get(l.prog_id ?? -1)})`);
}
