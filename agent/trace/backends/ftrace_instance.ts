/**
 * Private tracefs instances for the ftrace backend: creating one, writing its
 * control files, reading its per-CPU statistics, and removing it (ours at
 * the end, and stale ones that a killed agent left behind).
 *
 * An instance is named `ioscope-<agent pid>-<agent start time>[-role]`; the
 * start time (clock ticks since boot, /proc/PID/stat field 22) tells a live
 * agent from a later process that reuses its PID.
 * @module
 */

import { RunError } from "../../mod.ts";
import { readTracefsText, TRACEFS } from "../tracefs.ts";

/** Where instances live. */
export const INSTANCES = `${TRACEFS}/instances`;

/** Every instance this agent creates starts with this. */
export const INSTANCE_PREFIX = "ioscope-";

/** A process's start time in clock ticks since boot, or null when it does not exist. */
export function processStartTime(pid: number): number | null {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * The instance name for this agent.
 * @param role what the instance is for, appended when given
 * @returns `ioscope-<pid>-<start time>[-role]`
 */
export function instanceName(role?: string): string {
  const base = `${INSTANCE_PREFIX}${Deno.pid}-${processStartTime(Deno.pid) ?? 0}`;
  return role ? `${base}-${role}` : base;
}

/**
 * Parses an instance name made by {@linkcode instanceName}.
 * @param name a directory name under instances/
 * @returns the agent's PID and start time (null for names without one), or null
 * @example
 * ```ts
 * import { parseInstanceName } from "./ftrace_instance.ts";
 * const p = parseInstanceName("ioscope-4242-9876-uring");
 * console.assert(p?.pid === 4242 && p?.startTime === 9876);
 * ```
 */
export function parseInstanceName(name: string): { pid: number; startTime: number | null } | null {
  const m = /^ioscope-(\d+)(?:-(\d+))?(?:-[a-z]+)?$/.exec(name);
  if (!m) return null;
  return { pid: Number(m[1]), startTime: m[2] === undefined ? null : Number(m[2]) };
}

/** Lost-event counters of one instance, summed over its CPUs. */
export interface InstanceStats {
  /** Events overwritten before they were read (overwrite mode). */
  overrun: number;
  /** Events lost while a writer was interrupted by another (nested) writer. */
  commitOverrun: number;
  /** Events dropped because the buffer was full (no-overwrite mode). */
  dropped: number;
}

/**
 * Parses a `per_cpu/cpuN/stats` file.
 * @param text its contents
 * @returns the counters, and `nowNs`: the trace clock when it was read
 */
export function parseCpuStats(text: string): InstanceStats & { nowNs: bigint | null } {
  const num = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(text)?.[1] ?? 0);
  const now = /^now ts:\s*(\d+)\.(\d+)/m.exec(text);
  return {
    overrun: num("overrun"),
    commitOverrun: num("commit overrun"),
    dropped: num("dropped events"),
    nowNs: now
      ? BigInt(now[1] ?? 0) * 1_000_000_000n +
        BigInt((now[2] ?? "0").padEnd(6, "0").slice(0, 6)) * 1000n
      : null,
  };
}

/** One private tracefs instance. Every change it makes is undone by `remove()`. */
export class FtraceInstance {
  readonly name: string;
  readonly path: string;
  #removed = false;

  /**
   * Creates the instance directory.
   * @param name the directory name under instances/
   */
  constructor(name: string) {
    this.name = name;
    this.path = `${INSTANCES}/${name}`;
    try {
      Deno.mkdirSync(this.path);
    } catch (e: unknown) {
      throw new RunError(`cannot create the tracefs instance ${this.path}: ${message(e)}`);
    }
  }

  /**
   * Writes a control file of the instance (truncating it).
   * @param file the path inside the instance
   * @param text what to write
   * @param options append instead of replacing (set_event_pid lists)
   */
  write(file: string, text: string, options: { append?: boolean } = {}): void {
    const { append = false } = options;
    try {
      Deno.writeTextFileSync(`${this.path}/${file}`, text, { append });
    } catch (e: unknown) {
      throw new RunError(
        `cannot write '${text.slice(0, 60)}' to ${this.path}/${file}: ${message(e)}`,
      );
    }
  }

  /** Reads a control file of the instance. */
  read(file: string): string {
    return readTracefsText(`${this.path}/${file}`);
  }

