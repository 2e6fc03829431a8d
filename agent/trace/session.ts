/**
 * A trace session: starts a backend for the target's processes, samples a
 * per-second timeline and /proc counters, and ends at the duration, when every
 * target process has exited, or when stopped; then builds the Run document.
 * Every end goes through one teardown (`#finish`).
 * @module
 */

import {
  type BackendChoice,
  type BackendName,
  openBackend,
  resolveBackend,
  type TraceBackend,
} from "./backends/mod.ts";
import { readCmdline, readStat, StatFiles } from "./proc.ts";
import {
  cgroupExists,
  type CgroupTarget,
  foreignPidNamespace,
  type PidNamespace,
} from "./cgroup.ts";
import { Timeline } from "./timeline.ts";
import { buildRun, type ProcDeltas, snapshotTotals, unsupportedMetrics } from "./run_builder.ts";
import { whyUnsupported } from "./_why_run.ts";
import { pageCacheUnsupported } from "./_page_cache_run.ts";
import { FdTable } from "./_fd_table.ts";
import type { IntervalDocument, RunDocument } from "../../schema/mod.ts";
import { type PerfResult, type PerfSession, startPerf, sweepStalePerfData } from "./perf.ts";
import { ensureTracefs, releaseTracefs } from "./tracefs.ts";
import { RunError } from "../mod.ts";
import { emptySnapshot, type Snapshot, SNAPSHOT_SLACK_MS } from "../../probes/mod.ts";
import { intervalDocument, p99BySyscall } from "./_interval.ts";
import { keepMallocTrimmable, RECLAIM_MS, reclaimMemory } from "./_reclaim.ts";

/** What to trace: thread group ids (every thread of each). */
export interface TraceTarget {
  pids: number[];
  /** The name that selected the PIDs (`--comm`, or a command's name), for the document. */
  comm?: string;
  /** The command line, when the agent started the command itself. */
  cmdline?: string;
  /** The thread id the user gave, when it was a thread of `pids[0]` and not a process. */
  threadGiven?: number;
  /**
   * `--cgroup DIR`: every process in the cgroup, those that join later too
   * (`pids` are its members at the start, maybe none). The trace ends at the
   * duration, on a signal, or when the directory is removed.
   */
  cgroup?: CgroupTarget;
  /**
   * Whether the target still runs, when its PIDs do not say (a command whose
   * daemon outlives the launcher). Default: one of `pids` is alive.
   */
  alive?: () => boolean;
}

/** How to trace. */
export interface TraceOptions {
  /**
   * The choice resolveBackend made, passed down as it is; a `--backend` value
   * is resolved here, once. @default "auto"
   */
  backend?: BackendName | BackendChoice;
  /** End after this long; without it, run until stopped or the target exits. */
  durationMs?: number;
  /** Also trace the processes the targets fork (`--follow`, a command ioscope starts). */
  followChildren?: boolean;
  /** `--comm NAME`: also every process that takes this name during the trace. */
  comm?: string;
  /**
   * perf over the same window as the backend: `perf stat` counters and/or
   * `perf record` samples for a flame graph; what it measures is in the Run.
   */
  perf?: { counters: boolean; flamegraph: boolean };
  /**
   * Report an Interval document this often (a whole number of snapshots:
   * fitsSnapshotRhythm), and a last, shorter one when the trace ends.
   */
  intervalMs?: number;
  /** Called with each interval, and the whole trace so far as one interval. */
  onInterval?: (last: IntervalDocument, total: IntervalDocument) => void;
}

/** Why a session ended. */
export type EndReason = "duration" | "target-exit" | "signal" | "stopped";

/** A running trace. */
export interface TraceSession {
  /** Milliseconds from `startTrace` to every probe attached. */
  readonly attachMs: number;
  /** The backend that is tracing (`auto` resolved, fallbacks taken). */
  readonly backendName: string;
  /** Resolves with the Run document when the session ends, however it ends. */
  readonly done: Promise<RunDocument>;
  /** Resolves the moment the trace window closes, before the backend detaches. */
  readonly ending: Promise<EndReason>;
  /** The Run document so far. */
  current(): RunDocument;
  /** Ends the session now (idempotent) and resolves with the Run document. */
  stop(reason?: EndReason): Promise<RunDocument>;
}

