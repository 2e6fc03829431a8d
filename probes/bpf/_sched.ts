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
  call,
  exit,
  Helper,
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
  R2,
  R3,
  R6,
  R7,
  R8,
  rawTracepointArgs,
  st,
  vmlinuxBtf,
} from "../../ffi/bpf/mod.ts";
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
      ...prevState(),
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

/**
 * `R7 = the switched-away task's state` for a raw tracepoint: its fourth
 * argument where the kernel passes it (5.18 on, counted in BTF), else
 * `prev->__state` (`state` before 5.14; offset from BTF) read with
 * bpf_probe_read_kernel into fp-80 from the task, the second argument.
 * @returns the instructions
 * @throws Error when neither is known (the classic tracepoint is used then)
 */
export function prevState(): Insn[] {
  const args = rawTracepointArgs("sched_switch");
  if (args.args !== undefined && args.args >= 4) return [ldx.dw(R7, R6, 3 * 8)];
  let offset: number | undefined;
  for (const field of ["__state", "state"]) {
    try {
      offset ??= vmlinuxBtf().memberOffset("task_struct", field).offset;
    } catch {
      // the other name
    }
  }
  if (offset === undefined) {
    throw new Error(`sched_switch passes no prev_state and task_struct's state is unknown`);
  }
  return [
    ldx.dw(R3, R6, 1 * 8), // prev
    add.imm(R3, offset),
    mov.reg(R1, R10),
    add.imm(R1, -80),
    mov.imm(R2, 4), // the low word: every state bit that counts
    call(Helper.probe_read_kernel),
    ldx.w(R7, R10, -80), // 0 (runnable) when the read failed: counted involuntary
  ];
}
