/**
 * What this kernel allows, found by trying (never by its version), once per
 * process, cached: can a program type load, do task storage maps, batch
 * lookups and raw tracepoints work. Each answer carries the reason, so that
 * `doctor` and the Run's meta can say why a better path was not taken.
 * @module
 */

import { call, exit, type Insn, ldx, mov, R0, R1 } from "./asm.ts";
import { BtfKind, syscallFunction, vmlinuxBtf } from "./btf.ts";
import { BpfLink } from "./link.ts";
import { BpfMap } from "./map.ts";
import { BpfProgram } from "./program.ts";
import {
  AttachType,
  Helper,
  MapType,
  prlimit,
  ProgType,
  RLIM_INFINITY,
  RLIMIT_MEMLOCK,
} from "./sys.ts";
import { ErrnoError } from "../errno.ts";

/** A probe's answer. */
export interface Feature {
  /** Whether it works here. */
  ok: boolean;
  /** One line: what was tried and what the kernel said. */
  reason: string;
}

const cache = new Map<string, Feature>();

function cached(key: string, probe: () => Feature): Feature {
  let f = cache.get(key);
  if (!f) {
    f = probe();
    cache.set(key, f);
  }
  return f;
}

function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The name of a program type, for messages.
 * @param type a sys.ts `ProgType`
 * @returns e.g. `BPF_PROG_TYPE_TRACING`
 */
export function progTypeName(type: number): string {
  for (const [k, v] of Object.entries(ProgType)) if (v === type) return `BPF_PROG_TYPE_${k}`;
  return `program type ${type}`;
}

/**
 * Whether a program of this type loads: a two-instruction program is handed
 * to the verifier. TRACING is tried as fentry on the read syscall's
 * function, LSM on `bpf_lsm_file_open`.
 * @param type a sys.ts `ProgType`
 * @returns ok, and why not
 * @example
 * ```ts
 * import { canLoad } from "./features.ts";
 * import { ProgType } from "./sys.ts";
 * const f = canLoad(ProgType.RAW_TRACEPOINT);
 * console.assert(typeof f.ok === "boolean" && f.reason.length > 0);
 * ```
 */
export function canLoad(type: number): Feature {
  return cached(`load:${type}`, () => {
    const name = progTypeName(type);
    if (type === ProgType.TRACING || type === ProgType.LSM) {
      // Kernels that refuse these types do so before looking at the target:
      // find that out before looking a function up in the kernel's BTF.
      const refused = tryLoad(type, { expectedAttachType: attachTypeOf(type), attachBtfId: 0 });
      if (refused !== null && /\bEPERM\b/.test(refused)) {
        return { ok: false, reason: `${name} does not load here: ${refused}` };
      }
      const target = type === ProgType.TRACING ? syscallFunction("read") : "bpf_lsm_file_open";
      let id: number | undefined;
      try {
        id = vmlinuxBtf().funcId(target);
      } catch (e: unknown) {
        return { ok: false, reason: `${name} needs the kernel's BTF: ${why(e)}` };
      }
      if (id === undefined) {
        return { ok: false, reason: `${name}: the kernel's BTF has no function ${target}` };
      }
      // Reading the first argument too: Debian's 5.10 loads TRACING programs but refuses
      // that read ("invalid bpf_context access off=0"), which every syscall program makes.
      const error = tryLoad(type, { expectedAttachType: attachTypeOf(type), attachBtfId: id }, [
        ldx.dw(R0, R1, 0),
      ]);
      return error === null
        ? { ok: true, reason: `${name} loads and reads its first argument (on ${target})` }
        : { ok: false, reason: `${name} does not load here: ${error}` };
    }
    const error = tryLoad(type, {});
    return error === null
      ? { ok: true, reason: `${name} loads` }
      : { ok: false, reason: `${name} does not load here: ${error}` };
  });
}

function attachTypeOf(type: number): number {
  return type === ProgType.TRACING ? AttachType.TRACE_FENTRY : AttachType.LSM_MAC;
}

/** Loads `first; r0 = 0; exit` and unloads it: null if it loaded, else the error's message. */
function tryLoad(
  type: number,
  extra: { expectedAttachType?: number; attachBtfId?: number },
  first: Insn[] = [],
): string | null {
  try {
    using _ = BpfProgram.load({
      type,
      name: "ioscope_probe",
      insns: [...first, mov.imm(R0, 0), exit()],
      ...extra,
    });
    return null;
  } catch (e: unknown) {
    return why(e);
  }
}

