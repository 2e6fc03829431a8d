/**
 * An instruction printer (after cilium/ebpf's `asm.Instructions.Format`): one
 * line per instruction in the kernel verifier's own syntax, numbered by slot
 * (the index the verifier's log and errors use), with labels on lines of
 * their own, jumps naming their labels, helpers by name, map descriptors by
 * the names given, and stack slots by their frame names.
 *
 * ```ts
 * import { call, exit, jeq, label, loadMapFd, mov, R0, R1 } from "./asm.ts";
 * import { Helper } from "./sys.ts";
 * import { formatProgram } from "./print.ts";
 * const text = formatProgram([
 *   loadMapFd(R1, 7),
 *   call(Helper.ktime_get_ns),
 *   jeq.imm(R0, 0, "out"),
 *   label("out"),
 *   exit(),
 * ], { maps: { 7: "counts" } });
 * console.assert(text.includes("r1 = map[counts]") && text.includes("call ktime_get_ns#5"));
 * ```
 * @module
 */

import type { Insn, Instruction } from "./asm.ts";
import { type Frame, frameLayout } from "./frame.ts";
import { Helper } from "./sys.ts";

/** What the printer resolves beyond the instructions themselves. */
export interface FormatOptions {
  /** Map descriptors' names (fd to name). */
  maps?: Readonly<Record<number, string>> | ReadonlyMap<number, string>;
  /** The program's stack frame: slots are shown by name. */
  frame?: Frame;
}

const HELPER_NAMES = new Map<number, string>(
  Object.entries(Helper).map(([name, id]) => [id as number, name]),
);
const SIZE_NAME: Record<number, string> = { 0x00: "u32", 0x08: "u16", 0x10: "u8", 0x18: "u64" };
const ALU_NAME: Record<number, string> = {
  0x00: "+=",
  0x10: "-=",
  0x20: "*=",
  0x30: "/=",
  0x40: "|=",
  0x50: "&=",
  0x60: "<<=",
  0x70: ">>=",
  0x90: "%=",
  0xa0: "^=",
  0xb0: "=",
  0xc0: "s>>=",
};
const JMP_NAME: Record<number, string> = {
  0x10: "==",
  0x20: ">",
  0x30: ">=",
  0x40: "&",
  0x50: "!=",
  0x60: "s>",
  0x70: "s>=",
  0xa0: "<",
  0xb0: "<=",
  0xc0: "s<",
  0xd0: "s<=",
};

function mapName(options: FormatOptions, fd: number): string {
  const m = options.maps;
  const name = m instanceof Map ? m.get(fd) : (m as Record<number, string> | undefined)?.[fd];
  return name ?? `fd ${fd}`;
}

/** Immediates in decimal up to 16 bits, in hex above (masks, ids). */
function num(v: number): string {
  return Math.abs(v) < 0x10000 ? `${v}` : `${v < 0 ? "-" : ""}0x${Math.abs(v).toString(16)}`;
}

/**
 * One instruction in the verifier's syntax.
 * @param i the instruction
 * @param options names for maps and stack slots
 * @returns the text, e.g. `r1 = *(u64 *)(r6 +8)` or `if r0 == 0 goto out`
 */
export function formatInsn(i: Instruction, options: FormatOptions = {}): string {
  const slotName = new Map<number, string>(
    options.frame ? frameLayout(options.frame).slots.map((s) => [s.offset, s.name]) : [],
  );
  const mem = (reg: number, off: number) => {
    const name = reg === 10 ? slotName.get(off) : undefined;
    return `(r${reg} ${off < 0 ? "-" : "+"}${Math.abs(off)})${name ? ` {${name}}` : ""}`;
  };
  const cls = i.op & 7;
  const size = SIZE_NAME[i.op & 0x18] ?? "?";
  const code = i.op & 0xf0;
  const byReg = (i.op & 0x08) !== 0;
  switch (cls) {
    case 0x00: { // ld_imm64
      if (i.src === 1) return `r${i.dst} = map[${mapName(options, i.imm)}]`;
      if (i.src === 2) {
        return `r${i.dst} = map_value[${mapName(options, i.imm)}] + ${i.imm2 ?? 0}`;
      }
      const v = BigInt.asUintN(64, (BigInt(i.imm2 ?? 0) << 32n) | BigInt(i.imm >>> 0));
      return `r${i.dst} = 0x${v.toString(16)} ll`;
    }
    case 0x01:
      return `r${i.dst} = *(${size} *)${mem(i.src, i.off)}`;
    case 0x02:
      return `*(${size} *)${mem(i.dst, i.off)} = ${num(i.imm)}`;
    case 0x03:
      if ((i.op & 0xe0) === 0xc0) return `lock *(${size} *)${mem(i.dst, i.off)} += r${i.src}`;
      return `*(${size} *)${mem(i.dst, i.off)} = r${i.src}`;
    case 0x04:
    case 0x07: {
      const r = cls === 0x07 ? "r" : "w";
      if (code === 0x80) return `${r}${i.dst} = -${r}${i.dst}`;
      const rhs = byReg ? `${r}${i.src}` : num(i.imm);
      const slot = byReg || code !== 0x00 ? undefined : slotName.get(i.imm);
      const note = slot && i.dst !== 10 ? ` {&${slot}}` : "";
      return `${r}${i.dst} ${ALU_NAME[code] ?? `alu${code.toString(16)}`} ${rhs}${note}`;
    }
    case 0x05:
    case 0x06: {
      if (cls === 0x05 && code === 0x80) {
        return `call ${HELPER_NAMES.get(i.imm) ?? "helper"}#${i.imm}`;
      }
      if (cls === 0x05 && code === 0x90) return "exit";
      const to = i.target ?? `pc${i.off < 0 ? "" : "+"}${i.off}`;
      if (cls === 0x05 && code === 0x00) return `goto ${to}`;
      const r = cls === 0x05 ? "r" : "w";
      const rhs = byReg ? `${r}${i.src}` : num(i.imm);
      return `if ${r}${i.dst} ${JMP_NAME[code] ?? `jmp${code.toString(16)}`} ${rhs} goto ${to}`;
    }
    default:
      return `op 0x${i.op.toString(16)}`;
  }
}

/**
 * A program, one instruction a line: `  12: r1 = r10`, labels as `out:`.
 * @param program instructions and labels
 * @param options names for maps and stack slots
 * @returns the listing (ending with a newline)
 */
export function formatProgram(program: readonly Insn[], options: FormatOptions = {}): string {
  const lines: string[] = [];
  let slot = 0;
  for (const i of program) {
    if (i.kind === "label") {
      lines.push(`${i.name}:`);
      continue;
    }
    lines.push(`${String(slot).padStart(5)}: ${formatInsn(i, options)}`);
    slot += i.imm2 === undefined ? 1 : 2;
  }
  return lines.join("\n") + "\n";
}

/**
 * The instruction at a verifier slot index, printed, with the label before it.
 * @param program instructions and labels
 * @param slot the verifier's instruction index
 * @param options names for maps and stack slots
 * @returns e.g. `r1 = *(u64 *)(r0 +0)`, or "" past the end
 */
export function formatAt(
  program: readonly Insn[],
  slot: number,
  options: FormatOptions = {},
): string {
  let at = 0;
  for (const i of program) {
    if (i.kind === "label") continue;
    const width = i.imm2 === undefined ? 1 : 2;
    if (slot >= at && slot < at + width) return formatInsn(i, options);
    at += width;
  }
  return "";
}
