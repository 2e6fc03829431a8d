/**
 * syscalls: I/O syscall latency, base-2 exponential histograms, per syscall: what
 * probes/io_syscalls.bt measures, as two programs.
 *
 * - enter (raw tracepoint `sys_enter`, or classic `raw_syscalls:sys_enter`):
 *   the syscall number picks a slot by a binary search over immediates (not
 *   traced: leave); a traced process's call stores its start time and slot
 *   in the task's storage (a hash keyed by thread id where task storage is
 *   missing). A 32-bit (compat) call of a traced syscall (by i386's
 *   numbers, which the search also holds) is counted apart, never timed.
 * - exit (`sys_exit`): a task with a start stored ends its call: count,
 *   latency, bytes or errno, the histogram of successful or of failed calls.
 *   Restart codes (-512..-516) end nothing: the call runs again and is
 *   counted once, timed from its last entry.
 *
 * With fentry/fexit each syscall function gets its own pair of programs:
 * the slot is a constant and only traced syscalls pay at all.
 *
 * Overhead: every syscall on the host pays a few compares at entry and one
 * task-storage lookup at exit; every I/O call a target lookup at entry; a
 * traced process's I/O calls two timestamps, a few per-CPU adds and a
 * descriptor's totals.
 * What costs here is memory first touched after a syscall's page-table
 * switch (benchmarks/bpf_helper_costs.ts): the first ktime_get_ns of a
 * syscall took 117-129 ns and the next ones 35-45; the first hash lookup
 * 102-119 ns and the next ones 20-26 (2026-12-02).
 * @module
 */

import {
  add,
  and,
  BPF_ANY,
  BPF_LOCAL_STORAGE_GET_F_CREATE,
  BPF_NOEXIST,
  call,
  exit,
  haveHelper,
  Helper,
  type Insn,
  ja,
  jeq,
  jeq32,
  jge,
  jgt,
  jne,
  jslt,
  label,
  ldx,
  loadMapFd,
  mov,
  ProgType,
  R0,
  R1,
  R10,
  R2,
  R3,
  R4,
  R6,
  R7,
  R8,
  R9,
  rsh,
  st,
  stx,
  sub,
} from "../../ffi/bpf/mod.ts";
import {
  addTo,
  type BuildContext,
  countOne,
  ifOpen,
  ifTraced,
  increment,
  loadArg,
  lookup,
  recordEnd,
  update,
} from "./_emit.ts";
import { COUNTER, ERRNO_KIND, FD_VALUE, NO_FD, OP, SLOT, START } from "./layout.ts";

const ENTER = "raw_syscalls:sys_enter";
const EXIT = "raw_syscalls:sys_exit";
/** sys_enter(regs, id); sys_exit(regs, ret); fexit(regs, ret). */
const ID = { raw: 1, field: "id" };
const RET = { raw: 1, field: "ret" };

/**
 * `R0 = this task's start value`, created when `create` (null when task
 * storage or the hash is full, or, without create, when the task has none).
 */
export function startOf(b: BuildContext, create: boolean, p: string): Insn[] {
  if (b.maps.startsInTaskStorage) {
    return [
      call(Helper.get_current_task_btf),
      mov.reg(R2, R0),
      loadMapFd(R1, b.maps.starts),
      mov.imm(R3, 0),
      mov.imm(R4, create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0),
      call(Helper.task_storage_get),
    ];
  }
  // Where task storage is missing: a hash keyed by thread id, whose entry
  // stays until the thread exits (_targets.ts deletes it).
  return [
    call(Helper.get_current_pid_tgid),
    stx.w(R10, -40, R0), // the thread id
    ...lookup(b.maps.starts, -40),
    ...(create
      ? [
        jne.imm(R0, 0, `${p}_found`),
        st.dw(R10, -56, 0),
        st.dw(R10, -48, 0),
        ...update(b.maps.starts, -40, -56, BPF_ANY),
        mov.reg(R2, R0),
        mov.imm(R0, 0),
        jne.imm(R2, 0, `${p}_found`), // insert failed: R0 = null
        ...lookup(b.maps.starts, -40),
        label(`${p}_found`),
      ]
      : []),
  ];
}

/**
 * Where the first syscall argument lies in `struct pt_regs`: x86_64 `di`
 * (RDI in uapi asm/ptrace-abi.h, the ptrace offset), arm64 `regs[0]`
 * (uapi user_pt_regs, the start of pt_regs; overwritten only on return).
 */
export const FIRST_ARG_OFFSET = Deno.build.arch === "aarch64" ? 0 : 112;

/**
 * `R1 = the syscall's first argument`, from the saved user registers: in
 * the record (classic tracepoint), through the pt_regs pointer (raw
 * tracepoint: a kernel read; fentry: a typed load).
 */