  /** The CPUs that have a buffer in this instance. */
  cpus(): number[] {
    const cpus: number[] = [];
    for (const e of Deno.readDirSync(`${this.path}/per_cpu`)) {
      const m = /^cpu(\d+)$/.exec(e.name);
      if (m) cpus.push(Number(m[1]));
    }
    return cpus.sort((a, b) => a - b);
  }

  /**
   * Enables one event, with a filter when given.
   * @param event `group:name`
   * @param filter an ftrace filter expression
   */
  enable(event: string, filter?: string): void {
    const dir = `events/${event.replace(":", "/")}`;
    if (filter !== undefined) this.write(`${dir}/filter`, filter);
    this.write(`${dir}/enable`, "1");
  }

  /**
   * Sets an event's filter (while it is enabled).
   * @param event `group:name`
   * @param filter an ftrace filter expression
   */
  setFilter(event: string, filter: string): void {
    this.write(`events/${event.replace(":", "/")}/filter`, filter);
  }

  /** Lost-event counters summed over CPUs. */
  stats(): InstanceStats {
    const total: InstanceStats = { overrun: 0, commitOverrun: 0, dropped: 0 };
    for (const cpu of this.cpus()) {
      const s = parseCpuStats(this.read(`per_cpu/cpu${cpu}/stats`));
      total.overrun += s.overrun;
      total.commitOverrun += s.commitOverrun;
      total.dropped += s.dropped;
    }
    return total;
  }

  /** The trace clock now, in nanoseconds (from the first CPU's stats). */
  nowNs(): bigint {
    const cpu = this.cpus()[0] ?? 0;
    const now = parseCpuStats(this.read(`per_cpu/cpu${cpu}/stats`)).nowNs;
    if (now === null) throw new RunError(`${this.path}/per_cpu/cpu${cpu}/stats has no 'now ts'`);
    return now;
  }

  /**
   * Disables every event and removes the instance. Idempotent; never throws.
   * Files of the instance must be closed first, or the kernel refuses (EBUSY).
   * @returns problems met, empty when the instance is gone
   */
  remove(): string[] {
    if (this.#removed) return [];
    const problems = removeInstanceDir(this.path);
    if (problems.length === 0) this.#removed = true;
    return problems;
  }
}

/**
 * Disables an instance's events, empties its PID lists and removes it.
 * @param path the instance directory
 * @returns problems met, empty when it is gone
 */
export function removeInstanceDir(path: string): string[] {
  const problems: string[] = [];
  const quiet = (file: string, text: string) => {
    try {
      Deno.writeTextFileSync(`${path}/${file}`, text);
    } catch (e: unknown) {
      if (!(e instanceof Deno.errors.NotFound)) problems.push(`${file}: ${message(e)}`);
    }
  };
  quiet("events/enable", "0");
  quiet("tracing_on", "0");
  quiet("set_event_pid", "");
  quiet("set_event_notrace_pid", "");
  for (let attempt = 0;; attempt++) {
    try {
      Deno.removeSync(path);
      return [];
    } catch (e: unknown) {
      if (e instanceof Deno.errors.NotFound) return [];
      // EBUSY while a reader still has a file open; it closes within moments.
      if (attempt >= 20) return [...problems, `rmdir ${path}: ${message(e)}`];
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    }
  }
}

/**
 * Removes tracefs instances left by an ioscope agent that no longer runs
 * (killed with SIGKILL together with its watchdog, or on a host that lost
 * power mid-trace). An instance is removed only when its owner is dead: no
 * process has its PID, or the one that has it started at another time. A
 * name without a start time (or with 0) counts as alive while its PID
 * exists. The removal is a plain rmdir, which the kernel refuses (EBUSY)
 * while anyone holds a file of the instance open: a live run in another PID
 * namespace (whose PID means nothing here) keeps its instance, recording.
 * @returns the names removed
 */
export function sweepStaleInstances(): string[] {
  const removed: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(INSTANCES)];
  } catch {
    return removed;
  }
  for (const e of entries) {
    if (!e.isDirectory) continue;
    const owner = parseInstanceName(e.name);
    if (!owner || owner.pid === Deno.pid) continue;
    const start = processStartTime(owner.pid);
    const known = owner.startTime !== null && owner.startTime !== 0;
    if (start !== null && (!known || owner.startTime === start)) continue;
    try {
      // rmdir disables the instance's events and frees its buffers with it.
      Deno.removeSync(`${INSTANCES}/${e.name}`);
      removed.push(e.name);
    } catch {
      // in use (EBUSY): somebody reads it, so it is not stale; or gone meanwhile
    }
  }
  return removed;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
