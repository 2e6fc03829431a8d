/**
 * A BPF assembler whose programs read like code (after cilium/ebpf's `asm`):
 * each instruction is built by a named helper, jumps name labels instead of
 * offsets, and `assemble` turns the list into the kernel's 8-byte encoding.
 *
 * ```ts
 * import { assemble, exit, jeq, label, mov, R0, R1 } from "./asm.ts";
 * const bytes = assemble([
 *   mov.imm(R0, 0),             // return 0
 *   jeq.imm(R1, 0, "out"),      // if the context is NULL, leave
 *   mov.imm(R0, 1),             // else return 1
 *   label("out"),
 *   exit(),
 * ]);
 * console.assert(bytes.length === 4 * 8);
 * ```
 * @module
 */

/** A register: R0 (return value), R1-R5 (arguments), R6-R9 (kept across calls), R10 (frame). */
export type Reg = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;
/** Return value of calls and of the program. */
export const R0: ScratchReg = 0;
/** First argument; the context at entry. */
export const R1: ScratchReg = 1;
/** Second argument. */
export const R2: ScratchReg = 2;
/** Third argument. */
export const R3: ScratchReg = 3;
/** Fourth argument. */
export const R4: ScratchReg = 4;
/** Fifth argument. */
export const R5: ScratchReg = 5;
/** Callee-saved. */
export const R6: SavedReg = 6;
/** Callee-saved. */
export const R7: SavedReg = 7;
/** Callee-saved. */
export const R8: SavedReg = 8;
/** Callee-saved. */
export const R9: SavedReg = 9;
/** Read-only frame pointer: the stack is the 512 bytes below it. */
export const R10: Reg = 10;

/**
 * The calling convention, as types: a helper call overwrites R0 (its result)
 * and R1-R5 (its arguments); R6-R9 keep their values across it.
 */
export type ScratchReg = 0 | 1 | 2 | 3 | 4 | 5;
/** A register a helper call keeps: where a value that outlives a call must live. */
export type SavedReg = 6 | 7 | 8 | 9;
/** What a helper call returns; what the program returns at `exit`. */
export const RET: ScratchReg = 0;
/** The program's context (its tracepoint record or argument array) at entry. */
export const CTX_AT_ENTRY: ScratchReg = 1;
/** A helper's arguments, in order: `ARG[0]` is R1. */
export const ARG: readonly [ScratchReg, ScratchReg, ScratchReg, ScratchReg, ScratchReg] = [
  1,
  2,
  3,
  4,
  5,
];
/** The frame pointer: stack slots (frame.ts) are negative offsets from it. */
export const FP: Reg = 10;
/** The registers every helper call overwrites. */
export const CLOBBERED_BY_CALL: readonly ScratchReg[] = [0, 1, 2, 3, 4, 5];
/** The registers every helper call keeps. */
export const CALLEE_SAVED: readonly SavedReg[] = [6, 7, 8, 9];

function distinct(regs: Record<string, number>, what: string): void {
  const seen = new Map<number, string>();
  for (const [name, r] of Object.entries(regs)) {
    const other = seen.get(r);
    if (other !== undefined) throw new RangeError(`${what}: ${name} and ${other} are both r${r}`);
    seen.set(r, name);
  }
}

/**
 * Names what the callee-saved registers hold in one part of a program, so
 * that the code says `r.request`, not R7, and a value that must outlive a
 * helper call cannot be put in a register the call overwrites.
 * @param regs role name to register (R6-R9, distinct)
 * @returns the same, checked
 * @throws RangeError when two roles share a register or one is not R6-R9
 * @example
 * ```ts
 * import { R6, R7, roles } from "./asm.ts";
 * const r = roles({ ctx: R6, request: R7 });
 * console.assert(r.request === 7);
 * ```
 */
export function roles<const T extends Record<string, SavedReg>>(regs: T): T {
  for (const [name, r] of Object.entries(regs)) {
    if (!(CALLEE_SAVED as readonly number[]).includes(r)) {
      throw new RangeError(`roles: ${name} is r${r}, which a helper call overwrites (use R6-R9)`);
    }
  }
  distinct(regs, "roles");
  return regs;
}

