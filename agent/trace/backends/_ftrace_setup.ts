/**
 * The ftrace backend's setup, one job each: the kernel's event formats (and
 * what their absence costs), and the trace's tracefs instances with the
 * watchdog that removes them if the agent dies. Nothing here reads records:
 * the loop (`_ftrace_loop.ts`) does, and `_ftrace_follow.ts` widens the
 * instances' PID sets as the target grows.
 * @module
 */

import type { BackendOptions } from "./trace_backend.ts";
import { RunError } from "../../mod.ts";
import { CpuPipe } from "./_ftrace_reader.ts";
import { FtraceInstance, instanceName, INSTANCES } from "./ftrace_instance.ts";
import type { Unsupported } from "../../../schema/mod.ts";
import { eventFormat, readTracefsText, TRACEFS } from "../tracefs.ts";
import { threadsOf } from "../proc.ts";
import {
  completionFilters,
  FTRACE_EVENTS,
  type FtraceEventFormat,
  type HeaderPage,
  parseEventFormat,
  parseHeaderPage,
  syscallFilter,
} from "../../../probes/mod.ts";

/**
 * The events the main instance records for the target's tasks, beside the
 * raw syscalls (filtered apart), each where the kernel has it. A new event
 * the aggregator handles goes here (and in FTRACE_EVENTS with its handler in
 * probes/ftrace.ts); the io_uring ones only where every io_uring event is.
 */
const MAIN_EVENTS = [
  FTRACE_EVENTS.pageFault,
  FTRACE_EVENTS.tlbFlush,
  FTRACE_EVENTS.schedSwitch,
  FTRACE_EVENTS.newTask,
  FTRACE_EVENTS.processExit,
  FTRACE_EVENTS.processExec,
] as const;
const URING_EVENTS = [
  FTRACE_EVENTS.uringSubmit,
  FTRACE_EVENTS.uringComplete,
  FTRACE_EVENTS.uringAsync,
] as const;

/** The kernel's formats of the events the backend can use, and what is missing. */
export interface FtraceFormats {
  /** Each event the kernel has, by `group:name`. */
  formats: Map<string, FtraceEventFormat>;
  /** Whether both io_uring submission and completion events exist. */
  uring: boolean;
  /** Metrics lost to missing events, with the reason. */
  unsupported: Unsupported[];
  /** The ring buffer's page header (undefined: the 64-bit default). */
  header: HeaderPage | undefined;
}

/** Reads an event's format from tracefs, or null when the event does not exist. */
function loadFormat(event: string): FtraceEventFormat | null {
  const [group = "", name = ""] = event.split(":");
  try {
    return parseEventFormat(eventFormat(group, name), group);
  } catch {
    return null;
  }
}

/**
 * Reads every event's format, and says which metrics the missing ones cost.
 * @returns the formats
 * @throws {RunError} when the kernel has no raw_syscalls events
 */
export function loadFtraceFormats(): FtraceFormats {
  const formats = new Map<string, FtraceEventFormat>();
  for (const event of Object.values(FTRACE_EVENTS)) {
    const f = loadFormat(event);
    if (f) formats.set(event, f);
  }
  for (const needed of [FTRACE_EVENTS.sysEnter, FTRACE_EVENTS.sysExit]) {
    if (!formats.has(needed)) {
      throw new RunError(
        `the kernel has no ${needed} tracepoint (CONFIG_FTRACE_SYSCALLS): the ftrace backend cannot run here`,
      );
    }
  }
  const unsupported: Unsupported[] = [];
  if (!formats.has(FTRACE_EVENTS.tlbFlush)) {
    unsupported.push({
      metric: "tlb.flushes",
      reason: "no tlb:tlb_flush tracepoint on this kernel",
    });
  }
  if (!formats.has(FTRACE_EVENTS.pageFault)) {
    unsupported.push({
      metric: "faults.total",
      reason: "no exceptions:page_fault_user tracepoint on this kernel",
    });
  }
  const uring = formats.has(FTRACE_EVENTS.uringSubmit) &&
    formats.has(FTRACE_EVENTS.uringComplete);
  if (!uring) {
    unsupported.push({ metric: "io_uring", reason: "no io_uring tracepoints on this kernel" });
  }
  let header: HeaderPage | undefined;
  try {
    header = parseHeaderPage(readTracefsText(`${TRACEFS}/events/header_page`));
  } catch {
    header = undefined;
  }
  return { formats, uring, unsupported, header };
}

/** Per-CPU buffer size: 64 MiB in all at most, 1 to 8 MiB per CPU. */
function bufferKb(cpus: number): number {
  return Math.max(1024, Math.min(8192, Math.floor(65536 / Math.max(1, cpus))));
}

