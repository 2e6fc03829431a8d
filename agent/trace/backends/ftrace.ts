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
import { isElf32, tgidOf } from "../proc.ts";
import { FTRACE_EVENTS, FtraceAggregator, type Snapshot } from "../../../probes/mod.ts";
import { type FtraceFormats, loadFtraceFormats, openInstances } from "./_ftrace_setup.ts";
import { TargetFollower } from "./_ftrace_follow.ts";
import { FtraceLoop, type OnPage, RecordMerger } from "./_ftrace_loop.ts";

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

/** Hooks for recording test fixtures; not for normal use. */
export interface FtraceRecordingOptions {
  /** Called with every page read, before it is parsed. */
  onPage?: OnPage;
}

/** The aggregator for the target's threads, with what it asks of /proc. */
function aggregatorFor(
  options: BackendOptions,
  formats: FtraceFormats,
  tids: number[],
): FtraceAggregator {
  return new FtraceAggregator(formats.formats, {
    tids,
    pids: options.pids,
    tgidOf,
    // x86_64 only (other hosts are refused): a 32-bit process makes compat calls.
    isCompat: (pid) => isElf32(`/proc/${pid}/exe`),
    tlbSupported: formats.formats.has(FTRACE_EVENTS.tlbFlush),
    // A cgroup's members' children are in it too.
    followChildren: options.followChildren === true || options.cgroup !== undefined,
    ...(options.comm !== undefined ? { comm: options.comm } : {}),
  });
}

/**
 * Starts the ftrace backend for the given processes: reads the formats, sets
 * up the instances (`_ftrace_setup.ts`), starts the loop that reads them
 * (`_ftrace_loop.ts`) and follows the target (`_ftrace_follow.ts`). Tracefs
 * must be mounted (the session ensures it).
 * @param options the processes and a snapshot listener
 * @param recording hooks for recording fixtures
 * @returns the running backend, every event enabled
 */
export async function startFtrace(
  options: BackendOptions,
  recording: FtraceRecordingOptions = {},
): Promise<TraceBackend> {
  const formats = loadFtraceFormats();
  let aggregator!: FtraceAggregator;
  let baseTs = 0n;
  const instances = await openInstances(options, formats, (inst, tids) => {
    aggregator = aggregatorFor(options, formats, tids);
    baseTs = inst.main.nowNs();
  });
  const follower = new TargetFollower(options, instances, aggregator);
  const merger = new RecordMerger({
    instances,
    aggregator,
    baseTs,
    header: formats.header,
    follower,
    onPage: recording.onPage,
  });
  const loop = new FtraceLoop(merger, instances, aggregator, options.onSnapshot);

  let stopped: Promise<Snapshot> | null = null;
  // The trace window starts now (every event is enabled): what ended before,
  // in the moments the instances were set up, is not counted.
  const windowFrom = Number(instances.main.nowNs() - baseTs);
  aggregator.setWindow(windowFrom);
  const edges: { fromMs: number; toMs: number | null } = { fromMs: performance.now(), toMs: null };
  return {
    name: "ftrace",
    attached: Promise.resolve(),
    died: loop.died,
    unsupported: formats.unsupported,
    latest: () => loop.latest,
    compatCheck: FTRACE_COMPAT_CHECK,
    window: () => ({ ...edges }),
    stop(onClosed?: () => void): Promise<Snapshot> {
      loop.halt();
      stopped ??= (async () => {
        // The window ends now: what ends after this is not counted.
        aggregator.setWindow(windowFrom, Number(instances.main.nowNs() - baseTs));
        edges.toMs = performance.now();
        // Stop recording first (every instance at once), then disable the
        // events, read what was recorded, and remove.
        instances.stopRecording();
        onClosed?.();
        instances.disableEvents();
        loop.drain();
        await instances.release();
        return loop.final();
      })();
      return stopped;
    },
  };
}
