/**
 * The bpftrace backend's pure half: the program text for a set of PIDs, and a
 * parser for the `-f json` lines bpftrace prints. Starting bpftrace is the
 * agent's job.
 * @module
 */

import {
  cloneSnapshot,
  emptyFdTotals,
  emptyOpTotals,
  emptySnapshot,
  type FdTotals,
  type OpTotals,
  type Snapshot,
  TLB_FLUSH_REASONS,
} from "./snapshot.ts";
import { ioUringOpName, SYSCALL_NAMES_X86_64 } from "../schema/mod.ts";

/** The program file, next to this module; runnable by hand with a PID argument. */
export const IO_SYSCALLS_BT = new URL("./io_syscalls.bt", import.meta.url);

/** How a program follows its target set (see {@linkcode programFor}). */
export interface ProgramTargetOptions {
  /** Also every process the targets fork, and theirs (`--follow`, `-- COMMAND`). */
  followChildren?: boolean;
  /**
   * `--comm NAME`: also every process that execs a file of this name later,
   * and what they fork; one that execs another name leaves.
   */
  comm?: string;
  /**
   * The kernel's sched_process_exit has `group_dead` (Linux 5.x+): a process
   * leaves the set when its last thread exits. Else when its leader exits.
   * @default true
   */
  groupDead?: boolean;
  /**
   * Count only while `@ioscope_on` is set (the agent sets it when every probe
   * is attached and clears it at stop): one window for every figure.
   * @default false
   */
  gate?: boolean;
  /** `--cgroup`: instead of PIDs, every task in these cgroups (v2 ids). */
  cgroupIds?: readonly number[];
}