function firstArg(b: BuildContext): Insn[] {
  const reg = FIRST_ARG_OFFSET;
  if (b.kind === "tp") return [ldx.dw(R1, R6, b.field(ENTER, "args").offset)];
  if (b.kind === "fentry") return [ldx.dw(R1, R6, 0), ldx.dw(R1, R1, reg)];
  return [
    ldx.dw(R3, R6, 0), // the pt_regs pointer
    add.imm(R3, reg),
    mov.reg(R1, R10),
    add.imm(R1, -48),
    mov.imm(R2, 8),
    call(Helper.probe_read_kernel),
    ldx.dw(R1, R10, -48),
  ];
}

/**
 * Books the ended call to its descriptor: fds[process, fd, slot]. In: R7 =
 * latency, R8 = slot value, R9 = result, fp-48 = descriptor, fp-16 = slot.
 */
function perDescriptor(b: BuildContext): Insn[] {
  return [
    ldx.w(R1, R10, -48),
    jeq32.imm(R1, NO_FD, "out"),
    stx.w(R10, -60, R1),
    call(Helper.get_current_pid_tgid),
    rsh.imm(R0, 32),
    stx.w(R10, -64, R0),
    ldx.w(R1, R10, -16),
    stx.w(R10, -56, R1),
    st.w(R10, -52, 0),
    ...lookup(b.maps.fds, -64),
    jne.imm(R0, 0, "fd_found"),
    // A descriptor not seen before: insert zeros, then look it up again.
    ...[-96, -88, -80, -72].map((off) => st.dw(R10, off, 0)),
    ...update(b.maps.fds, -64, -96, BPF_NOEXIST),
    jeq.imm(R0, 0, "fd_inserted"),
    jeq.imm(R0, -17, "fd_inserted"), // EEXIST: another CPU was first
    ...countOne(b, COUNTER.fdFull, "fd_full"),
    ja("out"),
    label("fd_inserted"),
    ...lookup(b.maps.fds, -64),
    jeq.imm(R0, 0, "out"),
    label("fd_found"),
    mov.reg(R6, R0), // R6 = the descriptor's totals
    ...increment(R6, FD_VALUE.count * 8),
    ...addTo(R6, FD_VALUE.totalNs * 8, R7),
    mov.reg(R1, R9),
    add.imm(R1, 4095),
    jgt.imm(R1, 4094, "fd_ok"),
    ...increment(R6, FD_VALUE.errors * 8),
    ja("out"),
    label("fd_ok"),
    mov.reg(R1, R8),
    and.imm(R1, SLOT.bytesFlag),
    jeq.imm(R1, 0, "out"),
    jslt.imm(R9, 0, "out"),
    ...addTo(R6, FD_VALUE.bytes * 8, R9),
  ];
}

/** A traced syscall's number and its slot-table value (layout.ts SLOT). */
export interface SlotEntry {
  nr: number;
  slotValue: number;
  /** Its numbers on i386 (schema/syscalls_i386.ts): a 32-bit call's. */
  i386?: readonly number[];
}

/**
 * The slot table with the traced syscalls' i386 numbers added: each gets
 * SLOT.compatFlag, kept with the x86_64 slot where a number is both (426,
 * io_uring_enter, is both; 3, i386's read, is x86_64's untraced close).
 * @param table the traced syscalls, with their i386 numbers
 * @returns the entries the search looks for
 */
export function withCompatNumbers(table: readonly SlotEntry[]): SlotEntry[] {
  const byNr = new Map<number, number>(table.map((e) => [e.nr, e.slotValue]));
  for (const e of table) {
    for (const nr of e.i386 ?? []) byNr.set(nr, (byNr.get(nr) ?? 0) | SLOT.compatFlag);
  }
  return [...byNr].map(([nr, slotValue]) => ({ nr, slotValue }));
}

/**
 * `R8 = the slot-table value of the syscall number in R7`, found by a binary
 * search whose keys are immediates in the program; leaves by `out` when the
 * number is not traced. Every syscall on the host runs this: compares and
 * jumps touch no memory, where a table in an array map costs a TLB miss
 * after each syscall's page-table switch (PTI without PCID here).
 * @param table the traced syscalls
 * @param out the label to leave by
 * @returns the instructions (R8 set, nothing else changed)
 */
