/**
 * targets: the traced set, kept in the kernel. A hash of thread group ids
 * (seeded by the agent with the targets) that these programs grow and shrink
 * as processes come and go, so no program is rebuilt during a trace:
 *
 * - fork (`sched_process_fork`): the child joins when its parent is traced
 *   and children are followed, or when it carries the --comm name (a child
 *   inherits its parent's name).
 * - exec (`sched_process_exec`) and rename (`task_rename`): a process that
 *   takes the --comm name joins; one that execs another program leaves.
 * - exit (`sched_process_exit`): a process leaves when its last thread
 *   exits, so a recycled PID is never taken for the target.
 *
 * A thread created by a traced process is a fork whose child id is a thread
 * id: it is added too (no harm: a live thread's id is nobody's process id)
 * and removed when that thread exits.
 * @module
 */

import {
  add,
  and,
  BPF_ANY,
  call,
  exit,
  Helper,
  type Insn,
  ja,
  jeq,
  jne,
  label,
  ldImm64,
  ldx,
  loadMapFd,
  mov,
  R0,
  R1,
  R10,
  R2,
  R7,
  R8,
  rawTracepointArgs,
  roles,
  rsh,
  type SavedReg,
  st,
  stackFrame,
  stx,
} from "../../ffi/bpf/mod.ts";
import {
  type BuildContext,
  countOne,
  CTX,
  KEY_SLOTS,
  loadArg,
  lookup,
  remove,
  update,
} from "./_emit.ts";
import { COUNTER } from "./layout.ts";

const FORK = "sched:sched_process_fork";
const EXIT = "sched:sched_process_exit";
const RENAME = "task:task_rename";

/** Comm names are at most 15 bytes and a NUL (TASK_COMM_LEN). */
export const COMM_LEN = 16;

/**
 * The stack of the programs that grow the set: the targets key
 * (KEY_SLOTS.targetKey), the value a member gets, and a comm to compare.
 */
const JOIN_SLOTS = stackFrame(
  { member: { size: 4, align: 8 }, comm: COMM_LEN },
  { below: KEY_SLOTS },
);

/** The exit program's stack: the exiting thread's id, and its process's. */
const EXIT_SLOTS = stackFrame({
  thread: { size: 4, align: 8 },
  process: { size: 4, align: 8 },
});

/** The exec program's stack: the joining fragments', and the thread's id (a starts key). */
const EXEC_SLOTS = stackFrame({ thread: { size: 4, align: 8 } }, { below: JOIN_SLOTS });

/**
 * The words a comm compares against: the name's bytes and its NUL, in two
 * little-endian u64 words, with masks that keep only those bytes (what
 * follows the NUL may be anything).
 * @param name the --comm name, 15 bytes at most
 * @returns expected words and masks
 * @example
 * ```ts
 * import { commWords } from "./_targets.ts";
 * const w = commWords("fio");
 * console.assert(w.words[0] === 0x6f6966n && w.masks[0] === 0xffffffffn && w.masks[1] === 0n);
 * ```
 */
export function commWords(name: string): { words: [bigint, bigint]; masks: [bigint, bigint] } {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= COMM_LEN) {
    throw new RangeError(`A process name has 1 to ${COMM_LEN - 1} bytes, got ${bytes.length}`);
  }
  const padded = new Uint8Array(COMM_LEN);
  padded.set(bytes);
  const v = new DataView(padded.buffer);
  const keep = bytes.length + 1; // with the NUL
  const mask = (n: number) =>
    n <= 0 ? 0n : n >= 8 ? 0xffff_ffff_ffff_ffffn : (1n << BigInt(n * 8)) - 1n;
  return {
    words: [v.getBigUint64(0, true), v.getBigUint64(8, true)],
    masks: [mask(keep), mask(keep - 8)],
  };
}