/**
 * Names scratch registers (R0-R5) for values that do not outlive a helper call.
 * @param regs name to register (R0-R5, distinct)
 * @returns the same, checked
 * @throws RangeError when two names share a register or one is R6 or above
 */
export function scratch<const T extends Record<string, ScratchReg>>(regs: T): T {
  for (const [name, r] of Object.entries(regs)) {
    if (!(CLOBBERED_BY_CALL as readonly number[]).includes(r)) {
      throw new RangeError(`scratch: ${name} is r${r}, a callee-saved register (use R0-R5)`);
    }
  }
  distinct(regs, "scratch");
  return regs;
}

/** One machine instruction (ld_imm64 is one of these, two slots wide). */
export interface Instruction {
  readonly kind: "insn";
  /** The opcode byte. */
  readonly op: number;
  /** Destination register. */
  readonly dst: Reg;
  /** Source register, or a pseudo source (ld_imm64: 1 map fd, 2 map value). */
  readonly src: number;
  /** Offset (memory) or jump offset; filled from `target` by assemble. */
  readonly off: number;
  /** The 32-bit immediate. */
  readonly imm: number;
  /** ld_imm64 only: the second slot's immediate (upper half, or a map value offset). */
  readonly imm2?: number;
  /** Jumps: the label to jump to. */
  readonly target?: string;
}

/** A position in the program that jumps can name. */
export interface Label {
  readonly kind: "label";
  /** The label's name. */
  readonly name: string;
}

/** What a program is made of: instructions and labels. */
export type Insn = Instruction | Label;

// Instruction classes, sizes, modes, sources (include/uapi/linux/bpf_common.h, bpf.h).
const LD = 0x00, LDX = 0x01, ST = 0x02, STX = 0x03, ALU = 0x04, JMP = 0x05, JMP32 = 0x06;
const ALU64 = 0x07;
const SIZE = { w: 0x00, h: 0x08, b: 0x10, dw: 0x18 } as const;
const IMM = 0x00, MEM = 0x60, ATOMIC = 0xc0;
const K = 0x00, X = 0x08;
const PSEUDO_MAP_FD = 1;
const PSEUDO_MAP_VALUE = 2;

function checkReg(r: number, what: string): void {
  if (!Number.isInteger(r) || r < 0 || r > 10) throw new RangeError(`${what}: no register r${r}`);
}

function imm32(v: number, what: string): number {
  if (!Number.isInteger(v) || v < -0x8000_0000 || v > 0xffff_ffff) {
    throw new RangeError(`${what}: immediate ${v} does not fit in 32 bits`);
  }
  return v | 0;
}

function off16(v: number, what: string): number {
  if (!Number.isInteger(v) || v < -0x8000 || v > 0x7fff) {
    throw new RangeError(`${what}: offset ${v} does not fit in 16 bits`);
  }
  return v;
}

function insn(op: number, dst: Reg, src: number, off: number, imm: number): Instruction {
  return { kind: "insn", op, dst, src, off, imm };
}

/** An ALU operation in its immediate and register forms. */
export interface AluOp {
  /** `dst op= imm` (the immediate is sign-extended to 64 bits in 64-bit ops). */
  imm(dst: Reg, value: number): Instruction;
  /** `dst op= src`. */
  reg(dst: Reg, src: Reg): Instruction;
}

function aluOp(cls: number, code: number, name: string): AluOp {
  return {
    imm(dst, value) {
      checkReg(dst, name);
      return insn(cls | code | K, dst, 0, 0, imm32(value, name));
    },
    reg(dst, src) {
      checkReg(dst, name);
      checkReg(src, name);
      return insn(cls | code | X, dst, src, 0, 0);
    },
  };
}

