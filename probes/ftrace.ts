/**
 * The ftrace backend's pure half: turns trace event records, decoded with the
 * kernel's own format descriptions, into the same cumulative Snapshot the
 * bpftrace backend produces (probes/io_syscalls.bt and probes/io_uring.bt do
 * in the kernel what this does in user space). Reading tracefs is the
 * agent's job; this sees only bytes, in timestamp order.
 * @module
 */

import {
  bucketIndex,
  IO_URING_DATA_OPS,
  IORING_CQE_F_MORE,
  IORING_CQE_F_NOTIF,
  ioUringOpName,
  SYSCALL_NAMES_X86_64,
  SYSCALLS,
} from "../schema/mod.ts";
import { fieldOffset, type FtraceEventFormat } from "./ftrace_format.ts";
import {
  cloneSnapshot,
  emptyFdTotals,
  emptyOpTotals,
  emptySnapshot,
  isRestartCode,
  type OpTotals,
  type Snapshot,
  TLB_FLUSH_REASONS,
  TLB_REASON,
} from "./snapshot.ts";

/** The events the ftrace backend can use, `group:name`, and what each is for. */
export const FTRACE_EVENTS = {
  sysEnter: "raw_syscalls:sys_enter",
  sysExit: "raw_syscalls:sys_exit",
  pageFault: "exceptions:page_fault_user",
  tlbFlush: "tlb:tlb_flush",
  schedSwitch: "sched:sched_switch",
  newTask: "task:task_newtask",
  processExit: "sched:sched_process_exit",
  processExec: "sched:sched_process_exec",
  taskRename: "task:task_rename",
  uringSubmit: "io_uring:io_uring_submit_req",
  uringComplete: "io_uring:io_uring_complete",
  uringAsync: "io_uring:io_uring_queue_async_work",
} as const;

/** Syscall numbers whose return is not a byte count (an address, a count of SQEs, 0). */
const NOT_BYTES = new Set(SYSCALLS.filter((s) => s.bytes === "none").map((s) => s.nr_x86_64));

/** Syscall numbers whose first argument is not a descriptor (not keyed per descriptor). */
const NOT_FD = new Set(SYSCALLS.filter((s) => !s.fd).map((s) => s.nr_x86_64));

/** The fields the aggregator reads of each io_uring event. */
const URING_FIELDS = {
  uringSubmit: ["ctx", "req", "opcode", "flags", "user_data"],
  uringComplete: ["ctx", "user_data", "req", "res", "cflags"],
  uringAsync: ["req", "opcode"],
} as const;

/**
 * The io_uring events to read: submissions and completions together, where
 * both have every field read (else none: a completion is matched to its
 * submission), and async punts where they do too.
 */
function usableUringEvents(formats: ReadonlyMap<string, FtraceEventFormat>): Set<string> {
  const ok = (k: keyof typeof URING_FIELDS) => {
    const fmt = formats.get(FTRACE_EVENTS[k]);
    return fmt !== undefined && URING_FIELDS[k].every((x) => fmt.fields.has(x));
  };
  if (!ok("uringSubmit") || !ok("uringComplete")) return new Set();
  return new Set(["uringSubmit", "uringComplete", ...(ok("uringAsync") ? ["uringAsync"] : [])]);
}

/** `req->flags` bit REQ_F_CQE_SKIP (= IOSQE_CQE_SKIP_SUCCESS): no completion on success. */
const REQ_F_CQE_SKIP = 0x40;

/** `clone_flags` bit: the new task is a thread of its parent's process. */
const CLONE_THREAD = 0x10000;

/**
 * The task-state bits of `sched_switch`'s `prev_state` (TASK_REPORT: S, D, T,
 * t, X, Z, P, and 0x80 I, TASK_REPORT_IDLE); 0x100 (TASK_REPORT_MAX) marks a
 * preemption. A switch away with any state bit set is a sleep, voluntary (an
 * idle sleep too, as the kernel's nvcsw counts it); with none, the task was
 * still runnable: preempted, involuntary.
 */
export const TASK_REPORT_STATE_MASK = 0xff;

/**
 * True when a `sched_switch` away from a task was voluntary (it went to sleep).
 * @param prevState the event's `prev_state`
 * @returns false for a preempted (still runnable) task
 * @example
 * ```ts
 * import { isVoluntarySwitch } from "./ftrace.ts";
 * console.assert(isVoluntarySwitch(0x80)); // an idle sleep (TASK_IDLE)
 * console.assert(!isVoluntarySwitch(0x100)); // preempted
 * ```
 */
export function isVoluntarySwitch(prevState: number): boolean {
  return (prevState & TASK_REPORT_STATE_MASK) !== 0;
}