export function slotSearch(table: readonly SlotEntry[], out: string): Insn[] {
  const e = [...table].sort((a, b) => a.nr - b.nr);
  const tree: Insn[] = [];
  let split = 0;
  const node = (lo: number, hi: number): void => {
    if (hi - lo <= 3) {
      for (let i = lo; i < hi; i++) tree.push(jeq.imm(R7, e[i]!.nr, `nr_${i}`));
      tree.push(ja(out));
      return;
    }
    const mid = (lo + hi) >> 1;
    const right = `nr_ge_${split++}`;
    tree.push(jge.imm(R7, e[mid]!.nr, right)); // unsigned: -1 (no syscall) goes right, then out
    node(lo, mid);
    tree.push(label(right));
    node(mid, hi);
  };
  node(0, e.length);
  const leaves = e.flatMap((x, i) => [label(`nr_${i}`), mov.imm(R8, x.slotValue), ja("nr_found")]);
  return [...tree, ...leaves, label("nr_found")];
}

/** TS_COMPAT in x86's thread_info.status: the task is in a 32-bit syscall. */
export const TS_COMPAT = 0x2;

/**
 * Whether programs of this kind may call `bpf_get_current_task_btf` (5.11+),
 * found by trying: where it is missing, the current task is read through
 * `bpf_get_current_task` and `bpf_probe_read_kernel`.
 * @param b the build context
 * @returns true when the typed helper loads
 */
export function haveTaskBtf(b: BuildContext): boolean {
  const type = b.kind === "tp" ? ProgType.TRACEPOINT : ProgType.RAW_TRACEPOINT;
  return haveHelper(type, Helper.get_current_task_btf).ok;
}

/**
 * Sorts a traced task's call by its syscall table: a 32-bit (compat) call
 * is counted apart when its number is i386's for a traced syscall
 * (SLOT.compatFlag), never timed under a 64-bit call's name (io_syscalls.bt
 * does the same), and leaves by `out`; a 64-bit call whose number is only
 * i386's (slot 0) leaves too. Reads `current->thread_info.status` (BTF gives
 * the offset) with a typed load, or where `bpf_get_current_task_btf` is
 * missing (before 5.11) with `bpf_probe_read_kernel` into fp-72; nothing
 * where the offset is unknown (the table then has no i386 numbers). In: R8 =
 * the slot value.
 */
function ifNative(b: BuildContext, out: string): Insn[] {
  if (b.compatStatusOffset === undefined) return [];
  const status: Insn[] = haveTaskBtf(b)
    ? [call(Helper.get_current_task_btf), ldx.w(R1, R0, b.compatStatusOffset)]
    : [
      call(Helper.get_current_task),
      mov.reg(R3, R0),
      add.imm(R3, b.compatStatusOffset),
      mov.reg(R1, R10),
      add.imm(R1, -72),
      mov.imm(R2, 4),
      call(Helper.probe_read_kernel),
      ldx.w(R1, R10, -72), // zero when the read failed: counted as native
    ];
  return [
    ...status,
    and.imm(R1, TS_COMPAT),
    jeq.imm(R1, 0, "native"),
    mov.reg(R1, R8),
    and.imm(R1, SLOT.compatFlag),
    jeq.imm(R1, 0, out), // a 32-bit call of an untraced syscall
    ...countOne(b, COUNTER.compat, "compat"),
    ja(out),
    label("native"),
    mov.reg(R1, R8),
    and.imm(R1, SLOT.indexMask),
    jeq.imm(R1, 0, out), // a 64-bit call whose number is only i386's
  ];
}

/**
 * A fentry program on a traced syscall's i386 function (`__ia32_sys_read`,
 * `__ia32_compat_sys_*`): only 32-bit calls reach it, so a traced process's
 * call is counted apart (COUNTER.compat) and not timed, as raw tracepoints
 * count it.
 * @param b the build context
 * @returns the instructions
 */
