/**
 * sched: what a traced process's I/O costs it besides the calls: user page
 * faults (`exceptions:page_fault_user`), TLB flushes by reason
 * (`tlb:tlb_flush`, x86) and context switches away from it, voluntary (it
 * blocked) or not (it was preempted) (`sched:sched_switch`). One per-CPU
 * counter add each, after the traced test.
 * @module
 */

import {
  add,
  and,
  exit,
  type Insn,
  ja,
  jne32,
  label,
  mov,
  R0,
  R1,
  R6,
  R7,
} from "../../ffi/bpf/asm.ts";
import { type BuildContext, countOne, ifOpen, ifTraced, loadArg } from "./_emit.ts";
import { COUNTER } from "./layout.ts";

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
    ...ifTraced(b, "out"),
    ...loadArg(b, R7, TLB, { raw: 0, field: "reason" }),
    and.imm(R7, COUNTER.tlbReasons - 1),
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
    ...ifTraced(b, "out"),
    ...voluntary,
    label("involuntary"),
    ...countOne(b, COUNTER.involuntary, "inv"),
    ja("out"),
    label("voluntary"),
    ...countOne(b, COUNTER.voluntary, "vol"),
  ]);
}
