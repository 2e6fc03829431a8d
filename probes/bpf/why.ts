/**
 * why: where each traced call's time went (on a CPU, waiting for one, asleep
 * on the disk, asleep on something else), and the block layer beside the
 * syscalls. Raw tracepoints only (classic ones cost a record per event on
 * every context switch of the host); block requests on the classic
 * tracepoints, whose records carry the device, sector and direction.
 *
 * - switch (`sched_switch`): the task leaving (the current one), inside a
 *   traced call, starts an off-CPU period: run queue when it was preempted
 *   or is still runnable, disk when it sleeps with one of its block requests
 *   in flight, other sleep otherwise. The task coming in ends its period.
 * - wakeup (`sched_wakeup`): a sleeping task's sleep ends; it waits in the
 *   run queue until it is switched in.
 * - fault (`page_fault_kernel`): a fault taken inside a call (a copy to or
 *   from user memory); a user fault cannot happen inside a syscall.
 * - exit (a fragment of the syscall programs' exit, so that the split's
 *   latency is the call's own: a program of its own on sys_exit ran inside
 *   the timed call, and its 100-150 ns made mmap's split 4-7% short of the
 *   calls' total): the call's latency less its waits is its on-CPU time; the
 *   split goes to the syscall's totals, and to its slow totals when the
 *   latency reaches the threshold the agent writes each interval (the low
 *   edge of the bucket of the previous interval's P99).
 * - block issue / complete (raw `block_rq_issue`, `block_rq_complete`):
 *   requests keyed by their address, their disk and direction read from the
 *   request (offsets from BTF); a request issued from a traced task's context
 *   is that task's (in flight: its sleeps are disk); issue-to-complete
 *   latency per device and direction, traced requests apart. Raw, not
 *   classic: the kernel skips a classic tracepoint's program that fires
 *   while another classic program runs on its CPU (bpf_prog_active), as a
 *   completion interrupting an issue would.
 *
 * Overhead: every context switch on the host pays a task-storage lookup, a
 * kernel read of the incoming task's pid and a hash lookup; every wakeup the
 * read and the lookup; a traced call's exit a hash lookup and a few adds.
 * @module
 */

import {
  add,
  and,
  atomicAdd,
  BPF_ANY,
  BPF_NOEXIST,
  call,
  exit,
  Helper,
  type Insn,
  ja,
  jeq,
  jgt,
  jlt,
  jne,
  jsle,
  label,
  ldx,
  lsh,
  mov,
  or,
  R0,
  R1,
  R10,
  R2,
  R3,
  R6,
  R7,
  R8,
  R9,
  type Reg,
  st,
  stx,
  sub,
} from "../../ffi/bpf/mod.ts";
import {
  addTo,
  type BuildContext,
  histogramAdd,
  ifOpen,
  ifTraced,
  increment,
  lookup,
  remove,
  update,
} from "./_emit.ts";
import { START } from "./layout.ts";
import { prevState } from "./_sched.ts";
import { EXIT_START_AT, startOf } from "./_syscalls.ts";
import { BLK, RQ_VALUE, SPLIT, WHY_MODE, WHY_TASK } from "./_why_layout.ts";
import type { AttachPoint, PlannedProgram } from "./programs.ts";

/** The descriptors of the time split's maps. */
export interface WhyFds {
  tasks: number;
  split: number;
  slowNs: number;
  requests: number;
  devices: number;
  blockOps: number;
  blockHist: number;
  blockQHist: number;
}

/** What the time split's programs are built with, beyond the syscall programs' context. */
export interface WhyContext {
  fds: WhyFds;
  /** Byte offset of `task_struct.pid` (the kernel's BTF). */
  pidOffset: number;
}

/** The zeroed task state a new hash entry is made from (fp-136 .. fp-80). */
const ZERO_STATE = -136;

function program(body: Insn[]): Insn[] {
  return [...body, label("out"), mov.imm(R0, 0), exit()];
}

/**
 * `R0 = the task state of the thread whose id is at fp-8` (u32), made
 * zeroed when `create` and missing (null when the hash is full).
 */
