/**
 * sched: what a traced process's I/O costs it besides the calls: user page
 * faults (`exceptions:page_fault_user`), TLB flushes by reason
 * (`tlb:tlb_flush`, x86) and context switches away from it, voluntary (it
 * blocked) or not (it was preempted) (`sched:sched_switch`). One per-CPU
 * counter add each, after the traced test.
 *
 * A TLB flush is charged to the task whose address space was flushed: the
 * current one for a local or mm shootdown (it changed its own mappings) and
 * for a remote shootdown (the kernel interrupts only CPUs that have that
 * address space loaded); for a flush on a task switch, which the kernel traces
 * in the outgoing task's name, the incoming task (the switch program books it
 * when that task is switched away). Not flushes, so not counted: a
 * `remote_ipi_send` (the sender of a shootdown, whose own flush is its local
 * one) and any event of 0 pages (the kernel found nothing to flush: the ASID
 * was up to date, or the CPU had left the address space, `remote_wrong_cpu`).
 * @module
 */

import {
  add,
  and,
  exit,
  type Insn,
  ja,
  jeq,
  jne,
  jne32,
  label,
  ldx,
  mov,
  R0,
  R1,
  R10,
  R6,
  R7,
  R8,
  st,
} from "../../ffi/bpf/asm.ts";
import { type BuildContext, countOne, ifOpen, ifTraced, loadArg, lookup } from "./_emit.ts";
import { COUNTER } from "./layout.ts";
import { TLB_REASON } from "../snapshot.ts";

const TLB = "tlb:tlb_flush";
const SWITCH = "sched:sched_switch";

function program(b: BuildContext, body: Insn[]): Insn[] {
  return [...ifOpen(b, "out"), mov.reg(R6, R1), ...body, label("out"), mov.imm(R0, 0), exit()];
}

/**
 * The page fault program.
 * @param b the build context
 * @returns the instructions
 */
export function onFault(b: BuildContext): Insn[] {
  return program(b, [...ifTraced(b, "out"), ...countOne(b, COUNTER.faults, "fault")]);
}

/**
 * The TLB flush program: counted by the kernel's reason (enum tlb_flush_reason).
 * @param b the build context
 * @returns the instructions
 */
export function onTlbFlush(b: BuildContext): Insn[] {
  return program(b, [
    ...loadArg(b, R8, TLB, { raw: 1, field: "pages" }),
    jeq.imm(R8, 0, "out"), // nothing was flushed
    ...loadArg(b, R7, TLB, { raw: 0, field: "reason" }),
    and.imm(R7, COUNTER.tlbReasons - 1),
    jeq.imm(R7, TLB_REASON.remoteSendIpi, "out"), // a send, not a flush
    jne.imm(R7, TLB_REASON.taskSwitch, "own"),
    // In the outgoing task's name: the incoming task's flush, booked when it leaves.
    st.w(R10, -4, COUNTER.switchFlushed),
    ...lookup(b.maps.counters, -4),
    jeq.imm(R0, 0, "out"),
    st.dw(R0, 0, 1),
    ja("out"),
    label("own"),
    ...ifTraced(b, "out"),
    mov.reg(R1, R7),
    add.imm(R1, COUNTER.tlbBase),
    ...countOne(b, { reg: R1 }, "tlb"),
  ]);
}

/**
 * The context switch program (the current task is the one switched away).
 * Raw tracepoint: voluntary when not preempted and its state was not
 * runnable (as the kernel counts nvcsw). Classic: the reported `prev_state`
 * is 0 (runnable) or TASK_REPORT_MAX (0x100, preempted) for involuntary
 * switches; any of the low bits (0x80 is TASK_REPORT_IDLE) is a sleep.
 * @param b the build context
 * @returns the instructions
 */
export function onSwitch(b: BuildContext): Insn[] {
  const voluntary: Insn[] = b.kind === "tp"
    ? [
      ...loadArg(b, R7, SWITCH, { raw: 3, field: "prev_state" }),
      and.imm(R7, 0xff),
      jne32.imm(R7, 0, "voluntary"),
    ]
    : [
      ...loadArg(b, R7, SWITCH, { raw: 0, field: "preempt" }),
      and.imm(R7, 0xff),
      jne32.imm(R7, 0, "involuntary"), // preempted
      ...loadArg(b, R7, SWITCH, { raw: 3, field: "prev_state" }),
      jne32.imm(R7, 0, "voluntary"),
    ];
  return program(b, [
    // Whether the task switched away now had its TLB flushed when it came in.
    mov.imm(R8, 0),
    st.w(R10, -4, COUNTER.switchFlushed),
    ...lookup(b.maps.counters, -4),
    jeq.imm(R0, 0, "flag_read"),
    ldx.dw(R8, R0, 0),
    st.dw(R0, 0, 0),
    label("flag_read"),
    ...ifTraced(b, "out"),
    jeq.imm(R8, 0, "no_flush"),
    ...countOne(b, COUNTER.tlbBase + TLB_REASON.taskSwitch, "switch_flush"),
    label("no_flush"),
    ...voluntary,
    label("involuntary"),
    ...countOne(b, COUNTER.involuntary, "inv"),
    ja("out"),
    label("voluntary"),
    ...countOne(b, COUNTER.voluntary, "vol"),
  ]);
}
