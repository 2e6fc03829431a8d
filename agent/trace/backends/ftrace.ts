/**
 * The ftrace backend: the same measurements as the bpftrace backend with
 * nothing but the kernel's tracefs.
 *
 * It creates a private instance (`instances/ioscope-<pid>-<start>`) with the
 * target's threads in `set_event_pid` (and `event-fork`, so new threads are
 * followed), enables raw_syscalls (filtered in the kernel to the I/O
 * syscalls), page faults, TLB flushes, context switches, new tasks and
 * io_uring submissions, async punts and completions there, and a second
 * instance (`...-uring`) for completions of the target's rings posted by any
 * task (completions may run in another task's context), filtered by ring
 * instead of by PID. Once a ring is known from a submission, its
 * completions move from the first instance's filter to the second's, so
 * none is lost or counted twice (see completionFilters in
 * probes/ftrace.ts). Every 100 ms it reads each
 * CPU's binary buffer (`per_cpu/cpuN/trace_pipe_raw`, non-blocking), merges
 * the CPUs' records in timestamp order up to the trace clock read before the
 * pass, and feeds them to probes/ftrace.ts; lost events come from
 * `per_cpu/cpuN/stats`.
 *
 * One way out: `stop()` disables every event, reads what is left, closes the
 * buffers and removes both instances, whatever went wrong before. A watchdog
 * shell (its own session, reading a pipe from the agent) does the same if
 * the agent dies without stopping, even by SIGKILL: the pipe closes and it
 * removes the instances. `sweepStaleInstances()` removes what a run on an
 * older version, or a host crash, left.
 * @module
 */

import type { BackendOptions, TraceBackend } from "./trace_backend.ts";
import { cgroupPids } from "../cgroup.ts";
import { RunError } from "../../errors.ts";
import { CpuPipe } from "./_ftrace_reader.ts";
import { FtraceInstance, instanceName, INSTANCES, sweepStaleInstances } from "./ftrace_instance.ts";
import type { Unsupported } from "../../../schema/mod.ts";
import { isElf32, tgidOf } from "../proc.ts";
import { ensureTracefs, eventFormat, readTracefsText, TRACEFS } from "../tracefs.ts";
import {
  completionFilters,
  FTRACE_EVENTS,
  FtraceAggregator,
  syscallFilter,
} from "../../../probes/ftrace.ts";
import { readPage } from "../../../probes/ftrace_buffer.ts";
import {
  type FtraceEventFormat,
  parseEventFormat,
  parseHeaderPage,
} from "../../../probes/ftrace_format.ts";
import type { Snapshot } from "../../../probes/snapshot.ts";

/**
 * What the ftrace backend does with 32-bit (compat) calls (the Run's
 * meta.compat_check): raw_syscalls records carry no compat flag and tracefs
 * filters cannot read the task's, so a process is taken as 32-bit by its
 * executable's ELF class. tests/agent/trace/backends/compat_int80_test.ts
 * measures the gap.
 */
export const FTRACE_COMPAT_CHECK = "by the executable's ELF class only: a 32-bit program's " +
  "calls are counted apart (those whose number passes the x86_64 filter); a 64-bit " +
  "program's int 0x80 calls cannot be told apart and are counted under x86_64 names";

export { sweepStaleInstances };

/** How often the buffers are read. */
const POLL_MS = 100;
/**
 * How often, with --comm, the exec instance alone is read between full
 * passes: a process that execs or is renamed to the name joins set_event_pid
 * within this, not within POLL_MS (what it does before is missed).
 */
const EXEC_POLL_MS = 10;
/** How often a traced cgroup's cgroup.procs is read for processes that joined it. */
const CGROUP_POLL_MS = 250;
/** How often a snapshot is handed to the session. */
const SNAPSHOT_MS = 1000;
/** Pages read from one CPU in one pass at most (so a flood cannot stall the agent). */
const MAX_PAGES_PER_PASS = 4096;

/** One record waiting to be fed in timestamp order; `view` null marks a gap. */
interface Pending {
  ts: number;
  view: DataView | null;
  at: number;
  /** The instance's index in `instances`. */
  source: number;
}

/** Reads an event's format from tracefs, or null when the event does not exist. */
function loadFormat(event: string): FtraceEventFormat | null {
  const [group = "", name = ""] = event.split(":");
  try {
    return parseEventFormat(
      eventFormat(group, name),
      group,
    );
  } catch {
    return null;
  }
}

/** True while a task (thread or process) with this id exists. */
function isTask(tid: number): boolean {
  try {
    Deno.statSync(`/proc/${tid}`);
    return true;
  } catch {
    return false;
  }
}