function stateOf(w: WhyContext, create: boolean, p: string): Insn[] {
  if (!create) return lookup(w.fds.tasks, -8);
  return [
    ...lookup(w.fds.tasks, -8),
    jne.imm(R0, 0, `${p}_found`),
    ...Array.from({ length: WHY_TASK.words }, (_, i) => st.dw(R10, ZERO_STATE + i * 8, 0)),
    ...update(w.fds.tasks, -8, ZERO_STATE, BPF_NOEXIST),
    ...lookup(w.fds.tasks, -8), // made now, or by another CPU meanwhile
    label(`${p}_found`),
  ];
}

/** The state at `ptr` begins counting for the call that started at `start` unless it already does. */
function resetIfNewCall(ptr: Reg, start: Reg, p: string): Insn[] {
  return [
    ldx.dw(R1, ptr, WHY_TASK.callStart * 8),
    jeq.reg(R1, start, `${p}_same`),
    stx.dw(ptr, WHY_TASK.callStart * 8, start),
    st.dw(ptr, WHY_TASK.runqNs * 8, 0),
    st.dw(ptr, WHY_TASK.diskNs * 8, 0),
    st.dw(ptr, WHY_TASK.otherNs * 8, 0),
    st.dw(ptr, WHY_TASK.faults * 8, 0),
    st.dw(ptr, WHY_TASK.tlb * 8, 0),
    label(`${p}_same`),
  ];
}

/** Adds `d` to the accumulator of `mode` (a register) in the state at `ptr`. */
function addByMode(ptr: Reg, mode: Reg, d: Reg, p: string): Insn[] {
  return [
    jeq.imm(mode, WHY_MODE.runq, `${p}_runq`),
    jeq.imm(mode, WHY_MODE.disk, `${p}_disk`),
    ...addTo(ptr, WHY_TASK.otherNs * 8, d),
    ja(`${p}_done`),
    label(`${p}_runq`),
    ...addTo(ptr, WHY_TASK.runqNs * 8, d),
    ja(`${p}_done`),
    label(`${p}_disk`),
    ...addTo(ptr, WHY_TASK.diskNs * 8, d),
    label(`${p}_done`),
  ];
}

/** fp-8 = the pid of the task whose pointer is raw argument `arg` (read from the kernel). */
function taskPidArg(w: WhyContext, arg: number): Insn[] {
  return [
    ldx.dw(R3, R6, arg * 8),
    add.imm(R3, w.pidOffset),
    mov.reg(R1, R10),
    add.imm(R1, -16),
    mov.imm(R2, 4),
    call(Helper.probe_read_kernel),
    jne.imm(R0, 0, "out"),
    ldx.w(R1, R10, -16),
    stx.w(R10, -8, R1),
  ];
}

/**
 * The context switch program (raw `sched_switch(preempt, prev, next, ...)`).
 * @param b the build context (kind raw_tp)
 * @param w the time split's maps
 * @returns the instructions
 */
export function whySwitch(b: BuildContext, w: WhyContext): Insn[] {
  return program([
    ...ifOpen(b, "out"),
    mov.reg(R6, R1), // R6 = context
    // The task leaving: inside a traced call?
    ...startOf(b, false, "cur"),
    jeq.imm(R0, 0, "next"),
    ldx.dw(R9, R0, START.startNs), // R9 = the call's start
    jeq.imm(R9, 0, "next"),
    ldx.dw(R1, R6, 0), // preempted
    and.imm(R1, 0xff),
    jne.imm(R1, 0, "runq"),
    ...prevState(), // R7 = its state
    and.imm(R7, 0xff),
    jeq.imm(R7, 0, "runq"), // still runnable (a yield): waits for a CPU
    mov.imm(R8, WHY_MODE.other),
    ja("mode"),
    label("runq"),
    mov.imm(R8, WHY_MODE.runq),
    label("mode"), // R8 = what it waits for
    call(Helper.get_current_pid_tgid),
    stx.w(R10, -8, R0), // the thread id
    ...stateOf(w, true, "st"),
    jeq.imm(R0, 0, "next"),
    mov.reg(R7, R0), // R7 = its state
    ...resetIfNewCall(R7, R9, "rs"),
    // Asleep with one of its block requests in flight: the disk.
    jne.imm(R8, WHY_MODE.other, "store"),
    ldx.dw(R1, R7, WHY_TASK.inflight * 8),
    jsle.imm(R1, 0, "store"),
    mov.imm(R8, WHY_MODE.disk),
    label("store"),
    stx.dw(R7, WHY_TASK.mode * 8, R8),
    call(Helper.ktime_get_ns),
    stx.dw(R7, WHY_TASK.offNs * 8, R0),
    // The task coming in ends its wait.
    label("next"),
    ...taskPidArg(w, 2),
    ...stateOf(w, false, "in"),
    jeq.imm(R0, 0, "out"),
    mov.reg(R7, R0),
    ldx.dw(R8, R7, WHY_TASK.offNs * 8),
    jeq.imm(R8, 0, "out"), // not waiting inside a call
    call(Helper.ktime_get_ns),
    sub.reg(R0, R8),
    mov.reg(R9, R0), // R9 = the wait
    ldx.dw(R2, R7, WHY_TASK.mode * 8),
    ...addByMode(R7, R2, R9, "in"),
    st.dw(R7, WHY_TASK.offNs * 8, 0),
  ]);
}