export function compatEnter(b: BuildContext): Insn[] {
  return [
    ...ifOpen(b, "out"),
    ...ifTraced(b, "out"),
    ...countOne(b, COUNTER.compat, "compat"),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/**
 * `R9 = this traced task's start value`, else leaves by `out` (not traced)
 * or `full` (no value could be made). The traced test comes first, so an
 * untraced process's I/O call leaves after one lookup. (Testing first for a
 * start value, which only traced tasks have, saved traced calls 3-17 ns and
 * cost untraced ones up to 38: benchmarks/bpf_run_time.ts, 2026-12-02.)
 */
function tracedStart(b: BuildContext, out: string): Insn[] {
  return [
    ...ifTraced(b, out),
    ...startOf(b, true, "start"),
    jeq.imm(R0, 0, "full"),
    mov.reg(R9, R0),
  ];
}

/**
 * The entry program: a traced process's I/O call stores when it started.
 * @param b the build context
 * @param slots for a fentry program, the slot-table value of its syscall;
 *   else every traced syscall's number and slot-table value
 * @returns the instructions
 */
export function sysEnter(b: BuildContext, slots: number | readonly SlotEntry[]): Insn[] {
  const slotOf: Insn[] = typeof slots === "number"
    ? [mov.imm(R8, slots)] // one program per syscall: the slot is known
    : [
      ...loadArg(b, R7, ENTER, ID), // R7 = the syscall number
      ...slotSearch(b.compatStatusOffset === undefined ? slots : withCompatNumbers(slots), "out"),
    ];
  return [
    ...ifOpen(b, "out"),
    mov.reg(R6, R1), // R6 = context
    ...slotOf,
    ...tracedStart(b, "out"),
    // fentry's functions are the 64-bit table's: compatEnter counts the others.
    ...(typeof slots === "number" ? [] : ifNative(b, "out")),
    // One more call started (ended and restarted ones are subtracted when read).
    mov.reg(R1, R8),
    and.imm(R1, SLOT.indexMask),
    sub.imm(R1, 1),
    stx.w(R10, -4, R1),
    ...lookup(b.maps.sysOps, -4),
    jeq.imm(R0, 0, "out"),
    ...increment(R0, OP.started * 8),
    // The descriptor, for the calls whose first argument is one.
    st.w(R9, START.fd, NO_FD),
    mov.reg(R1, R8),
    and.imm(R1, SLOT.fdFlag),
    jeq.imm(R1, 0, "no_fd"),
    ...firstArg(b),
    stx.w(R9, START.fd, R1),
    label("no_fd"),
    call(Helper.ktime_get_ns), // as late as possible
    stx.dw(R9, START.startNs, R0),
    stx.w(R9, START.slot, R8),
    ja("out"),
    label("full"),
    ...countOne(b, COUNTER.startFull, "full"),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}

/** Where the exit program keeps the ended call's start for `after` (see sysExit). */
export const EXIT_START_AT = -104;

/**
 * The exit program: a task inside a traced call ends it and books it.
 * @param b the build context
 * @param after more bookkeeping of the ended call, with the same latency
 *   (why.ts: the time split). In: R7 = latency, R8 = slot value, R9 =
 *   result, fp-16 = slot, EXIT_START_AT = the call's start; it keeps those
 *   and fp-48, and uses no stack above EXIT_START_AT.
 * @returns the instructions
 */
export function sysExit(b: BuildContext, after: Insn[] = []): Insn[] {
  return [
    ...ifOpen(b, "out"), // a call that ends after the window closed stays in flight
    mov.reg(R6, R1), // R6 = context
    ...startOf(b, false, "start"),
    jeq.imm(R0, 0, "out"), // this task never made a traced call
    ldx.dw(R7, R0, START.startNs),
    jeq.imm(R7, 0, "out"), // not inside one now
    ...(after.length ? [stx.dw(R10, EXIT_START_AT, R7)] : []),
    ldx.w(R8, R0, START.slot), // R8 = slot + 1, with flags
    ldx.w(R1, R0, START.fd),
    stx.w(R10, -48, R1), // fp-48 = its descriptor
    st.dw(R0, START.startNs, 0), // the call has ended
    call(Helper.ktime_get_ns), // as early as possible
    sub.reg(R0, R7),
    mov.reg(R7, R0), // R7 = latency
    ...loadArg(b, R9, EXIT, RET), // R9 = result
    mov.reg(R1, R8),
    and.imm(R1, SLOT.indexMask),
    sub.imm(R1, 1),
    stx.w(R10, -16, R1), // fp-16 = slot
    ...lookup(b.maps.sysOps, -16),
    jeq.imm(R0, 0, "out"),
    mov.reg(R6, R0), // R6 = this syscall's totals (the context is no longer needed)
    // -ERESTARTSYS..-ERESTART_RESTARTBLOCK (-512..-516): not an end.
    mov.reg(R1, R9),
    add.imm(R1, 516),
    jgt.imm(R1, 4, "ended"),
    ...increment(R6, OP.restarts * 8),
    ja("out"),
    label("ended"),
    ...recordEnd(b, {
      histFd: b.maps.sysHist,
      errnosFd: b.maps.errnos,
      errnoKind: ERRNO_KIND.syscall,
      // -4095..-1 is an error (for every call: mmap's addresses are never there).
      ifFailed: [
        mov.reg(R1, R9),
        add.imm(R1, 4095),
        jgt.imm(R1, 4094, "end_ok"),
        ja("end_failed"),
        label("end_ok"),
      ],
      ifNotBytes: [mov.reg(R1, R8), rsh.imm(R1, 16), and.imm(R1, 1), jeq.imm(R1, 0, "end_nobytes")],
    }, "end"),
    ...after,
    ...perDescriptor(b),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
}