/**
 * The name (comm) a process takes at exec: the last part of the file name,
 * at most 15 bytes, as the kernel sets it.
 * @param filename the path given to exec
 * @returns the comm
 */
export function commOfExec(filename: Uint8Array): string {
  let start = filename.lastIndexOf(0x2f) + 1;
  let end = filename.indexOf(0);
  if (end < 0) end = filename.length;
  if (start > end) start = end;
  return new TextDecoder().decode(filename.subarray(start, Math.min(end, start + 15)));
}

/**
 * The ftrace filter for raw_syscalls events that keeps only the traced I/O
 * syscalls (so the kernel records nothing for the others).
 * @param ids syscall numbers
 * @returns the filter expression
 * @example
 * ```ts
 * import { syscallFilter } from "./ftrace.ts";
 * console.assert(syscallFilter([0, 17]) === "id == 0 || id == 17");
 * ```
 */
export function syscallFilter(ids: Iterable<number> = SYSCALL_NAMES_X86_64.keys()): string {
  return [...ids].map((id) => `id == ${id}`).join(" || ");
}

/** Rings listed in completion filters at most; beyond, completions go unfiltered. */
export const MAX_FILTER_RINGS = 64;

/**
 * The most descriptors ("pid:fd") the aggregator keeps totals for: the bpf
 * backend's per-descriptor map holds as many (probes/bpf/layout.ts
 * CAPACITY.fds; a test checks they agree).
 */
export const FD_KEYS_MAX = 16_384;

/**
 * The filters for `io_uring_complete` in the backend's two instances, which
 * together record each completion of the target's rings: the ring instance
 * (no PID filter, so completions posted by any task) keeps the rings already
 * seen; the main instance (the target's tasks only) keeps the others. Until
 * a first ring is seen, the ring instance keeps every completion: the first
 * requests of a ring are often completed by an io-wq worker (an `iou-wrk`
 * thread) created for them, which no `set_event_pid` holds yet (io threads
 * are created without sched_process_fork, so `event-fork` misses them), long
 * before the agent reads the submission and learns the ring. `"0"` clears a
 * filter (keep all); `"ctx == 0"` keeps none.
 * @param rings ring (`struct io_ring_ctx`) addresses seen so far
 * @returns the filter for each instance
 * @example
 * ```ts
 * import { completionFilters } from "./ftrace.ts";
 * console.assert(completionFilters([]).known === "0");
 * const f = completionFilters([0xffff888001n]);
 * console.assert(f.known === "ctx == 0xffff888001");
 * console.assert(f.others === "ctx != 0xffff888001");
 * ```
 */
export function completionFilters(rings: readonly bigint[]): { known: string; others: string } {
  if (rings.length === 0 || rings.length > MAX_FILTER_RINGS) {
    return { known: "0", others: "ctx == 0" };
  }
  const hex = rings.map((r) => `0x${r.toString(16)}`);
  return {
    known: hex.map((h) => `ctx == ${h}`).join(" || "),
    others: hex.map((h) => `ctx != ${h}`).join(" && "),
  };
}

/** How far apart two instances' copies of one completion can be stamped. */
const COPY_WINDOW_NS = 100_000;

/** A 64-bit little-endian signed value as a number (exact below 2^53). */
function i64(view: DataView, at: number): number {
  return view.getInt32(at + 4, true) * 4294967296 + view.getUint32(at, true);
}

/**
 * A kernel address as a number key: the low 53 bits (kernel addresses differ
 * only in their low 47 or 56 bits; the top bits are all ones).
 */
function ptrKey(view: DataView, at: number): number {
  return (view.getUint32(at + 4, true) & 0x1fffff) * 4294967296 + view.getUint32(at, true);
}

interface Offsets {
  pid: number;
  enterId: number;
  enterArgs: number;
  exitId: number;
  exitRet: number;
  tlbReason: number;
  tlbPages: number;
  prevPid: number;
  prevState: number;
  newPid: number;
  newFlags: number;
  exitPid: number;
  exitGroupDead: number;
  execFile: number;
  execPid: number;
  execOldPid: number;
  renamePid: number;
  renameComm: number;
  subCtx: number;
  subReq: number;
  subOp: number;
  subFlags: number;
  subUd: number;
  cmpCtx: number;
  cmpUd: number;
  cmpReq: number;
  cmpRes: number;
  cmpFlags: number;
  asyncReq: number;
  asyncOp: number;
}

/** An event the aggregator handles, as FTRACE_EVENTS names it. */
type Kind = keyof typeof FTRACE_EVENTS;

/** What handles one record of one event (`pid`: the task that wrote it). */
type Handler = (ts: number, view: DataView, at: number, pid: number, source: number) => void;