/** Jumps to `no` unless the 16 bytes at JOIN_SLOTS.comm are the --comm name. */
function ifCommIs(name: string, no: string): Insn[] {
  const { words, masks } = commWords(name);
  const word = (i: 0 | 1): Insn[] =>
    masks[i] === 0n ? [] : [
      ldx.dw(R1, R10, JOIN_SLOTS.comm + i * 8),
      ldImm64(R2, masks[i]),
      and.reg(R1, R2),
      ldImm64(R2, words[i]),
      jne.reg(R1, R2, no),
    ];
  return [...word(0), ...word(1)];
}

/** targets[id] = 1; a full map is counted. */
function join(b: BuildContext, id: SavedReg, p: string): Insn[] {
  const fp = JOIN_SLOTS;
  return [
    stx.w(R10, fp.targetKey, id),
    st.w(R10, fp.member, 1),
    ...update(b.maps.targets, fp.targetKey, fp.member, BPF_ANY),
    jeq.imm(R0, 0, `${p}_joined`),
    ...countOne(b, COUNTER.targetsFull, `${p}_full`),
    label(`${p}_joined`),
  ];
}

/** The current comm at JOIN_SLOTS.comm (zero-padded). */
const currentComm: Insn[] = [
  mov.reg(R1, R10),
  add.imm(R1, JOIN_SLOTS.comm),
  mov.imm(R2, COMM_LEN),
  call(Helper.get_current_comm),
];

/**
 * The fork program: a traced parent's child joins (followed children), and
 * so does a child carrying the --comm name.
 * @param b the build context
 * @returns the instructions
 */