/**
 * Whether BPF_MAP_TYPE_TASK_STORAGE maps can be created (with their BTF).
 * @returns ok, and why not
 */
export function haveTaskStorage(): Feature {
  return cached("task_storage", () => {
    try {
      using _ = BpfMap.create({
        type: MapType.TASK_STORAGE,
        keySize: 4,
        valueSize: 8,
        maxEntries: 0,
        name: "ioscope_probe",
      });
      return { ok: true, reason: "task storage maps are created" };
    } catch (e: unknown) {
      return { ok: false, reason: `task storage maps cannot be created: ${why(e)}` };
    }
  });
}

/**
 * Whether BPF_MAP_LOOKUP_BATCH reads hash maps.
 * @returns ok, and why not
 */
export function haveBatchLookup(): Feature {
  return cached("batch", () => {
    try {
      using m = BpfMap.create({
        type: MapType.HASH,
        keySize: 4,
        valueSize: 8,
        maxEntries: 4,
        name: "ioscope_probe",
      });
      m.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array(8));
      const dump = m.readAll();
      if (!dump.batched) return { ok: false, reason: "BPF_MAP_LOOKUP_BATCH is not supported" };
      if (dump.entries.length !== 1) {
        return { ok: false, reason: `BPF_MAP_LOOKUP_BATCH read ${dump.entries.length} of 1 entry` };
      }
      return { ok: true, reason: "BPF_MAP_LOOKUP_BATCH reads hash maps" };
    } catch (e: unknown) {
      return { ok: false, reason: `BPF_MAP_LOOKUP_BATCH failed: ${why(e)}` };
    }
  });
}

/**
 * Whether a RAW_TRACEPOINT program loads and attaches to `sys_enter`.
 * @returns ok, and why not
 */
export function haveRawTracepoint(): Feature {
  return cached("raw_tp", () => {
    const load = canLoad(ProgType.RAW_TRACEPOINT);
    if (!load.ok) return load;
    try {
      using prog = BpfProgram.load({
        type: ProgType.RAW_TRACEPOINT,
        name: "ioscope_probe",
        insns: [mov.imm(R0, 0), exit()],
      });
      using _ = BpfLink.attachRawTracepoint(prog, "sys_enter");
      return { ok: true, reason: "raw tracepoint programs attach to sys_enter" };
    } catch (e: unknown) {
      return { ok: false, reason: `raw tracepoints cannot be attached: ${why(e)}` };
    }
  });
}

/**
 * Whether a program of a type may call a helper: `call helper; r0 = 0; exit`
 * is handed to the verifier (which names an unknown helper `unknown#ID`).
 * For helpers that take no arguments, such as `get_current_task_btf`.
 * @param type a sys.ts `ProgType` (not TRACING: that needs a target)
 * @param helper a sys.ts `Helper` id
 * @returns ok, and why not
 * @example
 * ```ts
 * import { haveHelper } from "./features.ts";
 * import { Helper, ProgType } from "./sys.ts";
 * const f = haveHelper(ProgType.RAW_TRACEPOINT, Helper.get_current_pid_tgid);
 * console.assert(typeof f.ok === "boolean" && f.reason.length > 0);
 * ```
 */
export function haveHelper(type: number, helper: number): Feature {
  return cached(`helper:${type}:${helper}`, () => {
    const name = Object.entries(Helper).find(([, v]) => v === helper)?.[0] ?? `#${helper}`;
    try {
      using _ = BpfProgram.load({
        type,
        name: "ioscope_probe",
        insns: [call(helper), mov.imm(R0, 0), exit()],
      });
      return { ok: true, reason: `${progTypeName(type)} programs may call bpf_${name}` };
    } catch (e: unknown) {
      return { ok: false, reason: `bpf_${name} is not there: ${why(e)}` };
    }
  });
}

/**
 * How many arguments a raw tracepoint passes its programs, from the kernel's
 * BTF: `btf_trace_NAME` is a pointer to a prototype whose first parameter is
 * the context (the rest are the tracepoint's TP_PROTO). A program that reads
 * past them is refused at attach (EINVAL), so a field that some kernels have
 * (sched_process_exit's `group_dead`) is read only where it is passed.
 * @param name the tracepoint, e.g. `sched_process_exit`
 * @returns ok with `args`, or why it is unknown (no BTF, no such tracepoint)
 */