/** The sub-buffer (page) size of the ring buffer. */
function subBufferBytes(): number {
  try {
    const kb = Number(readTracefsText(`${TRACEFS}/buffer_subbuf_size_kb`).trim());
    if (kb > 0) return kb * 1024;
  } catch {
    // kernels before 6.8 have one size: a page
  }
  return 4096;
}

/**
 * Starts the watchdog: a shell in its own session that waits for its stdin
 * (a pipe from the agent) to close, then disables and removes the instances.
 * The agent closes the pipe after its own teardown; if the agent dies, the
 * kernel closes it.
 */
function startWatchdog(paths: string[]): Deno.ChildProcess {
  const script = `trap '' INT HUP QUIT TERM PIPE
read -r _
for d in "$@"; do
  [ -d "$d" ] || continue
  echo 0 > "$d/events/enable"; echo 0 > "$d/tracing_on"
  : > "$d/set_event_pid"; : > "$d/set_event_notrace_pid"
  i=0
  until rmdir "$d" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
done 2>/dev/null
exit 0`;
  return new Deno.Command("setsid", {
    // $0 carries the agent marker the tests look for in leftover processes.
    args: ["sh", "-c", script, `ioscope-agent=${Deno.pid}\n`, ...paths],
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** Which instance a buffer belongs to. */
export type FtraceRole = "main" | "uring" | "exec";

/** One CPU's buffer of one instance. */
export interface FtracePipe {
  pipe: CpuPipe;
  role: FtraceRole;
  /** The instance's index in `FtraceInstances.all` (the aggregator's `source`). */
  source: number;
}

/**
 * The trace's tracefs instances, each in its role: `main` (the target's
 * tasks by `set_event_pid`: syscalls, faults, switches, new tasks, io_uring),
 * `rings` (completions of the target's rings posted by any task, filtered by
 * ring) and `execs` (`--comm`: processes taking the name, unfiltered by PID);
 * their per-CPU buffers; and the watchdog. One way out: `release()`.
 */
export class FtraceInstances {
  /** Every instance made so far, in the order their buffers are numbered. */
  readonly all: FtraceInstance[] = [];
  /** Every CPU's buffer of every instance, once recording starts. */
  readonly pipes: FtracePipe[] = [];
  /** The target's tasks; set by `openMain`. */
  main!: FtraceInstance;
  /** Completions of the target's rings, where io_uring is traced. */
  rings: FtraceInstance | null = null;
  /** Processes taking the `--comm` name by exec or rename. */
  execs: FtraceInstance | null = null;
  /** Whether the kernel adds what a traced task forks to set_event_pid itself. */
  eventFork = false;
  readonly #names = {
    main: instanceName(),
    uring: instanceName("uring"),
    exec: instanceName("exec"),
  };
  readonly #watchdog: Deno.ChildProcess;
  readonly #watchdogIn: WritableStreamDefaultWriter<Uint8Array>;

  /** Starts the watchdog for the instances this trace may make; makes none yet. */
  constructor() {
    this.#watchdog = startWatchdog(Object.values(this.#names).map((n) => `${INSTANCES}/${n}`));
    this.#watchdogIn = this.#watchdog.stdin.getWriter();
  }

  /** The watchdog's PID: a task asleep in a read, for a PID set that must not be empty. */
  get watchdogPid(): number {
    return this.#watchdog.pid;
  }

  #make(name: string): FtraceInstance {
    const inst = new FtraceInstance(name);
    this.all.push(inst);
    // Nothing is recorded until every event is enabled, and nothing after
    // stop() turns recording off: each event enabled or disabled in turn
    // (each waits for RCU, tens of ms on a busy host) would give each its own window.
    inst.write("tracing_on", "0");
    return inst;
  }

  /**
   * Makes the main instance, recording off, its buffers sized for the CPUs,
   * following forks in the kernel where it can (`event-fork`).
   * @returns it
   */
  openMain(): FtraceInstance {
    const main = this.main = this.#make(this.#names.main);
    main.write("buffer_size_kb", String(bufferKb(main.cpus().length)));
    // With event-fork the kernel adds what a traced task forks to
    // set_event_pid, and removes each task when it is freed, so the list
    // never holds an exited task's id for a later process to inherit.
    try {
      main.write("options/event-fork", "1");
      this.eventFork = true;
    } catch {
      // older kernels: new threads are still added from task_newtask, a poll later
    }
    return main;
  }

  /** Makes the ring instance: every completion until a first ring is known. */
  openRings(): void {
    const rings = this.rings = this.#make(this.#names.uring);
    rings.write("buffer_size_kb", String(Math.max(512, bufferKb(this.main.cpus().length) >> 2)));
    rings.enable(FTRACE_EVENTS.uringComplete, completionFilters([]).known);
  }

  /**
   * Enables the main instance's events: the I/O syscalls (filtered in the
   * kernel), and MAIN_EVENTS (with io_uring's where `uring`) the kernel has.
   */
  enableMain(has: (event: string) => boolean, uring: boolean): void {
    const filter = syscallFilter();
    this.main.enable(FTRACE_EVENTS.sysEnter, filter);
    this.main.enable(FTRACE_EVENTS.sysExit, filter);
    for (const e of [...MAIN_EVENTS, ...(uring ? URING_EVENTS : [])]) {
      if (has(e)) this.main.enable(e);
    }
  }

  /**
   * Makes the exec instance for `--comm NAME`: processes that take the name
   * later, by exec, whoever they are: an instance without a PID filter, its
   * exec records filtered by name (a name a filter cannot quote is filtered
   * by the aggregator instead); and those that take it by rename.
   */
  openExecs(comm: string, has: (event: string) => boolean): void {
    const execs = this.execs = this.#make(this.#names.exec);
    execs.write("buffer_size_kb", "256");
    const quotable = /^[\w .:@+-]*$/.test(comm);
    execs.enable(FTRACE_EVENTS.processExec, quotable ? `comm == "${comm}"` : undefined);
    // And those that take it by rename (prctl PR_SET_NAME, /proc/PID/comm).
    if (has(FTRACE_EVENTS.taskRename)) {
      execs.enable(FTRACE_EVENTS.taskRename, quotable ? `newcomm == "${comm}"` : undefined);
    }
  }

  /** Turns recording on in every instance at once, then opens every CPU's buffer. */
  startRecording(): void {
    for (const inst of this.all) inst.write("tracing_on", "1");
    const pageSize = subBufferBytes();
    for (const [source, inst] of this.all.entries()) {
      const role = inst === this.main ? "main" : inst === this.rings ? "uring" : "exec";
      for (const cpu of inst.cpus()) {
        this.pipes.push({ pipe: new CpuPipe(inst.path, cpu, pageSize), role, source });
      }
    }
  }

  /** Turns recording off in every instance (each tried; removed later regardless). */
  stopRecording(): void {
    this.#writeEach("tracing_on", "0");
  }

  /** Disables every event in every instance (each tried; removed later regardless). */
  disableEvents(): void {
    this.#writeEach("events/enable", "0");
  }

  #writeEach(file: string, text: string): void {
    for (const inst of this.all) {
      try {
        inst.write(file, text);
      } catch {
        // removed by release() regardless
      }
    }
  }

  /** Events the kernel could not record in any instance so far (per_cpu stats). */
  lost(): number {
    let n = 0;
    for (const inst of this.all) {
      const s = inst.stats();
      n += s.overrun + s.commitOverrun + s.dropped;
    }
    return n;
  }

  /** Closes the buffers, removes the instances, and ends the watchdog (which retries what failed). */
  async release(): Promise<void> {
    for (const p of this.pipes) p.pipe.close();
    for (const inst of this.all) inst.remove();
    await this.#watchdogIn.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        this.#watchdog.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    await this.#watchdog.status;
    clearTimeout(timer);
  }
}