/** The longest delay setTimeout takes (a 32-bit signed count of ms: 24.8 days). */
const MAX_TIMER_MS = 0x7fffffff;
const EXIT_POLL_MS = 200;

/**
 * Why minor/major are not given when the traced set grows: /proc counts per
 * process, and a process that joined and exited between two samples is not
 * there to read, so they would cover fewer processes than faults.total.
 */
const FOLLOWED_FAULTS = {
  metric: "faults.minor",
  reason:
    "minor/major come from /proc per process and cannot cover the processes followed (forked, exec'd or joined) during the trace; faults.total counts their user-mode faults",
};

class Session implements TraceSession {
  attachMs = 0;
  done: Promise<RunDocument>;
  ending: Promise<EndReason>;
  #resolveEnding!: (reason: EndReason) => void;
  #resolveDone!: (run: RunDocument) => void;
  #rejectDone!: (e: Error) => void;
  #backend!: TraceBackend;
  #perf: PerfSession | null = null;
  #target: TraceTarget;
  #options: TraceOptions;
  #timeline = new Timeline();
  /** Seconds since attach that the timeline covers so far. */
  #sampledUpToS = 0;
  #lastTotals = { syscalls: 0, bytes: 0, faults: 0 };
  #lastSnapshot: Snapshot = emptySnapshot();
  /** The snapshot the current interval started from, and when (performance.now()). */
  #intervalFrom: Snapshot = emptySnapshot();
  #intervalFromMs = 0;
  #firstStat = new Map<number, { minflt: number; majflt: number }>();
  #lastStat = new Map<number, { minflt: number; majflt: number }>();
  #startedAt = new Date();
  #attachedAtMs = 0;
  #stoppedAtMs = 0;
  #timers: ReturnType<typeof setTimeout>[] = [];
  #finishing: Promise<RunDocument> | null = null;
  #endReason: EndReason = "stopped";