/** What the aggregator is told at the start. */
export interface FtraceAggregatorOptions {
  /** Thread ids known to belong to the target when tracing starts. */
  tids: Iterable<number>;
  /** The target's processes (thread group ids) when tracing starts. @default [] */
  pids?: Iterable<number>;
  /**
   * The thread group of a thread id (from /proc), or null when it is gone:
   * asked once for each task the records did not introduce. A record whose
   * task is not known is the target's only if its group is. Without it, a
   * record that passed the kernel's PID filter is taken for the target's
   * (replays of recorded fixtures); with it, records written at a context
   * switch in the outgoing task's name (tlb:tlb_flush on task switch, while
   * the kernel's filter already follows the incoming, traced task) no longer
   * make that task the target's: counted as such, rcu_preempt's idle sleeps
   * and other processes' switches once took ftrace's switch count to 187
   * where bpftrace counted 98.
   */
  tgidOf?: (tid: number) => number | null;
  /**
   * `--comm NAME`: a process that takes this name by exec joins the target,
   * one of the target's that execs another name leaves it, and what the
   * target forks is followed (a fork keeps the name).
   */
  comm?: string;
  /**
   * True for a 32-bit process (x86_64's compat mode), whose syscall numbers
   * are i386's: raw_syscalls records carry no compat flag, so the agent
   * tells by the process's ELF class. Its calls are counted apart
   * (compatCalls), never under an x86_64 name.
   */
  isCompat?: (tgid: number) => boolean;
  /** False when there is no tlb:tlb_flush tracepoint (not x86). @default true */
  tlbSupported?: boolean;
  /** Processes the target forks are the target's too (`strace -f`). @default false */
  followChildren?: boolean;
}

/**
 * Counts one call or request of `d` ns into an op's totals, and into its
 * successful or its failed histogram.
 * @param errno the positive errno of a failed call, 0 for a successful one
 */
function addLatency(op: OpTotals, d: number, errno = 0): void {
  op.count++;
  op.total_ns += d;
  if (d > op.max_ns) op.max_ns = d;
  const b = bucketIndex(d);
  const hist = errno ? op.error_hist : op.hist;
  hist.set(b, (hist.get(b) ?? 0) + 1);
  if (errno) {
    op.errors++;
    op.errnos.set(errno, (op.errnos.get(errno) ?? 0) + 1);
  }
}

/**
 * Accumulates decoded trace records into a cumulative Snapshot.
 *
 * Syscalls: `sys_enter` to `sys_exit` of the same thread and syscall number.
 * io_uring: `io_uring_submit_req` to `io_uring_complete` of the same request
 * (any task may post the completion). Faults, TLB flushes and context
 * switches are counted for the target's threads. Threads are the target's
 * when they were listed at the start or created by one of its threads with
 * CLONE_THREAD; processes it forks are not the target (as with bpftrace's
 * `pid == PID`), and their records are dropped.
 */
export class FtraceAggregator {
  #snap: Snapshot = emptySnapshot();
  /** The handler of each enabled event, by the event id its records start with. */
  #handlers = new Map<number, Handler>();
  #o: Offsets;
  /** Thread id to its thread group id when it is the target's, 0 when it is not (-1: group unknown). */
  #ours = new Map<number, number>();
  #procs = new Set<number>();
  /** Tasks whose exit record was seen, until their last switch away. */
  #exited = new Set<number>();
  #tgidOf: ((tid: number) => number | null) | undefined;
  #isCompat: ((tgid: number) => boolean) | undefined;
  #compatProcs = new Map<number, boolean>();
  #comm: string | undefined;
  #startTs = new Map<number, number>();
  #startId = new Map<number, number>();
  #startFd = new Map<number, number>();
  /** Multishot requests that posted a completion with IORING_CQE_F_MORE. */
  #multishot = new Set<number>();
  /** Requests in flight by "ring:user_data" (for completions posted without the request). */
  #byUserData = new Map<string, number>();
  /** Requests submitted with IOSQE_CQE_SKIP_SUCCESS, and their opcode. */
  #skipped = new Map<number, number>();
  #inflightTs = new Map<number, number>();
  #inflightOp = new Map<number, number>();
  #rings = new Map<number, bigint>();
  #newRings: bigint[] = [];
  #newThreads: number[] = [];
  #joined: number[] = [];
  #foreign: number[] = [];
  #followChildren: boolean;
  /** Records of the enabled events seen, for overhead figures. */
  records = 0;
  /** The trace window, in record timestamps: only what ends inside it is counted. */
  #from = -Infinity;
  #to = Infinity;