/** 64-bit `dst = imm` / `dst = src`. */
export const mov: AluOp = aluOp(ALU64, 0xb0, "mov");
/** 64-bit `dst += ...`. */
export const add: AluOp = aluOp(ALU64, 0x00, "add");
/** 64-bit `dst -= ...`. */
export const sub: AluOp = aluOp(ALU64, 0x10, "sub");
/** 64-bit `dst *= ...`. */
export const mul: AluOp = aluOp(ALU64, 0x20, "mul");
/** 64-bit unsigned `dst /= ...` (division by zero gives 0). */
export const div: AluOp = aluOp(ALU64, 0x30, "div");
/** 64-bit `dst |= ...`. */
export const or: AluOp = aluOp(ALU64, 0x40, "or");
/** 64-bit `dst &= ...`. */
export const and: AluOp = aluOp(ALU64, 0x50, "and");
/** 64-bit `dst <<= ...`. */
export const lsh: AluOp = aluOp(ALU64, 0x60, "lsh");
/** 64-bit logical `dst >>= ...`. */
export const rsh: AluOp = aluOp(ALU64, 0x70, "rsh");
/** 64-bit unsigned `dst %= ...`. */
export const mod: AluOp = aluOp(ALU64, 0x90, "mod");
/** 64-bit `dst ^= ...`. */
export const xor: AluOp = aluOp(ALU64, 0xa0, "xor");
/** 64-bit arithmetic (sign-filling) `dst >>= ...`. */
export const arsh: AluOp = aluOp(ALU64, 0xc0, "arsh");
/** 32-bit `dst = ...` (the upper half is zeroed). */
export const mov32: AluOp = aluOp(ALU, 0xb0, "mov32");
/** 32-bit `dst += ...`. */
export const add32: AluOp = aluOp(ALU, 0x00, "add32");
/** 32-bit `dst -= ...`. */
export const sub32: AluOp = aluOp(ALU, 0x10, "sub32");
/** 32-bit `dst *= ...`. */
export const mul32: AluOp = aluOp(ALU, 0x20, "mul32");
/** 32-bit `dst /= ...`. */
export const div32: AluOp = aluOp(ALU, 0x30, "div32");
/** 32-bit `dst |= ...`. */
export const or32: AluOp = aluOp(ALU, 0x40, "or32");
/** 32-bit `dst &= ...`. */
export const and32: AluOp = aluOp(ALU, 0x50, "and32");
/** 32-bit `dst <<= ...`. */
export const lsh32: AluOp = aluOp(ALU, 0x60, "lsh32");
/** 32-bit `dst >>= ...`. */
export const rsh32: AluOp = aluOp(ALU, 0x70, "rsh32");
/** 32-bit `dst %= ...`. */
export const mod32: AluOp = aluOp(ALU, 0x90, "mod32");
/** 32-bit `dst ^= ...`. */
export const xor32: AluOp = aluOp(ALU, 0xa0, "xor32");
/** 32-bit arithmetic `dst >>= ...`. */
export const arsh32: AluOp = aluOp(ALU, 0xc0, "arsh32");

/**
 * 64-bit `dst = -dst`.
 * @param dst the register
 * @returns the instruction
 */
export function neg(dst: Reg): Instruction {
  checkReg(dst, "neg");
  return insn(ALU64 | 0x80, dst, 0, 0, 0);
}

/** Memory access of one width. */
export interface SizedOp<F> {
  /** 1 byte. */
  b: F;
  /** 2 bytes. */
  h: F;
  /** 4 bytes. */
  w: F;
  /** 8 bytes. */
  dw: F;
}

function sized<F>(make: (size: number, name: string) => F, name: string): SizedOp<F> {
  return {
    b: make(SIZE.b, `${name}.b`),
    h: make(SIZE.h, `${name}.h`),
    w: make(SIZE.w, `${name}.w`),
    dw: make(SIZE.dw, `${name}.dw`),
  };
}

/** Load: `dst = *(size *)(src + off)`, e.g. `ldx.dw(R0, R1, 8)`. */
export const ldx: SizedOp<(dst: Reg, src: Reg, off: number) => Instruction> = sized(
  (size, name) => (dst, src, off) => {
    checkReg(dst, name);
    checkReg(src, name);
    return insn(LDX | MEM | size, dst, src, off16(off, name), 0);
  },
  "ldx",
);

/** Store a register: `*(size *)(dst + off) = src`, e.g. `stx.dw(R10, -8, R1)`. */
export const stx: SizedOp<(dst: Reg, off: number, src: Reg) => Instruction> = sized(
  (size, name) => (dst, off, src) => {
    checkReg(dst, name);
    checkReg(src, name);
    return insn(STX | MEM | size, dst, src, off16(off, name), 0);
  },
  "stx",
);