  constructor(target: TraceTarget, options: TraceOptions) {
    this.#target = target;
    this.#options = options;
    this.done = new Promise((res, rej) => {
      this.#resolveDone = res;
      this.#rejectDone = rej;
    });
    this.done.catch(() => {});
    this.ending = new Promise((res) => (this.#resolveEnding = res));
  }

  /** The backend that is tracing (`auto` resolved, fallbacks taken). */
  get backendName(): string {
    return this.#backend.name;
  }

  async start(): Promise<void> {
    const durationMs = this.#options.durationMs;
    // setTimeout takes a 32-bit delay: 2^31 ms or more would fire at once.
    if (durationMs !== undefined && !(durationMs >= 0 && durationMs <= MAX_TIMER_MS)) {
      throw new RangeError(`Invalid trace duration ${durationMs} ms: at most ${MAX_TIMER_MS}`);
    }
    const t0 = performance.now();
    // What a killed agent's perf record left (it can be hundreds of MiB).
    sweepStalePerfData();
    const why = ensureTracefs();
    if (why) throw new RunError(`tracefs is not usable: ${why}`);
    // Resolved here only when the caller passed a name (the CLI passes its choice).
    const asked = this.#options.backend ?? "auto";
    const choice = typeof asked === "string" ? resolveBackend(asked) : asked;
    this.#backend = await openBackend(choice, {
      pids: this.#target.pids,
      ...(this.#target.cgroup ? { cgroup: { ...this.#target.cgroup } } : {}),
      ...(this.#options.followChildren ? { followChildren: true } : {}),
      ...(this.#options.comm !== undefined ? { comm: this.#options.comm } : {}),
      onSnapshot: (s) => this.#tick(s),
      // /proc's fault counters from the moment the probes start counting.
      onOpening: () => {
        this.#firstStat.clear();
        this.#sampleProc();
      },
    });
    try {
      await this.#backend.attached;
      this.attachMs = Math.round(performance.now() - t0);
      this.#attachedAtMs = performance.now();
      this.#intervalFromMs = this.#attachedAtMs;
      this.#startedAt = new Date();
      // /proc's fault counters over the tracepoint's window: from the probes
      // attached (bpftrace's attach takes 1-3 s, its faults are not the trace's),
      // where the backend did not read them as its window opened.
      this.#sampleProc();
      const perf = this.#options.perf;
      if (perf && (perf.counters || perf.flamegraph)) {
        this.#perf = await startPerf(this.#target.pids, perf);
      }
    } catch (e: unknown) {
      await this.#backend.stop();
      this.#stats.close();
      releaseTracefs();
      throw e;
    }
    this.#backend.died.then((why) => {
      if (!this.#finishing) this.#fail(new RunError(why));
    });
    if (this.#options.durationMs !== undefined) {
      // Counted from the window's opening where the backend has one (its
      // gate opened before this point): duration_s is that window.
      const from = this.#backend.window?.()?.fromMs || this.#attachedAtMs;
      const left = Math.max(0, this.#options.durationMs - (performance.now() - from));
      this.#timers.push(setTimeout(() => this.stop("duration"), left));
    }
    // Garbage that V8 and malloc would keep resident for hours (_reclaim.ts).
    keepMallocTrimmable();
    this.#timers.push(setInterval(() => void reclaimMemory(), RECLAIM_MS));
    this.#timers.push(setInterval(() => {
      // /proc read as often: a target that exits is read within 200 ms of its end.
      const alive = this.#sampleProc();
      if (!this.#alive(alive)) this.stop("target-exit");
    }, EXIT_POLL_MS));
    // A target that was already gone when the probes attached ends the trace at once.
    if (!this.#alive()) this.stop("target-exit");
  }

  /**
   * Whether the target runs.
   * @param sampled what #sampleProc just found for the PIDs, to save reading them again
   */
  #alive(sampled?: boolean): boolean {
    const t = this.#target;
    if (t.alive) return t.alive();
    if (t.cgroup) return cgroupExists(t.cgroup.path);
    if (sampled !== undefined) return sampled;
    return t.pids.some((pid) => this.#stats.alive(pid, this.#stats.sample(pid)));
  }

  /** True once /proc was read after the probes attached, so fault deltas mean something. */
  #sampledSinceAttach = false;

  /** True when processes other than the targets join the traced set (--follow, --comm, --cgroup). */
  get #followsOthers(): boolean {
    return this.#options.followChildren === true || this.#options.comm !== undefined ||
      this.#target.cgroup !== undefined;
  }

  /** Seconds since the probes attached, to the millisecond. */
  #sinceAttachS(at: number): number {
    // The backend's own window where it has one (as duration_s), else attach.
    const from = this.#backend.window?.()?.fromMs || this.#attachedAtMs;
    return from ? Math.max(0, Math.round(at - from)) / 1000 : 0;
  }

  /**
   * A timeline point from the last sample to `at`: `t` when it starts and `dt`
   * how long it covers, in seconds since attach from the clock (snapshots
   * come 1.00-1.05 s apart, later on a busy host), not a sample index.
   */
  #sample(s: Snapshot, at = performance.now()): void {
    const totals = snapshotTotals(s);
    const end = this.#sinceAttachS(at);
    this.#timeline.push({
      t: this.#sampledUpToS,
      dt: Math.round((end - this.#sampledUpToS) * 1000) / 1000,
      syscalls: totals.syscalls - this.#lastTotals.syscalls,
      bytes: totals.bytes - this.#lastTotals.bytes,
      faults: totals.faults - this.#lastTotals.faults,
      p99_ns: p99BySyscall(this.#lastSnapshot, s),
    });
    this.#sampledUpToS = end;
    this.#lastTotals = totals;
    this.#lastSnapshot = s;
  }

  /** The targets' /proc/PID/stat, kept open while the session runs. */
  #stats = new StatFiles();