/** Every thread id of the processes, from /proc/PID/task. */
export function threadsOf(pids: readonly number[]): number[] {
  const tids: number[] = [];
  for (const pid of pids) {
    try {
      for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
        if (/^\d+$/.test(e.name)) tids.push(Number(e.name));
      }
    } catch {
      // exited
    }
  }
  return tids;
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

/** Hooks for recording test fixtures; not for normal use. */
export interface FtraceRecordingOptions {
  /** Called with every page read, before it is parsed. */
  onPage?: (role: "main" | "uring", cpu: number, page: Uint8Array) => void;
}

/**
 * Starts the ftrace backend for the given processes.
 * @param options the processes and a snapshot listener
 * @param recording hooks for recording fixtures
 * @returns the running backend, every event enabled
 */
export async function startFtrace(
  options: BackendOptions,
  recording: FtraceRecordingOptions = {},
): Promise<TraceBackend> {
  const why = ensureTracefs();
  if (why) throw new RunError(`tracefs is not usable: ${why}`);
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
  const has = (e: string) => formats.has(e);
  if (!has(FTRACE_EVENTS.tlbFlush)) {
    unsupported.push({
      metric: "tlb.flushes",
      reason: "no tlb:tlb_flush tracepoint on this kernel",
    });
  }
  if (!has(FTRACE_EVENTS.pageFault)) {
    unsupported.push({
      metric: "faults.total",
      reason: "no exceptions:page_fault_user tracepoint on this kernel",
    });
  }
  const uring = has(FTRACE_EVENTS.uringSubmit) && has(FTRACE_EVENTS.uringComplete);
  if (!uring) {
    unsupported.push({ metric: "io_uring", reason: "no io_uring tracepoints on this kernel" });
  }
  const header = (() => {
    try {
      return parseHeaderPage(readTracefsText(`${TRACEFS}/events/header_page`));
    } catch {
      return undefined;
    }
  })();

  const mainName = instanceName();
  const uringName = instanceName("uring");
  const execName = instanceName("exec");
  const watchdog = startWatchdog(
    [mainName, uringName, execName].map((n) => `${INSTANCES}/${n}`),
  );
  const watchdogIn = watchdog.stdin.getWriter();
  const instances: FtraceInstance[] = [];
  const pipes: { pipe: CpuPipe; role: "main" | "uring" | "exec"; source: number }[] = [];

  /** Closes the buffers, removes the instances, and ends the watchdog (which retries what failed). */
  async function release(): Promise<void> {
    for (const p of pipes) p.pipe.close();
    for (const inst of instances) inst.remove();
    await watchdogIn.close().catch(() => {});
    const timer = setTimeout(() => {
      try {
        watchdog.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 5000);
    await watchdog.status;
    clearTimeout(timer);
  }

  let main: FtraceInstance;
  let rings: FtraceInstance | null = null;
  let execs: FtraceInstance | null = null;
  let eventFork = false;
  let aggregator: FtraceAggregator;
  let baseTs: bigint;
  try {
    main = new FtraceInstance(mainName);
    instances.push(main);
    // Nothing is recorded until every event is enabled, and nothing after
    // stop() turns recording off: each event enabled or disabled in turn
    // (each waits for RCU, tens of ms on a busy host) would give each its own window.
    main.write("tracing_on", "0");
    const cpus = main.cpus();
    main.write("buffer_size_kb", String(bufferKb(cpus.length)));
    // With event-fork the kernel adds what a traced task forks to
    // set_event_pid, and removes each task when it is freed, so the list
    // never holds an exited task's id for a later process to inherit.
    try {
      main.write("options/event-fork", "1");
      eventFork = true;
    } catch {
      // older kernels: new threads are still added from task_newtask, a poll later
    }
    const tids = threadsOf(options.pids);
    if (tids.length === 0 && !options.cgroup) {
      throw new RunError(`cannot attach to process ${options.pids.join(", ")}: no such process`);
    }
    // An empty set_event_pid would trace every task: it is never left empty. An
    // empty cgroup starts with the watchdog, asleep in a read until the end.
    main.write("set_event_pid", (tids.length ? tids : [watchdog.pid]).join(" "));
    aggregator = new FtraceAggregator(formats, {
      tids,
      pids: options.pids,
      tgidOf,
      // x86_64 only (other hosts are refused): a 32-bit process makes compat calls.
      isCompat: (pid) => isElf32(`/proc/${pid}/exe`),
      tlbSupported: has(FTRACE_EVENTS.tlbFlush),
      // A cgroup's members' children are in it too.
      followChildren: options.followChildren === true || options.cgroup !== undefined,
      ...(options.comm !== undefined ? { comm: options.comm } : {}),
    });
    baseTs = main.nowNs();
    if (uring) {
      rings = new FtraceInstance(uringName);
      instances.push(rings);
      rings.write("tracing_on", "0");
      rings.write("buffer_size_kb", String(Math.max(512, bufferKb(cpus.length) >> 2)));
      rings.enable(FTRACE_EVENTS.uringComplete, completionFilters([]).known);
    }
    const filter = syscallFilter();
    main.enable(FTRACE_EVENTS.sysEnter, filter);
    main.enable(FTRACE_EVENTS.sysExit, filter);
    for (
      const e of [
        FTRACE_EVENTS.pageFault,
        FTRACE_EVENTS.tlbFlush,
        FTRACE_EVENTS.schedSwitch,
        FTRACE_EVENTS.newTask,
        FTRACE_EVENTS.processExit,
        FTRACE_EVENTS.processExec,
        ...(uring
          ? [FTRACE_EVENTS.uringSubmit, FTRACE_EVENTS.uringComplete, FTRACE_EVENTS.uringAsync]
          : []),
      ]
    ) {
      if (has(e)) main.enable(e);
    }
    if (options.comm !== undefined && has(FTRACE_EVENTS.processExec)) {
      // Processes that take the name later, by exec, whoever they are: an
      // instance without a PID filter, its exec records filtered by name
      // (a name a filter cannot quote is filtered here instead).
      execs = new FtraceInstance(execName);
      instances.push(execs);
      execs.write("tracing_on", "0");
      execs.write("buffer_size_kb", "256");
      const quotable = /^[\w .:@+-]*$/.test(options.comm);
      execs.enable(FTRACE_EVENTS.processExec, quotable ? `comm == "${options.comm}"` : undefined);
      // And those that take it by rename (prctl PR_SET_NAME, /proc/PID/comm).
      if (has(FTRACE_EVENTS.taskRename)) {
        execs.enable(
          FTRACE_EVENTS.taskRename,
          quotable ? `newcomm == "${options.comm}"` : undefined,
        );
      }
    }
    // Threads created while this was set up.
    const later = threadsOf(options.pids).filter((t) => !tids.includes(t));
    if (later.length) main.write("set_event_pid", later.join(" "), { append: true });
    for (const inst of instances) inst.write("tracing_on", "1");
    const pageSize = subBufferBytes();
    for (const [source, inst] of instances.entries()) {
      const role = inst === main ? "main" : inst === rings ? "uring" : "exec";
      for (const cpu of inst.cpus()) {
        pipes.push({ pipe: new CpuPipe(inst.path, cpu, pageSize), role, source });
      }
    }
  } catch (e: unknown) {
    await release();
    throw e;
  }

  let pending: Pending[] = [];
  let lost = 0;
  let latest: Snapshot = aggregator.snapshot();
  let stopping = false;
  let resolveDied!: (why: string) => void;
  const died = new Promise<string>((res) => (resolveDied = res));

  function readLost(): number {
    let n = 0;
    for (const inst of instances) {
      const s = inst.stats();
      n += s.overrun + s.commitOverrun + s.dropped;
    }
    return n;
  }

  /** Reads every CPU's buffer and feeds the records up to the watermark. */
  function pass(final: boolean): void {
    const watermark = final ? Infinity : Number(main.nowNs() - baseTs);
    for (const { pipe, role, source } of pipes) {
      for (let i = 0; i < MAX_PAGES_PER_PASS; i++) {
        const bytes = pipe.readPage();
        if (!bytes) break;
        if (role !== "exec") recording.onPage?.(role, pipe.cpu, bytes);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const info = readPage(
          view,
          baseTs,
          (ts, at) => pending.push({ ts, view, at, source }),
          header,
        );
        if (info.missed !== 0) {
          pending.push({ ts: Number(info.timestamp - baseTs), view: null, at: 0, source });
        }
      }
    }
    pending.sort((a, b) => a.ts - b.ts);
    let i = 0;
    for (; i < pending.length; i++) {
      const p = pending[i] as Pending;
      if (p.ts > watermark) break;
      if (p.view) aggregator.feed(p.ts, p.view, p.at, p.source);
      else aggregator.gap(p.ts);
    }
    pending = i === pending.length ? [] : pending.slice(i);
    if (final) return;
    follow();
  }

  /** The cgroup's members seen so far, and when cgroup.procs was last read. */
  const members = new Set(options.pids);
  let cgroupReadAt = performance.now();

  /** Adds the processes that joined the cgroup since the last look (every 250 ms). */
  function followCgroup(): void {
    if (!options.cgroup || performance.now() - cgroupReadAt < CGROUP_POLL_MS) return;
    cgroupReadAt = performance.now();
    const joined = cgroupPids(options.cgroup.path).filter((p) => !members.has(p));
    if (joined.length === 0) return;
    for (const p of joined) members.add(p);
    const tids = threadsOf(joined);
    if (tids.length === 0) return;
    aggregator.track(tids);
    main.write("set_event_pid", tids.join(" "), { append: true });
  }

  /** Follows what the records showed: new threads, forked processes, new rings. */
  function follow(): void {
    followCgroup();
    // An id written here for a task that has exited stays in the list (the
    // kernel removes tasks as they are freed, not ids written later), and a
    // later process given that id would be traced: only live tasks are added.
    // With event-fork the kernel has already added what the target forked.
    const forked = aggregator.takeNewThreads();
    // A process that joined by exec or rename: all its threads (a renamed one may have many).
    const threads = [...(eventFork ? [] : forked), ...threadsOf(aggregator.takeJoined())]
      .filter(isTask);
    if (threads.length) main.write("set_event_pid", threads.join(" "), { append: true });
    const foreign = aggregator.takeForeignTasks().filter(isTask);
    if (foreign.length) {
      try {
        main.write("set_event_notrace_pid", foreign.join(" "), { append: true });
      } catch {
        // kernels before 5.8 lack it: their records are dropped in user space
      }
    }
    if (!rings) return;
    if (aggregator.takeNewRings().length) {
      // Widen the main instance first, then narrow the ring instance: a
      // completion in between is seen twice, and the second finds its
      // request already matched (or, multishot, the same timestamp).
      const filters = completionFilters(aggregator.rings());
      main.setFilter(FTRACE_EVENTS.uringComplete, filters.others);
      rings.setFilter(FTRACE_EVENTS.uringComplete, filters.known);
    }
  }

  let lastSnapshot = performance.now();
  let timer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Between full passes: the exec instance's records (processes taking the
   * --comm name) are fed at once, out of order with the main instance's,
   * which is safe as they only add to the traced set; then the set is written.
   */
  function execPass(): void {
    let seen = false;
    for (const { pipe, role, source } of pipes) {
      if (role !== "exec") continue;
      for (let i = 0; i < MAX_PAGES_PER_PASS; i++) {
        const bytes = pipe.readPage();
        if (!bytes) break;
        seen = true;
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        readPage(view, baseTs, (ts, at) => aggregator.feed(ts, view, at, source), header);
      }
    }
    if (seen) follow();
  }

  let lastPass = performance.now();
  function loop(): void {
    timer = null;
    if (stopping) return;
    try {
      if (execs && performance.now() - lastPass < POLL_MS - EXEC_POLL_MS / 2) {
        execPass();
        timer = setTimeout(loop, EXEC_POLL_MS);
        return;
      }
      lastPass = performance.now();
      pass(false);
      if (performance.now() - lastSnapshot >= SNAPSHOT_MS) {
        lastSnapshot += SNAPSHOT_MS;
        lost = readLost();
        latest = aggregator.snapshot(lost);
        options.onSnapshot?.(latest);
      }
    } catch (e: unknown) {
      resolveDied(`the ftrace backend failed: ${e instanceof Error ? e.message : e}`);
      return;
    }
    timer = setTimeout(loop, execs ? EXEC_POLL_MS : POLL_MS);
  }
  timer = setTimeout(loop, execs ? EXEC_POLL_MS : POLL_MS);

  let stopped: Promise<Snapshot> | null = null;
  // The trace window starts now (every event is enabled): what ended before,
  // in the moments the instances were set up, is not counted.
  const windowFrom = Number(main.nowNs() - baseTs);
  aggregator.setWindow(windowFrom);
  const edges: { fromMs: number; toMs: number | null } = { fromMs: performance.now(), toMs: null };
  return {
    name: "ftrace",
    attached: Promise.resolve(),
    died,
    unsupported,
    compatCheck: FTRACE_COMPAT_CHECK,
    latest: () => latest,
    window: () => ({ ...edges }),
    stop(onClosed?: () => void): Promise<Snapshot> {
      stopping = true;
      stopped ??= (async () => {
        if (timer !== null) clearTimeout(timer);
        // The window ends now: what ends after this is not counted.
        aggregator.setWindow(windowFrom, Number(main.nowNs() - baseTs));
        edges.toMs = performance.now();
        // Stop recording first (every instance at once), then disable the
        // events, read what was recorded, and remove.
        for (const inst of instances) {
          try {
            inst.write("tracing_on", "0");
          } catch {
            // removed below regardless
          }
        }
        onClosed?.();
        for (const inst of instances) {
          try {
            inst.write("events/enable", "0");
          } catch {
            // removed below regardless
          }
        }
        try {
          pass(true);
          lost = readLost();
        } catch {
          // keep what was read
        }
        await release();
        latest = aggregator.snapshot(lost, { final: true });
        return latest;
      })();
      return stopped;
    },
  };
}
