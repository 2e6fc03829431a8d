/**
 * The bpf backend's program set for one attach kind: which programs, built
 * from which module, attached where. Pure: it builds instruction lists; the
 * agent loads and attaches them.
 * @module
 */

import type { Insn } from "../../ffi/bpf/asm.ts";
import type { BuildContext } from "./_emit.ts";
import { onAsync, onComplete, onSubmit } from "./io_uring.ts";
import { onFault, onSwitch, onTlbFlush } from "./sched.ts";
import { sysEnter, sysExit } from "./syscalls.ts";
import { onExec, onExit, onFork, onRename } from "./targets.ts";

/** Where one program attaches. */
export type AttachPoint =
  /** A tracepoint: raw by its name (`sys_enter`), classic by `group:name`. */
  | { tracepoint: string }
  /** A kernel function, on entry or on return (fentry/fexit). */
  | { function: string; exit: boolean };

/** One program to load and attach. */
export interface PlannedProgram {
  /** Its object name (`ios_` and 11 more characters at most). */
  name: string;
  at: AttachPoint;
  insns: Insn[];
}

/** A traced syscall: its name, slot-table value and kernel function. */
export interface SyscallPlan {
  name: string;
  slotValue: number;
  /** `__x64_sys_read` and the like (fentry/fexit only). */
  function: string;
}

/** What the program set covers, beyond the syscalls. */
export interface PlanOptions {
  /** The io_uring tracepoints exist. */
  uring: boolean;
  /** tlb:tlb_flush exists. */
  tlb: boolean;
  /** task:task_rename exists (processes renamed to the --comm name join). */
  rename: boolean;
  /** For fentry/fexit: the traced syscalls. */
  syscalls: readonly SyscallPlan[];
}

/**
 * The programs for an attach kind. With fentry the syscalls get a pair of
 * programs each on their kernel functions; everything else (and every
 * program of the other kinds) sits on tracepoints.
 * @param b the build context (its kind decides)
 * @param options what exists, and the syscalls
 * @returns the programs, in attach order: the set's keepers first, then
 *   the syscall exit before its entry (so no call is seen to end unstarted)
 */
export function planPrograms(b: BuildContext, options: PlanOptions): PlannedProgram[] {
  const tp = (group: string, name: string) => ({
    tracepoint: b.kind === "tp" ? `${group}:${name}` : name,
  });
  // Tracepoint programs are raw ones unless the whole set is classic.
  const onTp: BuildContext = b.kind === "fentry" ? { ...b, kind: "raw_tp" } : b;
  const plan: PlannedProgram[] = [];
  const add = (name: string, at: AttachPoint, insns: Insn[]) => plan.push({ name, at, insns });

  add("ios_exit", tp("sched", "sched_process_exit"), onExit(onTp));
  if (b.filter.followChildren || b.filter.comm) {
    add("ios_fork", tp("sched", "sched_process_fork"), onFork(onTp));
  }
  if (b.filter.comm) {
    add("ios_exec", tp("sched", "sched_process_exec"), onExec(onTp));
    if (options.rename) add("ios_rename", tp("task", "task_rename"), onRename(onTp));
  }
  if (b.kind === "fentry") {
    for (const s of options.syscalls) {
      const short = s.name.slice(0, 9);
      add(`ios_x_${short}`, { function: s.function, exit: true }, sysExit(b));
      add(`ios_e_${short}`, { function: s.function, exit: false }, sysEnter(b, s.slotValue));
    }
  } else {
    add("ios_sys_exit", tp("raw_syscalls", "sys_exit"), sysExit(b));
    add("ios_sys_enter", tp("raw_syscalls", "sys_enter"), sysEnter(b));
  }
  add("ios_fault", tp("exceptions", "page_fault_user"), onFault(onTp));
  if (options.tlb) add("ios_tlb", tp("tlb", "tlb_flush"), onTlbFlush(onTp));
  add("ios_switch", tp("sched", "sched_switch"), onSwitch(onTp));
  if (options.uring) {
    add("ios_uring_done", tp("io_uring", "io_uring_complete"), onComplete(onTp));
    add("ios_uring_async", tp("io_uring", "io_uring_queue_async_work"), onAsync(onTp));
    add("ios_uring_sub", tp("io_uring", "io_uring_submit_req"), onSubmit(onTp));
  }
  return plan;
}