/** Store an immediate: `*(size *)(dst + off) = imm`, e.g. `st.w(R10, -4, 0)`. */
export const st: SizedOp<(dst: Reg, off: number, value: number) => Instruction> = sized(
  (size, name) => (dst, off, value) => {
    checkReg(dst, name);
    return insn(ST | MEM | size, dst, 0, off16(off, name), imm32(value, name));
  },
  "st",
);

/**
 * Atomic `*(size *)(dst + off) += src` (32 or 64 bits), for counters in maps
 * that several CPUs share.
 */
export const atomicAdd: {
  w: (dst: Reg, off: number, src: Reg) => Instruction;
  dw: (dst: Reg, off: number, src: Reg) => Instruction;
} = {
  w: (dst, off, src) => {
    checkReg(dst, "atomicAdd.w");
    checkReg(src, "atomicAdd.w");
    return insn(STX | ATOMIC | SIZE.w, dst, src, off16(off, "atomicAdd.w"), 0x00);
  },
  dw: (dst, off, src) => {
    checkReg(dst, "atomicAdd.dw");
    checkReg(src, "atomicAdd.dw");
    return insn(STX | ATOMIC | SIZE.dw, dst, src, off16(off, "atomicAdd.dw"), 0x00);
  },
};

/**
 * `dst = value` for any 64-bit value (ld_imm64: two slots).
 * @param dst the register
 * @param value the value (a bigint for values past 2^53)
 * @returns the instruction
 */
export function ldImm64(dst: Reg, value: number | bigint): Instruction {
  checkReg(dst, "ldImm64");
  const v = BigInt.asUintN(64, BigInt(value));
  const lo = Number(v & 0xffff_ffffn) | 0;
  const hi = Number(v >> 32n) | 0;
  return { kind: "insn", op: LD | IMM | SIZE.dw, dst, src: 0, off: 0, imm: lo, imm2: hi };
}

/**
 * `dst = &map` (ld_imm64 with a map fd, which the verifier turns into the
 * map's address): the first argument of the map helpers.
 * @param dst the register
 * @param mapFd the map's descriptor (BpfMap.fd)
 * @returns the instruction
 */
export function loadMapFd(dst: Reg, mapFd: number): Instruction {
  checkReg(dst, "loadMapFd");
  return {
    kind: "insn",
    op: LD | IMM | SIZE.dw,
    dst,
    src: PSEUDO_MAP_FD,
    off: 0,
    imm: imm32(mapFd, "loadMapFd"),
    imm2: 0,
  };
}

/**
 * `dst = &map_value[0] + offset` for a one-entry array map (a global
 * variable): no lookup call needed.
 * @param dst the register
 * @param mapFd the array map's descriptor
 * @param offset byte offset into the value
 * @returns the instruction
 */
export function loadMapValue(dst: Reg, mapFd: number, offset = 0): Instruction {
  checkReg(dst, "loadMapValue");
  return {
    kind: "insn",
    op: LD | IMM | SIZE.dw,
    dst,
    src: PSEUDO_MAP_VALUE,
    off: 0,
    imm: imm32(mapFd, "loadMapValue"),
    imm2: imm32(offset, "loadMapValue"),
  };
}

/**
 * Call a helper (sys.ts `Helper`): arguments in R1-R5, result in R0, R1-R5 clobbered.
 * @param helper the helper's id
 * @returns the instruction
 */
export function call(helper: number): Instruction {
  return insn(JMP | 0x80, 0, 0, 0, imm32(helper, "call"));
}

/**
 * Return R0.
 * @returns the instruction
 */
export function exit(): Instruction {
  return insn(JMP | 0x90, 0, 0, 0, 0);
}

/**
 * Marks the position of the next instruction for jumps to name.
 * @param name unique within the program
 * @returns the label
 */
export function label(name: string): Label {
  return { kind: "label", name };
}

/**
 * Jump always: `goto label`.
 * @param target the label
 * @returns the instruction
 */
export function ja(target: string): Instruction {
  return { ...insn(JMP | 0x00, 0, 0, 0, 0), target };
}