export function onFork(b: BuildContext): Insn[] {
  const { followChildren, comm } = b.filter;
  if (b.kind !== "tp") throw new RangeError("The fork program reads a classic tracepoint's record");
  const r = roles({ ctx: CTX, child: R7 });
  return [
    mov.reg(r.ctx, R1),
    ...loadArg(b, r.child, FORK, { raw: 1, field: "child_pid" }),
    ...(followChildren
      ? [
        call(Helper.get_current_pid_tgid),
        rsh.imm(R0, 32),
        stx.w(R10, JOIN_SLOTS.targetKey, R0),
        ...lookup(b.maps.targets, JOIN_SLOTS.targetKey),
        jne.imm(R0, 0, "add"), // the parent is traced
      ]
      : []),
    ...(comm ? [...currentComm, ...ifCommIs(comm, "out"), ja("add")] : [ja("out")]),
    label("add"),
    ...join(b, r.child, "child"),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * Whether this kernel's sched_process_exit says that the whole thread group
 * is dead (`group_dead`): a raw tracepoint's (and a BTF one's) arguments are
 * counted in the kernel's BTF (`btf_trace_sched_process_exit`), a classic
 * tracepoint's fields read from tracefs. Debian's 5.10, 6.1 and 6.12 pass
 * only the task; newer kernels add `group_dead`.
 * @param b the build context
 * @returns true when the program can read it
 */
export function exitHasGroupDead(b: BuildContext): boolean {
  if (b.kind !== "tp") {
    const raw = rawTracepointArgs("sched_process_exit");
    if (raw.args !== undefined) return raw.args >= 2;
  }
  try {
    b.field(EXIT, "group_dead");
    return true;
  } catch {
    return false;
  }
}

/**
 * The exit program: a thread's own entry goes when it exits, the process's
 * when its last thread does. Where the tracepoint does not say which thread
 * is the last (no `group_dead`), the process leaves when its leader (the
 * thread whose id is the process id) exits, as the bpftrace backend does; a
 * leader that ends before its other threads then takes the process out of
 * the set early. Where starts live in a tid-keyed hash, the thread's start
 * goes too.
 * @param b the build context
 * @param groupDead whether the tracepoint passes group_dead (probed by
 *   {@linkcode exitHasGroupDead} unless given)
 * @returns the instructions
 */
export function onExit(b: BuildContext, groupDead = exitHasGroupDead(b)): Insn[] {
  const del = (mapFd: number, keyOff: number): Insn[] => [
    ...remove(mapFd, keyOff),
  ];
  const fp = EXIT_SLOTS;
  const r = roles({ ctx: CTX, process: R7, groupDead: R8 });
  const ids: Insn[] = [
    call(Helper.get_current_pid_tgid),
    mov.reg(r.process, R0),
    stx.w(R10, fp.thread, R0),
    rsh.imm(r.process, 32),
    stx.w(R10, fp.process, r.process),
    ...(b.maps.startsInTaskStorage ? [] : del(b.maps.starts, fp.thread)),
  ];
  if (!groupDead) {
    return [
      ...ids,
      ldx.w(R1, R10, fp.thread),
      jeq.reg(R1, r.process, "leader"),
      ...del(b.maps.targets, fp.thread), // another thread: its own entry
      ja("out"),
      label("leader"),
      ...del(b.maps.targets, fp.process), // the leader: the process leaves
      label("out"),
      mov.imm(R0, 0),
      exit(),
    ];
  }
  return [
    mov.reg(r.ctx, R1),
    ...loadArg(b, r.groupDead, EXIT, { raw: 1, field: "group_dead" }),
    and.imm(r.groupDead, 0xff),
    ...ids,
    // The leader's thread id is the process id: it stays while others run.
    ldx.w(R1, R10, fp.thread),
    jeq.reg(R1, r.process, "leader"),
    ...del(b.maps.targets, fp.thread),
    label("leader"),
    jeq.imm(r.groupDead, 0, "out"),
    ...del(b.maps.targets, fp.process), // the last thread: the process leaves
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * The exec program (--comm only): a process that now runs a program of that
 * name joins; one that runs another leaves (exec leaves it one thread, the
 * caller), and that thread's start value goes with it, so no call of the
 * new program is taken for the target's.
 * @param b the build context
 * @returns the instructions
 */
export function onExec(b: BuildContext): Insn[] {
  const comm = b.filter.comm;
  if (!comm) throw new RangeError("The exec program is for --comm only");
  const fp = EXEC_SLOTS;
  const r = roles({ process: R7 });
  const forgetStart: Insn[] = b.maps.startsInTaskStorage
    ? [
      call(Helper.get_current_task_btf),
      mov.reg(R2, R0),
      loadMapFd(R1, b.maps.starts),
      call(Helper.task_storage_delete),
    ]
    : remove(b.maps.starts, fp.thread); // keyed by thread id
  return [
    call(Helper.get_current_pid_tgid),
    stx.w(R10, fp.thread, R0),
    rsh.imm(R0, 32),
    mov.reg(r.process, R0),
    stx.w(R10, fp.targetKey, r.process),
    ...currentComm,
    ...ifCommIs(comm, "away"),
    ...join(b, r.process, "exec"),
    ja("out"),
    label("away"),
    ...remove(b.maps.targets, fp.targetKey), // nothing when it was not traced
    ...forgetStart,
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * The rename program (--comm only): a task renamed to that name
 * (prctl PR_SET_NAME, /proc/PID/comm) joins.
 * @param b the build context
 * @returns the instructions
 */
export function onRename(b: BuildContext): Insn[] {
  const comm = b.filter.comm;
  if (!comm) throw new RangeError("The rename program is for --comm only");
  if (b.kind !== "tp") {
    throw new RangeError("The rename program reads a classic tracepoint's record");
  }
  const r = roles({ ctx: CTX, task: R7 });
  // The record's newcomm, four aligned words at a time, to the comm slot.
  const newComm = [0, 4, 8, 12].flatMap((i) => [
    ldx.w(R1, r.ctx, b.field(RENAME, "newcomm").offset + i),
    stx.w(R10, JOIN_SLOTS.comm + i, R1),
  ]);
  return [
    mov.reg(r.ctx, R1),
    ...newComm,
    ...loadArg(b, r.task, RENAME, { raw: 0, field: "pid" }),
    ...ifCommIs(comm, "out"),
    ...join(b, r.task, "renamed"),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}