export function rawTracepointArgs(name: string): Feature & { args?: number } {
  let f = argCounts.get(name);
  if (!f) {
    try {
      const btf = vmlinuxBtf();
      const id = btf.firstIdByName(`btf_trace_${name}`, BtfKind.TYPEDEF);
      if (id === undefined) f = { ok: false, reason: `the kernel's BTF has no btf_trace_${name}` };
      else {
        const args = btf.params(id).length - 1;
        f = { ok: true, reason: `${name} passes ${args} argument(s)`, args };
      }
    } catch (e: unknown) {
      f = { ok: false, reason: `the kernel's BTF cannot say: ${why(e)}` };
    }
    argCounts.set(name, f);
  }
  return f;
}

const argCounts = new Map<string, Feature & { args?: number }>();

/**
 * Whether fentry programs can read each function's first argument as a
 * struct pointer (a syscall function's `struct pt_regs *`): the verifier
 * refuses the read where the kernel's BTF gives that function's argument a
 * pointer to a declaration only (Debian's 5.10: `__x64_sys_sendto`, whose
 * `pt_regs` is a FWD in net/socket.c's types), not by loading anything.
 * @param functions kernel function names
 * @returns ok, or the first function whose argument cannot be read
 */
export function firstArgsReadable(functions: readonly string[]): Feature {
  let btf;
  try {
    btf = vmlinuxBtf();
  } catch (e: unknown) {
    return { ok: false, reason: `fentry needs the kernel's BTF: ${why(e)}` };
  }
  for (const name of functions) {
    const id = btf.funcId(name);
    if (id === undefined) return { ok: false, reason: `the kernel's BTF has no function ${name}` };
    const [arg] = btf.params(btf.type(id).type);
    if (arg === undefined) return { ok: false, reason: `${name} takes no argument in BTF` };
    const ptr = btf.type(btf.resolve(arg));
    const target = ptr.kind === BtfKind.PTR ? btf.type(btf.resolve(ptr.type)) : ptr;
    if (ptr.kind === BtfKind.PTR && target.kind !== BtfKind.STRUCT) {
      return {
        ok: false,
        reason: `${name}'s argument points to ${target.name || "a type"} that BTF only declares`,
      };
    }
  }
  return { ok: true, reason: `every function's first argument is readable` };
}

/**
 * Whether BPF maps and programs are charged to RLIMIT_MEMLOCK (kernels
 * before memcg accounting, 5.11): the limit is set to 0 for a moment and a
 * one-entry array is created (what cilium/ebpf's rlimit package does). EPERM
 * means it is charged; then loaders raise the limit first.
 * @returns ok when charged to the limit, and what was seen
 */
export function memlockCharged(): Feature {
  return cached("memlock", () => {
    let old: { cur: bigint; max: bigint };
    try {
      old = prlimit(RLIMIT_MEMLOCK, null);
    } catch (e: unknown) {
      return { ok: false, reason: `RLIMIT_MEMLOCK cannot be read: ${why(e)}` };
    }
    let created: unknown = null;
    prlimit(RLIMIT_MEMLOCK, { cur: 0n, max: old.max });
    try {
      using _ = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
    } catch (e: unknown) {
      created = e;
    } finally {
      prlimit(RLIMIT_MEMLOCK, old);
    }
    if (created === null) {
      return { ok: false, reason: "maps are charged to the memory cgroup, not RLIMIT_MEMLOCK" };
    }
    if (created instanceof ErrnoError && created.code === "EPERM") {
      return { ok: true, reason: "maps are charged to RLIMIT_MEMLOCK (EPERM under a zero limit)" };
    }
    return { ok: false, reason: `a map under a zero RLIMIT_MEMLOCK: ${why(created)}` };
  });
}

/**
 * Raises RLIMIT_MEMLOCK to unlimited where this kernel charges BPF maps and
 * programs to it ({@linkcode memlockCharged}); elsewhere nothing. Once per
 * process.
 * @returns what was done
 */
export function raiseMemlockWhereCharged(): Feature {
  return cached("memlock_raised", () => {
    const charged = memlockCharged();
    if (!charged.ok) return { ok: true, reason: `RLIMIT_MEMLOCK left as it is: ${charged.reason}` };
    try {
      prlimit(RLIMIT_MEMLOCK, { cur: RLIM_INFINITY, max: RLIM_INFINITY });
      return { ok: true, reason: `RLIMIT_MEMLOCK raised to unlimited: ${charged.reason}` };
    } catch (e: unknown) {
      return { ok: false, reason: `RLIMIT_MEMLOCK could not be raised: ${why(e)}` };
    }
  });
}

/**
 * Forgets every cached answer (for tests that force a path).
 */
export function resetFeatureCache(): void {
  cache.clear();
  argCounts.clear();
}