/** A bpftrace string literal of `text` (quotes and backslashes escaped). */
function btString(text: string): string {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * The program for a set of processes: the `.bt` file with its `pid == $1`
 * filters replaced by the target set. The set is a map, `@ioscope_pid`,
 * seeded with the PIDs (`pid` is the thread group id, so every thread,
 * including those created later, is traced); a process leaves it when it
 * exits, so a later process given its PID is not counted. With
 * `followChildren` the processes the targets fork join it; with `comm`, the
 * processes that exec a file of that name (and what they fork). For a fixed
 * set the filter compares first, so other processes' events cost no lookup.
 * @param source the text of io_syscalls.bt
 * @param pids the thread group ids to trace
 * @param options followChildren, comm, groupDead, gate; cgroupIds: instead of
 *   PIDs, every task in these cgroups (v2 ids)
 * @returns the program text
 * @example
 * ```ts
 * import { programFor } from "./bpftrace.ts";
 * const p = programFor("/pid == $1/ { }", [7, 9]);
 * console.assert(p.includes("/(pid == 7 || pid == 9) && @ioscope_pid[pid]/ { }"));
 * ```
 */
export function programFor(
  source: string,
  pids: readonly number[],
  options: ProgramTargetOptions = {},
): string {
  const { followChildren = false, comm, groupDead = true, gate = false } = options;
  const gated = gate ? " && @ioscope_on" : "";
  const endClear = (text: string) =>
    gate ? text.replace(/^END\n\{\n/m, "END\n{\n  clear(@ioscope_on);\n") : text;
  if (options.cgroupIds?.length) {
    // `--cgroup`: the task's cgroup v2 id, compared in the kernel; joiners match
    // the moment they join, and their children are in the cgroup too.
    for (const id of options.cgroupIds) {
      if (!Number.isInteger(id) || id <= 0) throw new RangeError(`Bad cgroup id: ${id}`);
    }
    const ids = options.cgroupIds;
    const filter = ids.length === 1
      ? `cgroup == ${ids[0]}`
      : `(${ids.map((id) => `cgroup == ${id}`).join(" || ")})`;
    return endClear(source.replaceAll("pid == $1", filter + gated));
  }
  if (pids.length === 0) throw new RangeError("At least one PID is needed");
  for (const p of pids) {
    if (!Number.isInteger(p) || p <= 0) throw new RangeError(`Bad PID: ${p}`);
  }
  const seed = pids.map((p) => `  @ioscope_pid[${p}] = 1;`).join("\n");
  // A failed insert (the map full) is counted, never silent.
  const join = (key: string) =>
    `  @ioscope_pid[${key}] = 1;\n  if (@ioscope_pid[${key}] == 0) { @ioscope_map_full["pid"] = count(); }`;
  let set = `
BEGIN
{
${seed}
}

// A process leaves the set when it ends: its PID may be given to another.
tracepoint:sched:sched_process_exit
/@ioscope_pid[pid]${groupDead ? " && args->group_dead" : " && tid == pid"}/
{
  delete(@ioscope_pid[pid]);
}
`;
  if (followChildren || comm !== undefined) {
    set += `
// What a traced process forks (not its threads: they share its PID).
tracepoint:task:task_newtask
/@ioscope_pid[pid] && (args->clone_flags & 0x10000) == 0/
{
${join("args->pid")}
}
`;
  }
  if (comm !== undefined) {
    // At sched_process_exec, comm is already the new name.
    set += `
tracepoint:sched:sched_process_exec
{
  if (comm == ${btString(comm)}) {
  ${join("pid").replaceAll("\n", "\n  ")}
  } else {
    if (@ioscope_pid[pid]) { delete(@ioscope_pid[pid]); }
  }
}

// A process renamed to the name (prctl PR_SET_NAME, /proc/PID/comm).
tracepoint:task:task_rename
/args->newcomm == ${btString(comm)}/
{
${join("args->pid")}
}
`;
  }
  const fixed = !followChildren && comm === undefined;
  const compare = pids.length === 1
    ? `pid == ${pids[0]}`
    : `(${pids.map((p) => `pid == ${p}`).join(" || ")})`;
  const filter = (fixed ? `${compare} && @ioscope_pid[pid]` : "@ioscope_pid[pid]") +
    (gate ? " && @ioscope_on" : "");
  return set + source.replaceAll("pid == $1", filter)
    .replace(
      /^END\n\{\n/m,
      `END\n{\n  clear(@ioscope_pid);\n${gate ? "  clear(@ioscope_on);\n" : ""}`,
    );
}

/** The tracepoint name of a syscall number as the program keys it. */
function syscallName(key: string): string {
  return SYSCALL_NAMES_X86_64.get(Number(key)) ?? `syscall_${key}`;
}

/**
 * Accumulates bpftrace `-f json` output into snapshots. Maps arrive one per
 * line, cumulative; a `tick` line closes a complete set.
 */
export class BpftraceParser {
  #pending: Snapshot = emptySnapshot();
  #complete: Snapshot | null = null;
  #inFlightCalls = 0;
  #mapFullCounted = 0;
  #inFlightRequests = 0;
  attachedProbes = 0;
  /** True once the agent's sentinel probe (attached last) has fired. */
  ready = false;
  /** True once END has run: the maps printed after it are the last. */
  ended = false;
  /** Lines bpftrace printed that were not understood (for diagnostics). */
  readonly strays: string[] = [];

  /**
   * Feeds one line of output.
   * @param line one line of bpftrace's stdout
   * @returns true when the line completed a snapshot
   */
  feed(line: string): boolean {
    const text = line.trim();
    if (text === "") return false;
    let msg: { type?: string; data?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      if (this.strays.length < 20) this.strays.push(text);
      return false;
    }
    switch (msg.type) {
      case "lost_events":
        // Events bpftrace's output buffer dropped (only its printf lines here).
        this.#pending.lostEvents += Number((msg.data as { events?: number })?.events) || 0;
        return false;
      case "attached_probes":
        this.attachedProbes = (msg.data as { probes: number }).probes;
        return false;
      case "printf":
        if (String(msg.data).includes('"ready"')) {
          this.ready = true;
          return false;
        }
        if (String(msg.data).includes('"end"')) {
          this.ended = true;
          return false;
        }
        if (String(msg.data).includes('"tick"')) {
          this.#complete = this.#pending;
          const at = /"data":\s*(\d+)/.exec(String(msg.data))?.[1];
          if (at !== undefined) this.#complete.takenNs = Number(at);
          this.#pending = cloneSnapshot(this.#complete);
          // Whatever comes after this tick was not taken at its time.
          delete this.#pending.takenNs;
          return true;
        }
        return false;
      case "map":
      case "stats":
        this.#applyMap(msg.data as Record<string, unknown>);
        return false;
      default:
        return false;
    }
  }

  /** The last complete snapshot, or the pending one when none completed. */
  latest(): Snapshot {
    return this.#complete ?? this.#pending;
  }

  /**
   * Everything seen so far, including maps printed at exit after the last
   * tick. Its `mapFull` also holds the calls a full histogram map dropped:
   * each counted call adds one to `@hist` or `@ehist`, so at the end (the
   * window closed, the maps still) a histogram short of the count lost the rest.
   * (Mid-trace the maps are printed one after another while calls go on, so
   * the comparison means nothing there.)
   */
  final(): Snapshot {
    let dropped = 0;
    for (const op of this.#pending.syscalls.values()) {
      let held = 0;
      for (const n of op.hist.values()) held += n;
      for (const n of op.error_hist.values()) held += n;
      dropped += Math.max(0, op.count - held);
    }
    this.#pending.mapFull = this.#mapFullCounted + dropped;
    return this.#pending;
  }

  #op(name: string): OpTotals {
    let op = this.#pending.syscalls.get(name);
    if (!op) {
      op = emptyOpTotals();
      this.#pending.syscalls.set(name, op);
    }
    return op;
  }

  #uringOp(opcode: string): OpTotals {
    const name = ioUringOpName(Number(opcode));
    let op = this.#pending.io_uring.get(name);
    if (!op) {
      op = { ...emptyOpTotals(), async: 0 };
      this.#pending.io_uring.set(name, op);
    }
    return op;
  }

  /** Per descriptor totals of "pid,fd,nr" keys, created on first sight. */
  #fd(key: string): { fd: FdTotals; name: string } {
    const [pid = 0, fd = 0, nr = 0] = key.split(",").map(Number);
    const id = `${pid}:${fd}`;
    let totals = this.#pending.fds.get(id);
    if (!totals) {
      totals = emptyFdTotals(pid, fd);
      this.#pending.fds.set(id, totals);
    }
    return { fd: totals, name: syscallName(String(nr)) };
  }

  /** The per descriptor maps: each print is the whole cumulative map. */
  #applyFdMap(mapName: string, value: unknown): void {
    const all = [...this.#pending.fds.values()];
    switch (mapName) {
      case "@fd_stats":
        for (const t of all) {
          t.count = 0;
          t.total_ns = 0;
          t.calls = new Map();
        }
        for (const [key, s] of entries(value)) {
          const st = s as { count: number; total: number };
          const { fd, name } = this.#fd(key);
          fd.count += st.count;
          fd.total_ns += st.total;
          fd.calls.set(name, (fd.calls.get(name) ?? 0) + st.count);
        }
        break;
      case "@fd_bytes":
        for (const t of all) {
          t.bytes = 0;
          t.callBytes = new Map();
        }
        for (const [key, v] of entries(value)) {
          const { fd, name } = this.#fd(key);
          fd.bytes += Number(v);
          fd.callBytes.set(name, (fd.callBytes.get(name) ?? 0) + Number(v));
        }
        break;
      case "@fd_errors":
        for (const t of all) t.errors = 0;
        for (const [key, v] of entries(value)) this.#fd(key).fd.errors += Number(v);
        break;
    }
  }

  /** The maps of probes/io_uring.bt, keyed by opcode number. */
  #applyUringMap(mapName: string, value: unknown): void {
    switch (mapName) {
      case "@uring_start":
        // Printed at exit only: the requests still in flight.
        this.#inFlightRequests = entries(value).length;
        this.#pending.inFlight = this.#inFlightCalls + this.#inFlightRequests;
        break;
      case "@uring_stats":
        for (const [k, s] of entries(value)) {
          const st = s as { count: number; total: number };
          const op = this.#uringOp(k);
          op.count = st.count;
          op.total_ns = st.total;
        }
        break;
      case "@uring_max_ns":
        for (const [k, v] of entries(value)) this.#uringOp(k).max_ns = Number(v);
        break;
      case "@uring_bytes":
        for (const [k, v] of entries(value)) this.#uringOp(k).bytes = Number(v);
        break;
      case "@uring_errors":
        for (const [k, v] of entries(value)) this.#uringOp(k).errors = Number(v);
        break;
      case "@uring_async":
        for (const [k, v] of entries(value)) this.#uringOp(k).async = Number(v);
        break;
      case "@uring_hist":
      case "@uring_ehist":
      case "@uring_errno": {
        const field = mapName === "@uring_hist"
          ? "hist"
          : mapName === "@uring_ehist"
          ? "error_hist"
          : "errnos";
        for (const op of this.#pending.io_uring.values()) op[field] = new Map();
        for (const [key, v] of entries(value)) {
          const comma = key.lastIndexOf(",");
          this.#uringOp(key.slice(0, comma))[field].set(Number(key.slice(comma + 1)), Number(v));
        }
        break;
      }
      case "@uring_multishot":
        for (const [k, v] of entries(value)) this.#uringOp(k).multishot = Number(v);
        break;
      case "@uring_skip":
      case "@uring_skip_done": {
        const into = mapName === "@uring_skip" ? this.#skipped : this.#skipDone;
        into.clear();
        for (const [k, v] of entries(value)) {
          into.set(k, Number(v));
          this.#uringOp(k);
        }
        for (const [k, n] of this.#skipped) {
          this.#uringOp(k).untimed = Math.max(0, n - (this.#skipDone.get(k) ?? 0));
        }
        break;
      }
    }
  }

  /** CQE_SKIP_SUCCESS requests submitted, and those that failed (posted a completion). */
  #skipped = new Map<string, number>();
  #skipDone = new Map<string, number>();

  #applyMap(data: Record<string, unknown>): void {
    for (const [mapName, value] of Object.entries(data)) {
      if (mapName.startsWith("@uring_")) {
        this.#applyUringMap(mapName, value);
        continue;
      }
      if (mapName.startsWith("@fd_")) {
        this.#applyFdMap(mapName, value);
        continue;
      }
      switch (mapName) {
        case "@ioscope_map_full":
          this.#mapFullCounted = entries(value).reduce((s, [, v]) => s + (Number(v) || 0), 0);
          this.#pending.mapFull = this.#mapFullCounted;
          break;
        case "@start":
          // Printed at exit only: the calls still in flight.
          this.#inFlightCalls = entries(value).length;
          this.#pending.inFlight = this.#inFlightCalls + this.#inFlightRequests;
          break;
        case "@stats":
          for (const [probe, s] of entries(value)) {
            const st = s as { count: number; total: number };
            const op = this.#op(syscallName(probe));
            op.count = st.count;
            op.total_ns = st.total;
          }
          break;
        case "@max_ns":
          for (const [probe, v] of entries(value)) this.#op(syscallName(probe)).max_ns = Number(v);
          break;
        case "@bytes":
          for (const [probe, v] of entries(value)) this.#op(syscallName(probe)).bytes = Number(v);
          break;
        case "@errors":
          for (const [probe, v] of entries(value)) this.#op(syscallName(probe)).errors = Number(v);
          break;
        case "@hist":
        case "@ehist":
        case "@errno": {
          const field = mapName === "@hist"
            ? "hist"
            : mapName === "@ehist"
            ? "error_hist"
            : "errnos";
          for (const op of this.#pending.syscalls.values()) op[field] = new Map();
          for (const [key, v] of entries(value)) {
            const comma = key.lastIndexOf(",");
            this.#op(syscallName(key.slice(0, comma)))[field].set(
              Number(key.slice(comma + 1)),
              Number(v),
            );
          }
          break;
        }
        case "@restarts":
          for (const [probe, v] of entries(value)) {
            this.#op(syscallName(probe)).restarts = Number(v);
          }
          break;
        case "@compat":
          this.#pending.compatCalls = entries(value).reduce((s, [, v]) => s + Number(v), 0);
          break;
        case "@faults":
          this.#pending.faults = Number(value) || 0;
          break;
        case "@tlb":
          this.#pending.tlb = new Map(
            entries(value).map((
              [k, v],
            ) => [TLB_FLUSH_REASONS[Number(k)] ?? `reason_${k}`, Number(v)]),
          );
          break;
        case "@cs":
          for (const [k, v] of entries(value)) {
            if (k === "1") this.#pending.voluntary = Number(v);
            else this.#pending.involuntary = Number(v);
          }
          break;
      }
    }
  }
}

function entries(value: unknown): [string, unknown][] {
  return value && typeof value === "object" ? Object.entries(value as Record<string, unknown>) : [];
}

/** A deep copy (kept here for the modules that import it from this one). */