/**
 * The wakeup program (raw `sched_wakeup(p)`): a sleep ends, the run queue begins.
 * @param b the build context (kind raw_tp)
 * @param w the time split's maps
 * @returns the instructions
 */
export function whyWakeup(b: BuildContext, w: WhyContext): Insn[] {
  return program([
    ...ifOpen(b, "out"),
    mov.reg(R6, R1),
    ...taskPidArg(w, 0),
    ...stateOf(w, false, "st"),
    jeq.imm(R0, 0, "out"),
    mov.reg(R7, R0),
    ldx.dw(R8, R7, WHY_TASK.offNs * 8),
    jeq.imm(R8, 0, "out"), // on a CPU
    ldx.dw(R1, R7, WHY_TASK.mode * 8),
    jeq.imm(R1, WHY_MODE.runq, "out"), // already runnable
    call(Helper.ktime_get_ns),
    mov.reg(R9, R0), // now
    sub.reg(R0, R8),
    mov.reg(R8, R0), // R8 = the sleep
    ldx.dw(R2, R7, WHY_TASK.mode * 8),
    ...addByMode(R7, R2, R8, "w"),
    stx.dw(R7, WHY_TASK.offNs * 8, R9),
    st.dw(R7, WHY_TASK.mode * 8, WHY_MODE.runq),
  ]);
}

/** Adds one to `word` of the current task's state when it is inside a traced call. */
function countInCall(b: BuildContext, w: WhyContext, word: number): Insn[] {
  return [
    ...startOf(b, false, "cur"),
    jeq.imm(R0, 0, "out"),
    ldx.dw(R9, R0, START.startNs),
    jeq.imm(R9, 0, "out"), // not inside a traced call
    call(Helper.get_current_pid_tgid),
    stx.w(R10, -8, R0),
    ...stateOf(w, true, "st"),
    jeq.imm(R0, 0, "out"),
    mov.reg(R7, R0),
    ...resetIfNewCall(R7, R9, "rs"),
    ...increment(R7, word * 8),
  ];
}

/**
 * The kernel page fault program (`page_fault_kernel`): a fault inside a call.
 * @param b the build context (kind raw_tp)
 * @param w the time split's maps
 * @returns the instructions
 */
export function whyFault(b: BuildContext, w: WhyContext): Insn[] {
  return program([
    ...ifOpen(b, "out"),
    mov.reg(R6, R1),
    ...countInCall(b, w, WHY_TASK.faults),
  ]);
}

/** The ended call's split on the stack (whyEnd): latency, then the waits. */
const END = {
  latency: -112,
  runq: -120,
  disk: -128,
  other: -136,
  faults: -144,
  tlb: -168,
} as const;

/**
 * The TLB flush program (raw `tlb_flush(reason, pages)`, x86): inside a
 * call, a flush of the task's own address space (local_shootdown,
 * local_mm_shootdown) or a shootdown IPI it sent (remote_ipi_send) is the
 * call's doing; flushes of 0 pages flushed nothing.
 * @param b the build context (kind raw_tp)
 * @param w the time split's maps
 * @returns the instructions
 */
export function whyTlb(b: BuildContext, w: WhyContext): Insn[] {
  return program([
    ...ifOpen(b, "out"),
    mov.reg(R6, R1),
    ldx.dw(R1, R6, 8),
    jeq.imm(R1, 0, "out"), // nothing flushed
    ldx.dw(R1, R6, 0),
    jlt.imm(R1, TLB_OWN.first, "out"),
    jgt.imm(R1, TLB_OWN.last, "out"),
    ...countInCall(b, w, WHY_TASK.tlb),
  ]);
}

