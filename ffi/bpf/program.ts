/**
 * Loaded BPF programs as owned resources: `BpfProgram.load` assembles nothing
 * itself (asm.ts does) but hands the instructions to the verifier, owns the
 * descriptor, and reads the program's counters (runs, run time, recursion
 * misses) from the kernel.
 * @module
 */

import { Fd } from "../fd.ts";
import { assemble, type Insn } from "./asm.ts";
import { formatAt, type FormatOptions } from "./print.ts";
import { BpfVerifierError, type ProgInfo, progInfo, progLoad, progRecursionMisses } from "./sys.ts";

/** A program to load. */
export interface ProgramSpec {
  /** A sys.ts `ProgType`. */
  type: number;
  /** Object name, 15 bytes at most (letters, digits, `_`, `.`); errors and `bpftool prog` show it. */
  name: string;
  /** The instructions (asm.ts builders), or their assembled bytes. */
  insns: readonly Insn[] | Uint8Array;
  /** The license; GPL-only helpers (probe_read_kernel, task storage) need "GPL". @default "GPL" */
  license?: string;
  /** A sys.ts `AttachType`, e.g. TRACE_FENTRY for a TRACING program. */
  expectedAttachType?: number;
  /** The BTF id of the kernel function a TRACING program attaches to (btf.ts `funcId`). */
  attachBtfId?: number;
  /** A module BTF's descriptor holding `attachBtfId` (vmlinux: leave out). */
  attachBtfObjFd?: number;
  /** Names of its maps and stack slots, for the printed instruction of a verifier error. */
  names?: FormatOptions;
}

/** A loaded BPF program, owning its descriptor; `close()` or `using` unloads it (links keep their own reference). */
export class BpfProgram implements Disposable {
  #fd: Fd;
  #id = 0;
  /** The program type (sys.ts `ProgType`). */
  readonly type: number;
  /** The object name. */
  readonly name: string;
  /** The expected attach type it was loaded with (0 if none). */
  readonly expectedAttachType: number;
  /** The number of 8-byte instruction slots. */
  readonly insnCount: number;

  /**
   * Takes ownership of a program descriptor (use {@linkcode BpfProgram.load}).
   * @param fd the descriptor
   * @param spec what it was loaded with, and its length in 8-byte slots
   */
  constructor(fd: number, spec: Omit<ProgramSpec, "insns"> & { insnCount: number }) {
    this.#fd = new Fd(fd, `the BPF program ${spec.name}`);
    this.type = spec.type;
    this.name = spec.name;
    this.expectedAttachType = spec.expectedAttachType ?? 0;
    this.insnCount = spec.insnCount;
  }

  /**
   * Loads a program through the verifier.
   * @param spec the program
   * @returns the loaded program
   * @throws BpfVerifierError (sys.ts) when the verifier refuses it: one line
   *   with the name, the instruction index and the reason; ErrnoError when the
   *   kernel refuses before verifying (EPERM for TRACING programs here)
   * @example
   * ```ts
   * import { BpfProgram } from "./program.ts";
   * import { exit, mov, R0 } from "./asm.ts";
   * import { ProgType } from "./sys.ts";
   * using p = BpfProgram.load({
   *   type: ProgType.RAW_TRACEPOINT,
   *   name: "doc_empty",
   *   insns: [mov.imm(R0, 0), exit()],
   * });
   * console.assert(p.info().name === "doc_empty");
   * ```
   */
  static load(spec: ProgramSpec): BpfProgram {
    const insns = spec.insns instanceof Uint8Array ? spec.insns : assemble(spec.insns);
    let fd: number;
    try {
      fd = progLoad({
        type: spec.type,
        name: spec.name,
        insns,
        license: spec.license ?? "GPL",
        ...(spec.expectedAttachType !== undefined &&
          { expectedAttachType: spec.expectedAttachType }),
        ...(spec.attachBtfId !== undefined && { attachBtfId: spec.attachBtfId }),
        ...(spec.attachBtfObjFd !== undefined && { attachBtfObjFd: spec.attachBtfObjFd }),
      });
    } catch (e: unknown) {
      if (e instanceof BpfVerifierError && !(spec.insns instanceof Uint8Array)) {
        const where = placeOf(spec.insns, e.insnIndex);
        if (where) throw e.withWhere(where, formatAt(spec.insns, e.insnIndex, spec.names ?? {}));
      }
      throw e;
    }
    return new BpfProgram(fd, { ...spec, insnCount: insns.byteLength / 8 });
  }

  /** The descriptor; throws once closed. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** The kernel's id for this program (what `bpftool prog` and GET_NEXT_ID show). */
  get id(): number {
    if (this.#id === 0) this.#id = progInfo(this.fd).id;
    return this.#id;
  }

  /**
   * The program's counters, read now. run_cnt and run_time_ns count only
   * while BPF stats are on (sys.ts `enableStats`); recursion_misses always.
   * @returns id, name, runs, run time, recursion misses
   * @throws ErrnoError
   */
  info(): ProgInfo {
    return progInfo(this.fd);
  }

  /**
   * `info().recursionMisses` alone, for a reader that asks every second.
   * @returns runs skipped because the program was already running on that CPU
   * @throws ErrnoError
   */
  recursionMisses(): number {
    return progRecursionMisses(this.fd);
  }

  /** Closes the descriptor; a second call does nothing. */
  close(): void {
    this.#fd.close();
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Where an instruction slot is in a program's source: how many instructions
 * after the label before it (`2 after label "mine"`), else its index as written
 * (`source #5`: ld_imm64 counts one there, two in the kernel's index).
 * @param program instructions and labels
 * @param slot the kernel's instruction index (ld_imm64 counts two)
 * @returns the place, or "" when the slot is outside the program
 * @example
 * ```ts
 * import { placeOf } from "./program.ts";
 * import { exit, label, mov, R0 } from "./asm.ts";
 * console.assert(placeOf([mov.imm(R0, 0), label("end"), exit()], 1) === '0 after label "end"');
 * ```
 */
export function placeOf(program: readonly Insn[], slot: number): string {
  if (slot < 0) return "";
  let at = 0;
  let lastLabel = "";
  let since = 0;
  for (const i of program) {
    if (i.kind === "label") {
      lastLabel = i.name;
      since = 0;
      continue;
    }
    const width = i.imm2 === undefined ? 1 : 2;
    if (slot < at + width) {
      return lastLabel ? `${since} after label "${lastLabel}"` : `source #${since}`;
    }
    at += width;
    since++;
  }
  return "";
}