/**
 * Makes every instance the target needs and starts recording: the main one
 * with the target's threads (never an empty PID set: that would trace every
 * task), the ring one where io_uring is traced, the exec one for `--comm`.
 * On failure everything made is released.
 * @param options the target
 * @param formats what the kernel has
 * @param beforeEvents called with the target's threads once the main
 *   instance's PID set is written, before any event is enabled (the
 *   aggregator is made there, and the trace clock's origin read)
 * @returns the instances, recording
 */
export async function openInstances(
  options: BackendOptions,
  formats: FtraceFormats,
  beforeEvents: (instances: FtraceInstances, tids: number[]) => void,
): Promise<FtraceInstances> {
  const has = (e: string) => formats.formats.has(e);
  const instances = new FtraceInstances();
  try {
    const main = instances.openMain();
    const tids = threadsOf(options.pids);
    if (tids.length === 0 && !options.cgroup) {
      throw new RunError(`cannot attach to process ${options.pids.join(", ")}: no such process`);
    }
    // An empty set_event_pid would trace every task: it is never left empty. An
    // empty cgroup starts with the watchdog, asleep in a read until the end.
    main.write("set_event_pid", (tids.length ? tids : [instances.watchdogPid]).join(" "));
    beforeEvents(instances, tids);
    if (formats.uring) instances.openRings();
    instances.enableMain(has, formats.uring);
    if (options.comm !== undefined && has(FTRACE_EVENTS.processExec)) {
      instances.openExecs(options.comm, has);
    }
    // Threads created while this was set up.
    const later = threadsOf(options.pids).filter((t) => !tids.includes(t));
    if (later.length) main.write("set_event_pid", later.join(" "), { append: true });
    instances.startRecording();
    return instances;
  } catch (e: unknown) {
    await instances.release();
    throw e;
  }
}