/** enum tlb_flush_reason (x86): local_shootdown 2, local_mm_shootdown 3, remote_ipi_send 4. */
const TLB_OWN = { first: 2, last: 4 } as const;

/**
 * Adds the ended call's split (END on the stack) to the totals keyed by the
 * u32 at `keyOff`. Uses R0-R6.
 */
function bookSplit(w: WhyContext, keyOff: number, p: string): Insn[] {
  return [
    ...lookup(w.fds.split, keyOff),
    jeq.imm(R0, 0, `${p}_done`),
    mov.reg(R6, R0),
    ...increment(R6, SPLIT.count * 8),
    ldx.dw(R2, R10, END.latency),
    ...addTo(R6, SPLIT.totalNs * 8, R2),
    ldx.dw(R2, R10, END.runq),
    mov.reg(R3, R2), // R3 = the waits
    ...addTo(R6, SPLIT.runqNs * 8, R2),
    ldx.dw(R2, R10, END.disk),
    add.reg(R3, R2),
    ...addTo(R6, SPLIT.diskNs * 8, R2),
    ldx.dw(R2, R10, END.other),
    add.reg(R3, R2),
    ...addTo(R6, SPLIT.otherNs * 8, R2),
    ldx.dw(R2, R10, END.faults),
    ...addTo(R6, SPLIT.faults * 8, R2),
    ldx.dw(R2, R10, END.tlb),
    ...addTo(R6, SPLIT.tlb * 8, R2),
    // On a CPU: the rest.
    ldx.dw(R2, R10, END.latency),
    jgt.reg(R3, R2, `${p}_done`),
    sub.reg(R2, R3),
    ...addTo(R6, SPLIT.cpuNs * 8, R2),
    label(`${p}_done`),
  ];
}

/**
 * The time split's part of the syscall exit program (_syscalls.ts sysExit's
 * `after`), so that the split's latency is the call's own: books the ended
 * call's waits to its syscall's totals, and to its slow totals when the
 * latency reaches the threshold the agent writes each interval.
 * In: R7 = latency, fp-16 = slot, EXIT_START_AT = the call's start; it
 * keeps R7-R9, fp-16 and fp-48, and uses R0-R6 and fp-112..fp-168.
 * @param w the time split's maps
 * @returns the instructions
 */
export function whyEnd(w: WhyContext): Insn[] {
  return [
    stx.dw(R10, END.latency, R7),
    ...[END.runq, END.disk, END.other, END.faults, END.tlb].map((off) => st.dw(R10, off, 0)),
    call(Helper.get_current_pid_tgid),
    stx.w(R10, -152, R0),
    ...lookup(w.fds.tasks, -152),
    jeq.imm(R0, 0, "why_book"), // never left the CPU, took no fault
    ldx.dw(R1, R0, WHY_TASK.callStart * 8),
    ldx.dw(R2, R10, EXIT_START_AT),
    jne.reg(R1, R2, "why_book"), // its waits were another call's
    ...([
      [WHY_TASK.runqNs, END.runq],
      [WHY_TASK.diskNs, END.disk],
      [WHY_TASK.otherNs, END.other],
      [WHY_TASK.faults, END.faults],
      [WHY_TASK.tlb, END.tlb],
    ] as const).flatMap(([word, off]) => [ldx.dw(R1, R0, word * 8), stx.dw(R10, off, R1)]),
    label("why_book"),
    ldx.w(R1, R10, -16),
    lsh.imm(R1, 1),
    stx.w(R10, -156, R1), // all calls: slot * 2
    ...bookSplit(w, -156, "why_all"),
    // A slow call: at or above the threshold of its syscall (0: none yet).
    ...lookup(w.fds.slowNs, -16),
    jeq.imm(R0, 0, "why_done"),
    ldx.dw(R1, R0, 0),
    jeq.imm(R1, 0, "why_done"),
    jlt.reg(R7, R1, "why_done"),
    ldx.w(R1, R10, -16),
    lsh.imm(R1, 1),
    add.imm(R1, 1),
    stx.w(R10, -156, R1), // slow calls: slot * 2 + 1
    ...bookSplit(w, -156, "why_slow"),
    label("why_done"),
  ];
}

