/**
 * The bpf backend's program set for one attach kind: which programs, built
 * from which module, attached where. Pure: it builds instruction lists; the
 * agent loads and attaches them.
 * @module
 */

import type { Insn } from "../../ffi/bpf/mod.ts";
import type { BuildContext, ProgramKind } from "./_emit.ts";
import { onAsync, onComplete, onSubmit } from "./_io_uring.ts";
import { onFault, onSwitch, onTlbFlush } from "./_sched.ts";
import { compatEnter, sysEnter, sysExit } from "./_syscalls.ts";
import { onExec, onExit, onFork, onRename } from "./_targets.ts";

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
  /** How it attaches (a raw set keeps a few rare events on classic tracepoints). */
  kind: ProgramKind;
  at: AttachPoint;
  insns: Insn[];
}

/** A traced syscall: its name, number, slot-table value and kernel function. */
export interface SyscallPlan {
  name: string;
  /** Its number on this architecture. */
  nr: number;
  slotValue: number;
  /** `__x64_sys_read` and the like (fentry/fexit only). */
  function: string;
  /** Its numbers on i386: a 32-bit call's (raw and classic tracepoints count those apart). */
  i386?: readonly number[];
  /** Its i386 functions, `__ia32_sys_read` and the like (fentry counts calls to them apart). */
  compatFunctions?: readonly string[];
}

/** What the program set covers, beyond the syscalls. */
export interface PlanOptions {
  /** The io_uring tracepoints exist. */
  uring: boolean;
  /** tlb:tlb_flush exists. */
  tlb: boolean;
  /** task:task_rename exists (processes renamed to the --comm name join). */
  rename: boolean;
  /** The traced syscalls. */
  syscalls: readonly SyscallPlan[];
  /** More bookkeeping in the syscall exit programs (sysExit's `after`). */
  exitExtra?: (b: BuildContext) => Insn[];
}

/**
 * The programs for an attach kind. With fentry the syscalls get a pair of
 * programs each on their kernel functions; the other programs sit on raw
 * tracepoints. Forks, renames and io_uring submissions always use classic
 * tracepoints: their records carry the child's pid, the new name, the
 * opcode and flags, which a raw tracepoint would have to read from kernel
 * structs at offsets only BTF knows (and reading /sys/kernel/btf/vmlinux
 * takes 0.2-0.5 s here); they are rare next to syscalls.
 * @param b the build context (its kind decides)
 * @param options what exists, and the syscalls
 * @returns the programs, in attach order: the set's keepers first, then
 *   the syscall exit before its entry (so no call is seen to end unstarted)
 */
export function planPrograms(b: BuildContext, options: PlanOptions): PlannedProgram[] {
  // Tracepoint programs are raw ones unless the whole set is classic.
  const tpKind: ProgramKind = b.kind === "tp" ? "tp" : "raw_tp";
  const plan: PlannedProgram[] = [];
  const add = (
    name: string,
    kind: ProgramKind,
    at: AttachPoint,
    build: (b: BuildContext) => Insn[],
  ) => plan.push({ name, kind, at, insns: build({ ...b, kind }) });
  const tp = (group: string, name: string, kind = tpKind) => ({
    tracepoint: kind === "tp" ? `${group}:${name}` : name,
  });
  const classic = (group: string, name: string) => tp(group, name, "tp");
  const exitOf = (c: BuildContext) => sysExit(c, options.exitExtra?.(c) ?? []);

  add("ios_exit", tpKind, tp("sched", "sched_process_exit"), onExit);
  if (b.filter.followChildren || b.filter.comm) {
    add("ios_fork", "tp", classic("sched", "sched_process_fork"), onFork);
  }
  if (b.filter.comm) {
    add("ios_exec", tpKind, tp("sched", "sched_process_exec"), onExec);
    if (options.rename) add("ios_rename", "tp", classic("task", "task_rename"), onRename);
  }
  if (b.kind === "fentry") {
    for (const s of options.syscalls) {
      const short = s.name.slice(0, 9);
      add(`ios_x_${short}`, "fentry", { function: s.function, exit: true }, exitOf);
      add(
        `ios_e_${short}`,
        "fentry",
        { function: s.function, exit: false },
        (c) => sysEnter(c, s.slotValue),
      );
      for (const f of s.compatFunctions ?? []) {
        add(`ios_c_${short}`, "fentry", { function: f, exit: false }, compatEnter);
      }
    }
  } else {
    add("ios_sys_exit", tpKind, tp("raw_syscalls", "sys_exit"), exitOf);
    add(
      "ios_sys_enter",
      tpKind,
      tp("raw_syscalls", "sys_enter"),
      (c) => sysEnter(c, options.syscalls),
    );
  }
  add("ios_fault", tpKind, tp("exceptions", "page_fault_user"), onFault);
  if (options.tlb) add("ios_tlb", tpKind, tp("tlb", "tlb_flush"), onTlbFlush);
  add("ios_switch", tpKind, tp("sched", "sched_switch"), onSwitch);
  if (options.uring) {
    add("ios_uring_done", tpKind, tp("io_uring", "io_uring_complete"), onComplete);
    add("ios_uring_async", tpKind, tp("io_uring", "io_uring_queue_async_work"), onAsync);
    add("ios_uring_sub", "tp", classic("io_uring", "io_uring_submit_req"), onSubmit);
  }
  return plan;
}