  /**
   * @param formats the formats of the enabled events, by `group:name`
   * @param options the target's threads at the start
   */
  constructor(formats: ReadonlyMap<string, FtraceEventFormat>, options: FtraceAggregatorOptions) {
    this.#tgidOf = options.tgidOf;
    this.#isCompat = options.isCompat;
    this.#comm = options.comm;
    for (const pid of options.pids ?? []) this.#procs.add(pid);
    for (const tid of options.tids) this.#ours.set(tid, this.#tgidOf?.(tid) ?? -1);
    this.#followChildren = (options.followChildren ?? false) || options.comm !== undefined;
    this.#snap.tlbSupported = options.tlbSupported ?? true;
    // io_uring's events are read only where they carry every field used
    // (Debian's 5.10: io_uring_complete has no req, and no submit_req event).
    const uring = usableUringEvents(formats);
    const f = (k: Kind) =>
      k.startsWith("uring") && !uring.has(k) ? undefined : formats.get(FTRACE_EVENTS[k]);
    const table = this.#table();
    for (const k of Object.keys(FTRACE_EVENTS) as Kind[]) {
      const fmt = f(k);
      if (fmt) this.#handlers.set(fmt.id, table[k]);
    }
    const off = (k: Kind, field: string, ...sizes: number[]) => {
      const fmt = f(k);
      return fmt ? fieldOffset(fmt, field, ...sizes) : -1;
    };
    const any = [...formats.values()][0];
    this.#o = {
      pid: any ? fieldOffset(any, "common_pid", 4) : 4,
      enterId: off("sysEnter", "id", 8),
      enterArgs: off("sysEnter", "args", 48),
      exitId: off("sysExit", "id", 8),
      exitRet: off("sysExit", "ret", 8),
      tlbReason: off("tlbFlush", "reason", 4),
      tlbPages: off("tlbFlush", "pages", 8),
      prevPid: off("schedSwitch", "prev_pid", 4),
      prevState: off("schedSwitch", "prev_state", 8, 4),
      newPid: off("newTask", "pid", 4),
      newFlags: off("newTask", "clone_flags", 8),
      exitPid: off("processExit", "pid", 4),
      // Debian's 5.10, 6.1 and 6.12 have no group_dead: the leader's exit ends the process.
      exitGroupDead: f("processExit")?.fields.has("group_dead")
        ? off("processExit", "group_dead", 1)
        : -1,
      execFile: off("processExec", "filename", 4),
      execPid: off("processExec", "pid", 4),
      execOldPid: off("processExec", "old_pid", 4),
      renamePid: off("taskRename", "pid", 4),
      renameComm: off("taskRename", "newcomm", 16),
      subCtx: off("uringSubmit", "ctx", 8),
      subReq: off("uringSubmit", "req", 8),
      subOp: off("uringSubmit", "opcode", 1),
      subFlags: off("uringSubmit", "flags", 8),
      subUd: off("uringSubmit", "user_data", 8),
      cmpCtx: off("uringComplete", "ctx", 8),
      cmpUd: off("uringComplete", "user_data", 8),
      cmpReq: off("uringComplete", "req", 8),
      cmpRes: off("uringComplete", "res", 4),
      cmpFlags: off("uringComplete", "cflags", 4),
      asyncReq: off("uringAsync", "req", 8),
      asyncOp: off("uringAsync", "opcode", 1),
    };
  }

  /**
   * Feeds one record. Records must come in timestamp order across CPUs.
   * @param ts the record's timestamp, nanoseconds (any fixed origin)
   * @param view the page holding the record
   * @param at the record's offset in the page
   * @param source which instance's buffer it came from (0 when there is one)
   */
  feed(ts: number, view: DataView, at: number, source = 0): void {
    const handle = this.#handlers.get(view.getUint16(at, true));
    if (handle === undefined) return;
    this.records++;
    handle(ts, view, at, view.getInt32(at + this.#o.pid, true), source);
  }

  /**
   * One handler per event, keyed as FTRACE_EVENTS (the compiler holds every
   * key to a handler): a new event is a key there, its fields' offsets in
   * `Offsets` (set in the constructor), and a handler here.
   */
  #table(): Record<Kind, Handler> {
    return {
      sysEnter: (ts, view, at, pid) => this.#onSysEnter(ts, view, at, pid),
      sysExit: (ts, view, at, pid) => this.#onSysExit(ts, view, at, pid),
      pageFault: (ts, _view, _at, pid) => this.#onPageFault(ts, pid),
      tlbFlush: (ts, view, at, pid) => this.#onTlbFlush(ts, view, at, pid),
      schedSwitch: (ts, view, at) => this.#onSchedSwitch(ts, view, at),
      newTask: (_ts, view, at, pid) => this.#onNewTask(view, at, pid),
      processExit: (_ts, view, at) => this.#onProcessExit(view, at),
      processExec: (_ts, view, at) => this.#onProcessExec(view, at),
      taskRename: (_ts, view, at) => this.#onTaskRename(view, at),
      uringSubmit: (ts, view, at, pid) => this.#onUringSubmit(ts, view, at, pid),
      uringAsync: (ts, view, at) => this.#onUringAsync(ts, view, at),
      uringComplete: (ts, view, at, _pid, source) => this.#onUringComplete(ts, view, at, source),
    };
  }

  /** A syscall enters: its start, number and descriptor, per thread. */
  #onSysEnter(ts: number, view: DataView, at: number, pid: number): void {
    const o = this.#o;
    if (!this.#isOurs(pid)) return;
    if (this.#isCompatTask(pid)) {
      if (this.#inWindow(ts)) this.#snap.compatCalls++;
      return;
    }
    this.#startTs.set(pid, ts);
    this.#startId.set(pid, view.getInt32(at + o.enterId, true));
    if (o.enterArgs >= 0) this.#startFd.set(pid, i64(view, at + o.enterArgs));
  }

  /** A syscall exits: timed from its thread's start of the same number. */
  #onSysExit(ts: number, view: DataView, at: number, pid: number): void {
    const o = this.#o;
    if (!this.#isOurs(pid)) return;
    const start = this.#startTs.get(pid);
    if (start === undefined) return;
    this.#startTs.delete(pid);
    const id = view.getInt32(at + o.exitId, true);
    if (this.#startId.get(pid) !== id || ts < start) return;
    const ret = i64(view, at + o.exitRet);
    if (!this.#inWindow(ts)) return;
    const op = this.#syscall(id);
    if (isRestartCode(ret)) {
      // Restarted (or turned into EINTR) on the way out: its end comes later.
      op.restarts++;
      return;
    }
    const failed = NOT_BYTES.has(id) ? ret < 0 && ret > -4096 : ret < 0;
    addLatency(op, ts - start, failed ? -ret : 0);
    if (!failed && !NOT_BYTES.has(id)) op.bytes += ret;
    const fd = this.#startFd.get(pid);
    if (!NOT_FD.has(id) && fd !== undefined) {
      this.#addFd(pid, fd, id, ts - start, failed ? -1 : NOT_BYTES.has(id) ? 0 : ret);
    }
  }

  /** A user-mode page fault of the target's. */
  #onPageFault(ts: number, pid: number): void {
    if (this.#isOurs(pid) && this.#inWindow(ts)) this.#snap.faults++;
  }

  /** A TLB flush that flushed something, by reason. */
  #onTlbFlush(ts: number, view: DataView, at: number, pid: number): void {
    const o = this.#o;
    // 0 pages: nothing was flushed (up to date, or remote_wrong_cpu); an
    // IPI send marks a shootdown's sender, whose flush is its local one.
    if (view.getBigUint64(at + o.tlbPages, true) === 0n || !this.#inWindow(ts)) return;
    const r = view.getInt32(at + o.tlbReason, true);
    if (r === TLB_REASON.remoteSendIpi) return;
    // A task switch's flush is written in the outgoing task's name, and
    // only when the incoming one is traced (the PID filter follows the
    // incoming task from sched_switch on): it is the incoming one's.
    if (r !== TLB_REASON.taskSwitch && !this.#isOurs(pid)) return;
    const name = TLB_FLUSH_REASONS[r] ?? `reason_${r}`;
    this.#snap.tlb.set(name, (this.#snap.tlb.get(name) ?? 0) + 1);
  }

  /** A context switch away from one of the target's tasks. */
  #onSchedSwitch(ts: number, view: DataView, at: number): void {
    const o = this.#o;
    // Recorded when either side is traced; count the target's switches away.
    const prev = view.getInt32(at + o.prevPid, true);
    if (!this.#isOurs(prev, false) || !this.#inWindow(ts)) return;
    // An exited task's last switch away (after its exit record) is its own.
    if (this.#exited.delete(prev)) this.#forget(prev);
    if (isVoluntarySwitch(view.getUint32(at + o.prevState, true))) this.#snap.voluntary++;
    else this.#snap.involuntary++;
  }

  /** A new task: a thread of the target, a process it forks (followed or not), or foreign. */
  #onNewTask(view: DataView, at: number, pid: number): void {
    const o = this.#o;
    const parent = this.#isOurs(pid);
    const child = view.getInt32(at + o.newPid, true);
    const thread = (view.getUint32(at + o.newFlags, true) & CLONE_THREAD) !== 0;
    if (parent && (thread || this.#followChildren)) {
      const group = this.#ours.get(pid) ?? -1;
      this.#ours.set(child, thread ? group : child);
      if (!thread) this.#procs.add(child);
      this.#newThreads.push(child);
    } else {
      this.#ours.set(child, 0);
      this.#foreign.push(child);
    }
  }

  /** A task exits: it leaves the traced set. */
  #onProcessExit(view: DataView, at: number): void {
    const o = this.#o;
    // The task leaves the traced set: a later task given its id is not the target's.
    const tid = view.getInt32(at + o.exitPid, true);
    const group = this.#ours.get(tid);
    this.#startTs.delete(tid);
    this.#startId.delete(tid);
    if (group === undefined || group === 0) {
      this.#ours.delete(tid);
      return;
    }
    // Forgotten at its last switch away, which follows (see schedSwitch).
    this.#exited.add(tid);
    const groupDead = o.exitGroupDead >= 0
      ? view.getUint8(at + o.exitGroupDead) !== 0
      : group === tid;
    if (groupDead) this.#leave(group > 0 ? group : tid);
  }

  /** A process execs: with --comm, it joins or leaves by its new name. */
  #onProcessExec(view: DataView, at: number): void {
    const o = this.#o;
    const newPid = view.getInt32(at + o.execPid, true);
    const oldPid = view.getInt32(at + o.execOldPid, true);
    if (oldPid !== newPid) this.#ours.delete(oldPid);
    if (this.#comm === undefined) return;
    const loc = view.getUint32(at + o.execFile, true);
    const start = at + (loc & 0xffff);
    const name = commOfExec(
      new Uint8Array(view.buffer, view.byteOffset + start, Math.min(loc >>> 16, 4096)),
    );
    if (name === this.#comm) {
      if (this.#ours.get(newPid) === newPid) return;
      this.#ours.set(newPid, newPid);
      this.#procs.add(newPid);
      this.#joined.push(newPid);
    } else if ((this.#ours.get(newPid) ?? 0) !== 0) {
      this.#leave(newPid);
      this.#ours.set(newPid, 0);
      this.#foreign.push(newPid);
    }
  }

  /** A task is renamed: with --comm, a process taking the name joins. */
  #onTaskRename(view: DataView, at: number): void {
    const o = this.#o;
    // A process renamed to the --comm name (prctl PR_SET_NAME on its main
    // thread, or /proc/PID/comm) joins; a thread so renamed is not a process.
    if (this.#comm === undefined || o.renameComm < 0) return;
    const renamed = view.getInt32(at + o.renamePid, true);
    const comm = new Uint8Array(view.buffer, view.byteOffset + at + o.renameComm, 16);
    const end = comm.indexOf(0);
    const name = new TextDecoder().decode(comm.subarray(0, end < 0 ? 16 : end));
    if (name !== this.#comm || this.#ours.get(renamed) === renamed) return;
    if (this.#tgidOf && this.#tgidOf(renamed) !== renamed) return;
    this.#ours.set(renamed, renamed);
    this.#procs.add(renamed);
    this.#joined.push(renamed);
  }

  /** An io_uring request of the target's is submitted: its ring, start and opcode. */
  #onUringSubmit(ts: number, view: DataView, at: number, pid: number): void {
    const o = this.#o;
    if (!this.#isOurs(pid)) return;
    const ctx = ptrKey(view, at + o.subCtx);
    if (!this.#rings.has(ctx)) {
      const full = view.getBigUint64(at + o.subCtx, true);
      this.#rings.set(ctx, full);
      this.#newRings.push(full);
    }
    const req = ptrKey(view, at + o.subReq);
    const opcode = view.getUint8(at + o.subOp);
    this.#inflightTs.set(req, ts);
    this.#inflightOp.set(req, opcode);
    this.#multishot.delete(req);
    // A multishot request's completions but the last carry no request
    // (io_fill_cqe_aux traces req NULL): found by ring and user_data.
    if (o.subUd >= 0) {
      this.#byUserData.set(`${ctx}:${view.getBigUint64(at + o.subUd, true)}`, req);
    }
    if (o.subFlags >= 0 && (view.getUint32(at + o.subFlags, true) & REQ_F_CQE_SKIP) !== 0) {
      this.#skipped.set(req, opcode);
      if (this.#inWindow(ts)) {
        const op = this.#uring(opcode);
        op.untimed = (op.untimed ?? 0) + 1;
      }
    } else {
      this.#skipped.delete(req);
    }
  }

  /** An io_uring request is punted to an async worker. */
  #onUringAsync(ts: number, view: DataView, at: number): void {
    const o = this.#o;
    const req = ptrKey(view, at + o.asyncReq);
    if (!this.#inflightTs.has(req) || !this.#inWindow(ts)) return;
    const op = this.#uring(view.getUint8(at + o.asyncOp));
    op.async = (op.async ?? 0) + 1;
  }

  /** An io_uring request completes (posted by any task): timed from its submission. */
  #onUringComplete(ts: number, view: DataView, at: number, source: number): void {
    const o = this.#o;
    let req = ptrKey(view, at + o.cmpReq);
    const udKey = o.cmpUd >= 0 && o.cmpCtx >= 0
      ? `${ptrKey(view, at + o.cmpCtx)}:${view.getBigUint64(at + o.cmpUd, true)}`
      : "";
    if (req === 0) req = this.#byUserData.get(udKey) ?? 0;
    const start = this.#inflightTs.get(req);
    if (start === undefined) return;
    const cflags = view.getUint32(at + o.cmpFlags, true);
    if (
      this.#seenInOtherInstance(
        ts,
        source,
        req,
        udKey,
        view.getInt32(at + o.cmpRes, true),
        cflags,
      )
    ) {
      return;
    }
    const opcode = this.#inflightOp.get(req) ?? 0;
    const more = (cflags & IORING_CQE_F_MORE) !== 0;
    const multishot = more || this.#multishot.has(req);
    const skipped = this.#skipped.has(req);
    if (more) {
      // The next completion of this request is timed from this one.
      this.#inflightTs.set(req, ts);
      this.#multishot.add(req);
    } else {
      this.#inflightTs.delete(req);
      this.#inflightOp.delete(req);
      this.#multishot.delete(req);
      this.#skipped.delete(req);
      this.#byUserData.delete(udKey);
    }
    if ((cflags & IORING_CQE_F_NOTIF) !== 0 || ts < start || !this.#inWindow(ts)) return;
    const res = view.getInt32(at + o.cmpRes, true);
    const op = this.#uring(opcode);
    // A CQE_SKIP_SUCCESS request that posted a completion failed: timed, not untimed.
    if (skipped) op.untimed = Math.max(0, (op.untimed ?? 0) - 1);
    addLatency(op, ts - start, res < 0 ? -res : 0);
    if (multishot) op.multishot = (op.multishot ?? 0) + 1;
    if (res >= 0 && IO_URING_DATA_OPS.has(opcode)) op.bytes += res;
  }

  /** The last completion of each request, and which instance it came from. */
  #lastCompletion = new Map<
    number,
    { ts: number; source: number; udKey: string; res: number; cflags: number }
  >();

  /**
   * Whether a completion is the copy of one just fed from the other instance:
   * while a new ring's filters change, the main instance and the ring
   * instance both record its completions for a moment, each stamped by its
   * own clock read (973 ns apart in a loaded run where a multishot ACCEPT's
   * completion was counted twice, 1 run of 8, 2026-12-02). A request's
   * completions in one instance are never copies, however close (a multishot
   * RECV posts several at once).
   */
  #seenInOtherInstance(
    ts: number,
    source: number,
    req: number,
    udKey: string,
    res: number,
    cflags: number,
  ): boolean {
    const last = this.#lastCompletion.get(req);
    if (last) {
      const copy = last.source !== source && last.udKey === udKey && last.res === res &&
        last.cflags === cflags && Math.abs(ts - last.ts) < COPY_WINDOW_NS;
      if (copy) return true;
      last.ts = ts;
      last.source = source;
      last.udKey = udKey;
      last.res = res;
      last.cflags = cflags;
      return false;
    }
    if (this.#lastCompletion.size >= 4096) this.#lastCompletion.clear();
    this.#lastCompletion.set(req, { ts, source, udKey, res, cflags });
    return false;
  }

  /**
   * Marks a gap: records were lost up to `ts`. Syscalls entered before it
   * might have had their exit lost, so they are no longer matched.
   * @param ts where the gap ends
   */
  gap(ts: number): void {
    for (const [tid, start] of this.#startTs) {
      if (start <= ts) {
        this.#startTs.delete(tid);
        this.#startId.delete(tid);
      }
    }
  }

  /**
   * Sets the trace window: records that end a call, a request or an event
   * outside it are not counted (they still pair starts with ends).
   * @param from the window's first timestamp
   * @param to its last (@default Infinity: open)
   */
  setWindow(from: number, to = Infinity): void {
    this.#from = from;
    this.#to = to;
  }

  #inWindow(ts: number): boolean {
    return ts >= this.#from && ts <= this.#to;
  }

  /** Rings (io_ring_ctx addresses) seen for the first time since the last call. */
  takeNewRings(): bigint[] {
    return this.#newRings.splice(0);
  }

  /**
   * Makes these threads the target's from now on (a process that joined a
   * traced cgroup, found by the agent rather than in the records).
   * @param tids thread ids
   */
  track(tids: Iterable<number>): void {
    for (const tid of tids) {
      const group = this.#tgidOf?.(tid) ?? -1;
      this.#ours.set(tid, group);
      if (group > 0) this.#procs.add(group);
    }
  }

  /** Threads the target created since the last call (to add to set_event_pid). */
  takeNewThreads(): number[] {
    return this.#newThreads.splice(0);
  }

  /**
   * Processes that joined the target by exec'ing its `comm` since the last
   * call (to add to set_event_pid: the kernel follows forks, not execs).
   */
  takeJoined(): number[] {
    return this.#joined.splice(0);
  }

  /** Processes the target forked since the last call (not traced; to exclude). */
  takeForeignTasks(): number[] {
    return this.#foreign.splice(0);
  }

  /** Every ring seen so far. */
  rings(): bigint[] {
    return [...this.#rings.values()];
  }

  /**
   * The cumulative snapshot so far (a copy).
   * @param lostEvents events the kernel could not record (from per_cpu stats)
   * @returns the snapshot
   */
  snapshot(lostEvents = 0, options: { final?: boolean } = {}): Snapshot {
    const s = cloneSnapshot(this.#snap);
    s.lostEvents = lostEvents;
    // Calls entered and io_uring requests submitted that had not ended.
    if (options.final) s.inFlight = this.#startTs.size + this.#inflightTs.size;
    return s;
  }

  /** The target's processes now (thread group ids). */
  processes(): number[] {
    return [...this.#procs];
  }

  /** Whether a traced thread's process is 32-bit, asked once per process. */
  #isCompatTask(tid: number): boolean {
    if (!this.#isCompat) return false;
    const group = this.#ours.get(tid) ?? -1;
    const pid = group > 0 ? group : tid;
    let compat = this.#compatProcs.get(pid);
    if (compat === undefined) this.#compatProcs.set(pid, compat = this.#isCompat(pid));
    return compat;
  }

  /**
   * Whether a task is the target's: known from the start or from the records,
   * else asked of `tgidOf` (once), else `unknown` (a record that passed the
   * kernel's PID filter is the target's unless known otherwise).
   */
  #isOurs(tid: number, unknown = true): boolean {
    const known = this.#ours.get(tid);
    if (known !== undefined) return known !== 0;
    if (!this.#tgidOf) {
      if (unknown) this.#ours.set(tid, -1);
      return unknown;
    }
    const group = this.#tgidOf(tid);
    const ours = group !== null && this.#procs.has(group);
    this.#ours.set(tid, ours ? group : 0);
    return ours;
  }

  /** A process left the traced set: its threads are forgotten (exiting ones at their last switch). */
  #leave(group: number): void {
    this.#procs.delete(group);
    for (const [tid, g] of this.#ours) {
      if (g === group && !this.#exited.has(tid)) this.#ours.delete(tid);
    }
  }

  /** A task that exited is no longer the target's: a later task given its id is not. */
  #forget(tid: number): void {
    this.#ours.delete(tid);
  }

  /**
   * Counts a call of thread `tid` on descriptor `fd` of its process (`bytes`
   * -1: failed). At most {@linkcode FD_KEYS_MAX} descriptors are kept, as the
   * bpf backend's map: a call on another one, once that many were seen (a
   * target whose processes come and go), is counted in `mapFull` only.
   */
  #addFd(tid: number, fd: number, id: number, d: number, bytes: number): void {
    const group = this.#ours.get(tid) ?? -1;
    const pid = group > 0 ? group : tid;
    const key = `${pid}:${fd}`;
    let t = this.#snap.fds.get(key);
    if (!t) {
      if (this.#snap.fds.size >= FD_KEYS_MAX) {
        this.#snap.mapFull++;
        return;
      }
      t = emptyFdTotals(pid, fd);
      this.#snap.fds.set(key, t);
    }
    t.count++;
    t.total_ns += d;
    const name = SYSCALL_NAMES_X86_64.get(id) ?? `syscall_${id}`;
    if (bytes < 0) t.errors++;
    else {
      t.bytes += bytes;
      t.callBytes.set(name, (t.callBytes.get(name) ?? 0) + bytes);
    }
    t.calls.set(name, (t.calls.get(name) ?? 0) + 1);
  }

  #syscall(id: number): OpTotals {
    const name = SYSCALL_NAMES_X86_64.get(id) ?? `syscall_${id}`;
    let op = this.#snap.syscalls.get(name);
    if (!op) {
      op = emptyOpTotals();
      this.#snap.syscalls.set(name, op);
    }
    return op;
  }

  #uring(opcode: number): OpTotals {
    const name = ioUringOpName(opcode);
    let op = this.#snap.io_uring.get(name);
    if (!op) {
      op = { ...emptyOpTotals(), async: 0 };
      this.#snap.io_uring.set(name, op);
    }
    return op;
  }
}