/** Where a block request's facts lie (the kernel's BTF): byte offsets. */
export interface RequestFields {
  /** `request.cmd_flags` (its low byte: REQ_OP, 0 read, 1 write). */
  cmdFlags: number;
  /** `request.__data_len`. */
  dataLen: number;
  /** `request.q`. */
  q: number;
  /** `request_queue.disk`. */
  disk: number;
  /** `gendisk.major`. */
  major: number;
  /** `gendisk.first_minor`. */
  firstMinor: number;
  /** `request.start_time_ns` (set as the request is allocated). */
  startTimeNs: number;
}

/** The in-flight value being built (RQ_VALUE), and the request's key. */
const RQ = -184;
const RQ_KEY_AT = -152;
/** The request's `start_time_ns` as it is issued. */
const RQ_START_AT = -192;

/** `*(fp + dst) = size bytes at src + off` (a kernel read), else leaves by `out`. */
function kernelRead(dst: number, size: number, src: Reg, off: number): Insn[] {
  return [
    mov.reg(R3, src),
    add.imm(R3, off),
    mov.reg(R1, R10),
    add.imm(R1, dst),
    mov.imm(R2, size),
    call(Helper.probe_read_kernel),
    jne.imm(R0, 0, "out"),
  ];
}

/**
 * The facts of the request at R9 into the value being built: its operation,
 * size, and its disk's dev_t. Uses R8 and fp-72.
 */
function requestFacts(f: RequestFields): Insn[] {
  return [
    ...kernelRead(-72, 4, R9, f.cmdFlags),
    ldx.w(R1, R10, -72),
    and.imm(R1, 0xff), // REQ_OP_MASK: 0 read, 1 write, 2 flush, 3 discard, ...
    stx.w(R10, RQ + RQ_VALUE.write, R1),
    ...kernelRead(-72, 4, R9, f.dataLen),
    ldx.w(R1, R10, -72),
    stx.w(R10, RQ + RQ_VALUE.size, R1),
    ...kernelRead(-72, 8, R9, f.q),
    ldx.dw(R8, R10, -72),
    ...kernelRead(-72, 8, R8, f.disk),
    ldx.dw(R8, R10, -72),
    jeq.imm(R8, 0, "out"),
    ...kernelRead(-72, 4, R8, f.major),
    ...kernelRead(-68, 4, R8, f.firstMinor),
    ldx.w(R1, R10, -72),
    lsh.imm(R1, 20),
    ldx.w(R2, R10, -68),
    or.reg(R1, R2),
    stx.w(R10, RQ + RQ_VALUE.dev, R1),
  ];
}

/**
 * The block request issue program (raw `block_rq_issue(rq)`): the request is
 * remembered by its address (while the gate is still closed too, so that a
 * request issued as the window opens is timed), with its issuer when that
 * is a traced task (the issue runs in the submitter's context when the
 * request goes straight to the driver). A requeued request (the same
 * `start_time_ns`) keeps its first issue. A new request in the memory of
 * one still remembered is the proof that the old one completed where no
 * program of ours ran (the kernel runs none in some contexts; docs/why.md):
 * the old one is booked then, counted as unseen, not timed.
 * @param b the build context (kind raw_tp)
 * @param w the time split's maps and the request's fields
 * @param f where the request's facts lie
 * @returns the instructions
 */