/** A conditional jump in its immediate and register forms. */
export interface JumpOp {
  /** `if (dst op imm) goto target`. */
  imm(dst: Reg, value: number, target: string): Instruction;
  /** `if (dst op src) goto target`. */
  reg(dst: Reg, src: Reg, target: string): Instruction;
}

function jumpOp(cls: number, code: number, name: string): JumpOp {
  return {
    imm(dst, value, target) {
      checkReg(dst, name);
      return { ...insn(cls | code | K, dst, 0, 0, imm32(value, name)), target };
    },
    reg(dst, src, target) {
      checkReg(dst, name);
      checkReg(src, name);
      return { ...insn(cls | code | X, dst, src, 0, 0), target };
    },
  };
}

/** `==`, 64-bit. */
export const jeq: JumpOp = jumpOp(JMP, 0x10, "jeq");
/** `!=`, 64-bit. */
export const jne: JumpOp = jumpOp(JMP, 0x50, "jne");
/** Unsigned `>`, 64-bit. */
export const jgt: JumpOp = jumpOp(JMP, 0x20, "jgt");
/** Unsigned `>=`, 64-bit. */
export const jge: JumpOp = jumpOp(JMP, 0x30, "jge");
/** Unsigned `<`, 64-bit. */
export const jlt: JumpOp = jumpOp(JMP, 0xa0, "jlt");
/** Unsigned `<=`, 64-bit. */
export const jle: JumpOp = jumpOp(JMP, 0xb0, "jle");
/** `dst & x != 0`, 64-bit. */
export const jset: JumpOp = jumpOp(JMP, 0x40, "jset");
/** Signed `>`, 64-bit. */
export const jsgt: JumpOp = jumpOp(JMP, 0x60, "jsgt");
/** Signed `>=`, 64-bit. */
export const jsge: JumpOp = jumpOp(JMP, 0x70, "jsge");
/** Signed `<`, 64-bit. */
export const jslt: JumpOp = jumpOp(JMP, 0xc0, "jslt");
/** Signed `<=`, 64-bit. */
export const jsle: JumpOp = jumpOp(JMP, 0xd0, "jsle");
/** `==` on the lower 32 bits. */
export const jeq32: JumpOp = jumpOp(JMP32, 0x10, "jeq32");
/** `!=` on the lower 32 bits. */
export const jne32: JumpOp = jumpOp(JMP32, 0x50, "jne32");
/** Unsigned `>` on the lower 32 bits. */
export const jgt32: JumpOp = jumpOp(JMP32, 0x20, "jgt32");
/** Unsigned `>=` on the lower 32 bits. */
export const jge32: JumpOp = jumpOp(JMP32, 0x30, "jge32");
/** Unsigned `<` on the lower 32 bits. */
export const jlt32: JumpOp = jumpOp(JMP32, 0xa0, "jlt32");
/** Unsigned `<=` on the lower 32 bits. */
export const jle32: JumpOp = jumpOp(JMP32, 0xb0, "jle32");
/** `dst & x != 0` on the lower 32 bits. */
export const jset32: JumpOp = jumpOp(JMP32, 0x40, "jset32");
/** Signed `>` on the lower 32 bits. */
export const jsgt32: JumpOp = jumpOp(JMP32, 0x60, "jsgt32");
/** Signed `>=` on the lower 32 bits. */
export const jsge32: JumpOp = jumpOp(JMP32, 0x70, "jsge32");
/** Signed `<` on the lower 32 bits. */
export const jslt32: JumpOp = jumpOp(JMP32, 0xc0, "jslt32");
/** Signed `<=` on the lower 32 bits. */
export const jsle32: JumpOp = jumpOp(JMP32, 0xd0, "jsle32");

function slots(i: Instruction): number {
  return i.imm2 === undefined ? 1 : 2;
}

/**
 * The number of 8-byte slots a program takes (ld_imm64 counts two; labels none).
 * @param program instructions and labels
 * @returns the slot count, which is what the kernel's instruction indexes count
 */
export function slotCount(program: readonly Insn[]): number {
  let n = 0;
  for (const i of program) if (i.kind === "insn") n += slots(i);
  return n;
}