  /** Reads the targets' fault counters; returns whether one of the PIDs still runs. */
  #sampleProc(): boolean {
    let alive = false;
    for (const pid of this.#target.pids) {
      const st = this.#stats.sample(pid);
      // A zombie leader whose threads run still reads the whole group's counts.
      if (!st || !this.#stats.alive(pid, st)) continue;
      alive = true;
      const first = this.#firstStat.get(pid);
      if (!first) this.#firstStat.set(pid, { minflt: st.minflt, majflt: st.majflt });
      const last = this.#lastStat.get(pid);
      if (last) {
        last.minflt = st.minflt;
        last.majflt = st.majflt;
      } else this.#lastStat.set(pid, { minflt: st.minflt, majflt: st.majflt });
      if (this.#attachedAtMs) this.#sampledSinceAttach = true;
    }
    return alive;
  }

  /** The target's descriptors, resolved while it runs. */
  #fds = new FdTable();

  #tick(s: Snapshot): void {
    this.#fds.update(s);
    if (this.#finishing) return;
    this.#sampleProc();
    // Before the probes attached there is no window yet (bpftrace prints as it starts).
    if (this.#attachedAtMs) this.#sample(s);
    const every = this.#options.intervalMs;
    if (
      every !== undefined &&
      this.#intervalSeconds(s, performance.now()) * 1000 >= every - SNAPSHOT_SLACK_MS
    ) {
      this.#emitInterval(s, false);
    }
  }

  /**
   * Seconds from the current interval's start to snapshot `s`: by the kernel's
   * own times of the two snapshots where the backend gives them (bpftrace's
   * output can reach the agent a quarter second late under load), else by
   * when they reached the agent.
   */
  #intervalSeconds(s: Snapshot, nowMs: number): number {
    const from = this.#intervalFrom.takenNs;
    return from !== undefined && s.takenNs !== undefined && s.takenNs > from
      ? (s.takenNs - from) / 1e9
      : (nowMs - this.#intervalFromMs) / 1000;
  }

  /** Reports the interval that ends with snapshot `s`, and starts the next one. */
  #emitInterval(s: Snapshot, final: boolean): void {
    const now = final && this.#stoppedAtMs ? this.#stoppedAtMs : performance.now();
    const cache = pageCacheUnsupported(this.#backend.name, s);
    const info = {
      pids: [...this.#target.pids],
      comm: this.#comm,
      backend: this.#backend.name,
      final,
      // What the Run would list now (the live view shows it).
      unsupported: unsupportedMetrics(
        [
          ...this.#backend.unsupported,
          ...whyUnsupported(
            this.#backend.name,
            s,
            [...s.io_uring.values()].some((o) =>
              o.count > 0 || o.hist.size > 0 || (o.untimed ?? 0) > 0
            ),
          ),
          ...(cache ? [cache] : []),
        ],
        this.#procDeltas(),
      ),
    };
    const sinceAttach = (now - this.#attachedAtMs) / 1000;
    const seconds = this.#intervalSeconds(s, now);
    const last = intervalDocument(this.#intervalFrom, s, { ...info, tS: sinceAttach, seconds });
    const total = intervalDocument(emptySnapshot(), s, {
      ...info,
      tS: sinceAttach,
      seconds: sinceAttach,
    });
    this.#intervalFrom = s;
    this.#intervalFromMs = now;
    try {
      this.#options.onInterval?.(last, total);
    } catch {
      // a listener's failure must not end the trace
    }
  }

  /** /proc's fault counters over the window, or why they cannot be given. */
  #procDeltas(): ProcDeltas {
    let minflt = 0;
    let majflt = 0;
    for (const [p, first] of this.#firstStat) {
      const last = this.#lastStat.get(p) ?? first;
      minflt += last.minflt - first.minflt;
      majflt += last.majflt - first.majflt;
    }
    // A target that exited before its first one-second sample has no /proc to read.
    const known = this.#firstStat.size > 0 && this.#sampledSinceAttach && !this.#followsOthers;
    if (known) return { minflt, majflt };
    return {
      minflt: null,
      majflt: null,
      ...(this.#followsOthers && this.#sampledSinceAttach ? { reason: FOLLOWED_FAULTS } : {}),
    };
  }

  #build(s: Snapshot, exited: boolean, perf: PerfResult | null = null): RunDocument {
    const end = this.#stoppedAtMs || performance.now();
    // The backend's own counting window where it has one: its edges are the
    // kernel's, not this event loop's (late by tens of ms on a busy host).
    const w = this.#backend.window?.();
    const durationMs = w
      ? (w.toMs ?? end) - w.fromMs
      : this.#attachedAtMs
      ? end - this.#attachedAtMs
      : 0;
    const t = this.#target;
    return buildRun(s, {
      target: {
        pids: t.pids,
        comm: this.#comm,
        cmdline: this.#cmdline,
        ...(t.threadGiven !== undefined ? { threadGiven: t.threadGiven } : {}),
        followedChildren: this.#options.followChildren === true ||
          this.#options.comm !== undefined,
        ...(t.cgroup ? { cgroup: t.cgroup } : {}),
        pidNamespace: this.#pidNamespace,
      },
      backend: this.#backend,
      host: Deno.hostname(),
      kernel: Deno.osRelease(),
      startedAt: this.#startedAt,
      durationMs,
      attachMs: this.attachMs,
      targetExited: exited,
      endReason: this.#endReason,
      timeline: this.#timeline.points(),
      proc: this.#procDeltas(),
      perf,
      fds: this.#fds.known,
    });
  }

  #comm = "";
  #cmdline = "";
  #pidNamespace: PidNamespace | null = null;
  describe(): void {
    const pid = this.#target.pids[0] ?? 0;
    this.#comm = this.#target.comm ?? readStat(pid)?.comm ?? "";
    this.#cmdline = this.#target.cmdline ?? readCmdline(pid);
    this.#pidNamespace = pid > 0 ? foreignPidNamespace(pid) : null;
  }

  current(): RunDocument {
    return this.#build(this.#backend.latest(), false);
  }

  #fail(e: Error): void {
    this.#finishing ??= (async () => {
      this.#resolveEnding("stopped");
      for (const t of this.#timers) clearTimeout(t);
      await this.#perf?.stop().catch(() => {});
      await this.#backend.stop();
      this.#stats.close();
      releaseTracefs();
      this.#rejectDone(e);
      throw e;
    })();
    this.#finishing.catch(() => {});
  }

  stop(reason: EndReason = "stopped"): Promise<RunDocument> {
    this.#finishing ??= (async () => {
      this.#endReason = reason;
      this.#stoppedAtMs = performance.now();
      this.#resolveEnding(reason);
      for (const t of this.#timers) clearTimeout(t);
      const exited = reason === "target-exit" || !this.#alive();
      // perf counts over the same window as the backend: both stop as it closes.
      const perfStopped = this.#perf?.stop() ?? Promise.resolve(null);
      perfStopped.catch(() => {});
      // /proc the moment the probes stop counting: the same window's end.
      let closed = false;
      const final = await this.#backend.stop(() => {
        closed = true;
        this.#sampleProc();
      });
      if (!closed) this.#sampleProc();
      this.#stats.close();
      this.#fds.update(final);
      releaseTracefs();
      // The last point: from the last sample to the end of the window.
      if (this.#attachedAtMs) {
        this.#sample(final, this.#backend.window?.()?.toMs ?? this.#stoppedAtMs);
      }
      // The calls since the last interval: the intervals add up to the whole trace.
      if (this.#options.intervalMs !== undefined && this.#attachedAtMs) {
        this.#emitInterval(final, true);
      }
      let perf: PerfResult | null;
      try {
        perf = await perfStopped;
      } catch (e: unknown) {
        this.#rejectDone(e instanceof Error ? e : new Error(String(e)));
        throw e;
      }
      const run = this.#build(final, exited, perf);
      this.#resolveDone(run);
      return run;
    })();
    return this.#finishing;
  }
}

/**
 * Starts tracing the target; resolves once every probe is attached.
 * @param target the processes to trace
 * @param options backend, duration, listeners
 * @returns the running session
 * @example
 * ```ts ignore
 * const session = await startTrace({ pids: [1234] }, { durationMs: 5000 });
 * const run = await session.done;
 * console.log(run.syscalls.pread64?.p99_ns);
 * ```
 */
export async function startTrace(
  target: TraceTarget,
  options: TraceOptions = {},
): Promise<TraceSession> {
  if (target.pids.length === 0 && !target.cgroup) throw new RangeError("No process to trace");
  const session = new Session(target, options);
  session.describe();
  try {
    await session.start();
  } catch (e: unknown) {
    releaseTracefs();
    throw e;
  }
  return session;
}