export function blockIssue(b: BuildContext, w: WhyContext, f: RequestFields): Insn[] {
  return program([
    mov.reg(R6, R1),
    ldx.dw(R9, R6, 0), // R9 = the request
    stx.dw(R10, RQ_KEY_AT, R9),
    ...kernelRead(RQ_START_AT, 8, R9, f.startTimeNs),
    ...lookup(w.fds.requests, RQ_KEY_AT),
    jeq.imm(R0, 0, "fresh"),
    ldx.dw(R1, R0, RQ_VALUE.startNs),
    ldx.dw(R2, R10, RQ_START_AT),
    jeq.reg(R1, R2, "out"), // requeued
    ...entryFacts(),
    ...noLongerInFlight(w, "un"),
    ...ifOpen(b, "fresh"),
    ...blockKey(w, "fresh"),
    ...lookup(w.fds.blockOps, -4),
    jeq.imm(R0, 0, "fresh"),
    mov.reg(R7, R0),
    ...increment(R7, BLK.count * 8),
    ...increment(R7, BLK.unseen * 8),
    ldx.w(R2, R10, -24),
    ...addTo(R7, BLK.bytes * 8, R2),
    label("fresh"),
    ...requestFacts(f),
    call(Helper.ktime_get_ns),
    stx.dw(R10, RQ + RQ_VALUE.issueNs, R0),
    ldx.dw(R1, R10, RQ_START_AT),
    stx.dw(R10, RQ + RQ_VALUE.startNs, R1),
    st.w(R10, RQ + RQ_VALUE.tid, 0),
    mov.imm(R7, 0), // R7 = its traced issuer
    ...ifTraced(b, "unowned"),
    call(Helper.get_current_pid_tgid),
    stx.w(R10, RQ + RQ_VALUE.tid, R0),
    ldx.w(R7, R10, RQ + RQ_VALUE.tid),
    label("unowned"),
    ...update(w.fds.requests, RQ_KEY_AT, RQ, BPF_ANY),
    jne.imm(R0, 0, "out"),
    jeq.imm(R7, 0, "out"),
    stx.w(R10, -8, R7),
    ...stateOf(w, true, "st"),
    jeq.imm(R0, 0, "out"),
    mov.imm(R1, 1),
    atomicAdd.dw(R0, WHY_TASK.inflight * 8, R1),
  ]);
}

/**
 * The remembered request at R0 (RQ_VALUE) onto the stack: its issuer at
 * fp-8, its disk at fp-12, its direction at fp-16, its size at fp-24.
 */
function entryFacts(): Insn[] {
  return ([[RQ_VALUE.tid, -8], [RQ_VALUE.dev, -12], [RQ_VALUE.write, -16], [
    RQ_VALUE.size,
    -24,
  ]] as const).flatMap(([at, off]) => [ldx.w(R1, R0, at), stx.w(R10, off, R1)]);
}

/**
 * `R8 = 1` when the request's issuer (fp-8) is a traced task, whose requests
 * in flight it no longer counts; else 0.
 */
function noLongerInFlight(w: WhyContext, p: string): Insn[] {
  return [
    mov.imm(R8, 0),
    ldx.w(R1, R10, -8),
    jeq.imm(R1, 0, `${p}_done`),
    mov.imm(R8, 1),
    ...stateOf(w, false, `${p}_st`),
    jeq.imm(R0, 0, `${p}_done`),
    mov.imm(R1, -1),
    atomicAdd.dw(R0, WHY_TASK.inflight * 8, R1),
    label(`${p}_done`),
  ];
}

/**
 * `fp-4 = the totals key` (device slot * 4 + write * 2 + R8, the traced
 * flag) of the device at fp-12 and the direction at fp-16; leaves by `skip`
 * for a device the agent did not list, or a request neither a read nor a
 * write (a flush, a discard: in flight for its task, not booked).
 */
function blockKey(w: WhyContext, skip = "out"): Insn[] {
  return [
    ldx.w(R1, R10, -16),
    jgt.imm(R1, 1, skip),
    ...lookup(w.fds.devices, -12),
    jeq.imm(R0, 0, skip),
    ldx.w(R1, R0, 0),
    lsh.imm(R1, 2),
    ldx.w(R2, R10, -16),
    lsh.imm(R2, 1),
    add.reg(R1, R2),
    add.reg(R1, R8),
    stx.w(R10, -4, R1),
  ];
}

/**
 * The block request completion program (raw `block_rq_complete(rq, error,
 * nr_bytes)`): issue-to-complete latency by device and direction, traced
 * requests apart, and queue to complete from the request's start (its
 * `start_time_ns`, kept at issue: the kernel's own start for the device's
 * accounting, 0 where it keeps none); a request issued before the programs
 * were attached is counted, not timed. The request is forgotten while the gate is still
 * closed too, so that its memory issued again is not taken for a
 * completion no program saw.
 * @param b the build context (kind raw_tp)
 * @param w the time split's maps
 * @param f where the request's facts lie
 * @returns the instructions
 */