/**
 * Encodes a program, resolving each jump's label to its offset.
 * @param program instructions and labels
 * @returns the kernel's encoding: 8 bytes per slot, little-endian
 * @throws RangeError on an unknown or duplicate label, or a jump past 16 bits
 * @example
 * ```ts
 * import { assemble, exit, mov, R0 } from "./asm.ts";
 * const b = assemble([mov.imm(R0, 0), exit()]);
 * console.assert(b[0] === 0xb7 && b[8] === 0x95);
 * ```
 */
export function assemble(program: readonly Insn[]): Uint8Array {
  const where = new Map<string, number>();
  let slot = 0;
  for (const i of program) {
    if (i.kind === "label") {
      if (where.has(i.name)) throw new RangeError(`Label "${i.name}" is defined twice`);
      where.set(i.name, slot);
    } else slot += slots(i);
  }
  const out = new Uint8Array(new ArrayBuffer(slot * 8));
  const v = new DataView(out.buffer);
  slot = 0;
  let index = 0;
  for (const i of program) {
    if (i.kind === "label") continue;
    let off = i.off;
    if (i.target !== undefined) {
      const to = where.get(i.target);
      if (to === undefined) {
        throw new RangeError(`Unknown label "${i.target}" in the jump at instruction ${slot}`);
      }
      off = to - (slot + 1);
      if (off < -0x8000 || off > 0x7fff) {
        throw new RangeError(
          `The jump at instruction ${slot} to "${i.target}" is out of range (${off} slots)`,
        );
      }
    }
    const at = slot * 8;
    v.setUint8(at, i.op);
    v.setUint8(at + 1, (i.src << 4) | i.dst);
    v.setInt16(at + 2, off, true);
    v.setInt32(at + 4, i.imm, true);
    if (i.imm2 !== undefined) v.setInt32(at + 12, i.imm2, true);
    slot += slots(i);
    index++;
  }
  return out;
}

/** A register read after a helper call overwrote it, before anything wrote it again. */
export interface ClobberedRead {
  /** The instruction's slot (the verifier's index). */
  slot: number;
  reg: Reg;
}

function reads(i: Instruction): Reg[] {
  const cls = i.op & 7;
  if (i.op === (JMP | 0x80)) return []; // call: its arguments are the caller's business
  if (i.op === (JMP | 0x90)) return [0]; // exit returns R0
  if (cls === LD) return [];
  if (cls === LDX) return [i.src as Reg];
  if (cls === ST) return [i.dst];
  if (cls === STX) return [i.dst, i.src as Reg];
  if (cls === ALU || cls === ALU64) {
    const self = (i.op & 0xf0) === 0xb0 ? [] : [i.dst]; // mov does not read dst
    return (i.op & X) ? [...self, i.src as Reg] : self;
  }
  if (i.op === (JMP | 0x00)) return []; // ja
  return (i.op & X) ? [i.dst, i.src as Reg] : [i.dst];
}

function writes(i: Instruction): Reg | null {
  const cls = i.op & 7;
  if (cls === LD || cls === LDX || cls === ALU || cls === ALU64) return i.dst;
  return null;
}

/**
 * Reads of R1-R5 after a helper call and before any write: the calling
 * convention, checked without a kernel (the verifier refuses these as
 * `!read_ok`). Straight-line only: a label (a jump may land there) forgets
 * what is known, so no false finding comes from a path not taken.
 * @param program instructions and labels
 * @returns each clobbered read
 * @example
 * ```ts
 * import { call, clobberedReads, mov, R0, R1 } from "./asm.ts";
 * console.assert(clobberedReads([call(5), mov.reg(R0, R1)]).length === 1);
 * ```
 */
export function clobberedReads(program: readonly Insn[]): ClobberedRead[] {
  const out: ClobberedRead[] = [];
  let dead = new Set<Reg>();
  let slot = 0;
  for (const i of program) {
    if (i.kind === "label") {
      dead = new Set();
      continue;
    }
    for (const r of reads(i)) if (dead.has(r)) out.push({ slot, reg: r });
    const w = writes(i);
    if (w !== null) dead.delete(w);
    if (i.op === (JMP | 0x80)) dead = new Set<Reg>([1, 2, 3, 4, 5]);
    slot += slots(i);
  }
  return out;
}