export function blockComplete(b: BuildContext, w: WhyContext, f: RequestFields): Insn[] {
  return program([
    mov.reg(R6, R1),
    ldx.dw(R9, R6, 0), // R9 = the request
    stx.dw(R10, RQ_KEY_AT, R9),
    ...lookup(w.fds.requests, RQ_KEY_AT),
    jeq.imm(R0, 0, "untimed"),
    ldx.dw(R7, R0, RQ_VALUE.issueNs),
    ldx.dw(R1, R0, RQ_VALUE.startNs),
    stx.dw(R10, -32, R1),
    ...entryFacts(),
    call(Helper.ktime_get_ns),
    stx.dw(R10, -40, R0), // the completion time, for queue to complete too
    sub.reg(R0, R7),
    mov.reg(R7, R0), // R7 = issue to complete
    ...remove(w.fds.requests, RQ_KEY_AT),
    ...noLongerInFlight(w, "fl"),
    ...ifOpen(b, "out"),
    ...blockKey(w),
    ...lookup(w.fds.blockOps, -4),
    jeq.imm(R0, 0, "out"),
    mov.reg(R9, R0),
    ...increment(R9, BLK.count * 8),
    ldx.w(R2, R10, -24),
    ...addTo(R9, BLK.bytes * 8, R2),
    ...addTo(R9, BLK.totalNs * 8, R7),
    ...histogramAdd(w.fds.blockHist, -4, R7, "h"),
    // Queue to complete: from the request's start, where the kernel set one.
    ldx.dw(R0, R10, -40),
    ldx.dw(R1, R10, -32),
    jeq.imm(R1, 0, "out"),
    jgt.reg(R1, R0, "out"),
    sub.reg(R0, R1),
    mov.reg(R7, R0),
    ...increment(R9, BLK.queued * 8),
    ...addTo(R9, BLK.queueNs * 8, R7),
    ...histogramAdd(w.fds.blockQHist, -4, R7, "qh"),
    ja("out"),
    label("untimed"),
    ...ifOpen(b, "out"),
    ...requestFacts(f),
    ldx.w(R1, R10, RQ + RQ_VALUE.dev),
    stx.w(R10, -12, R1),
    ldx.w(R1, R10, RQ + RQ_VALUE.write),
    stx.w(R10, -16, R1),
    mov.imm(R8, 0),
    ...blockKey(w),
    ...lookup(w.fds.blockOps, -4),
    jeq.imm(R0, 0, "out"),
    mov.reg(R7, R0),
    ...increment(R7, BLK.count * 8),
    ...increment(R7, BLK.untimed * 8),
    ldx.w(R2, R6, 2 * 8), // nr_bytes (a u32 in a u64 slot)
    ...addTo(R7, BLK.bytes * 8, R2),
  ]);
}

/**
 * The time split's programs (beside the syscall exit's fragment, whyEnd).
 * @param b the syscall programs' build context (their maps, their filter)
 * @param w the time split's maps
 * @param block where a block request's facts lie (null: no block programs)
 * @param tlb whether tlb:tlb_flush exists (flushes inside calls)
 * @returns the programs
 */
export function planWhy(
  b: BuildContext,
  w: WhyContext,
  block: RequestFields | null,
  tlb = false,
): PlannedProgram[] {
  const raw = { ...b, kind: "raw_tp" as const };
  const at = (tracepoint: string): AttachPoint => ({ tracepoint });
  const plan: PlannedProgram[] = [
    { name: "ios_why_switch", kind: "raw_tp", at: at("sched_switch"), insns: whySwitch(raw, w) },
    { name: "ios_why_wakeup", kind: "raw_tp", at: at("sched_wakeup"), insns: whyWakeup(raw, w) },
    { name: "ios_why_fault", kind: "raw_tp", at: at("page_fault_kernel"), insns: whyFault(raw, w) },
  ];
  if (tlb) {
    plan.push({ name: "ios_why_tlb", kind: "raw_tp", at: at("tlb_flush"), insns: whyTlb(raw, w) });
  }
  if (block) {
    plan.push(
      {
        name: "ios_blk_issue",
        kind: "raw_tp",
        at: at("block_rq_issue"),
        insns: blockIssue(raw, w, block),
      },
      {
        name: "ios_blk_done",
        kind: "raw_tp",
        at: at("block_rq_complete"),
        insns: blockComplete(raw, w, block),
      },
    );
  }
  return plan;
}
