/**
 * The assembler's encodings against known bytes, label resolution and its
 * errors. Expected bytes follow the kernel's instruction set document
 * (Documentation/bpf/standardization/instruction-set.rst: opcode = operation
 * | source | class, then dst in the low nibble of byte 1, src in the high one,
 * a little-endian s16 offset and s32 immediate), as llvm-objdump prints them
 * for the same instructions.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  add,
  and32,
  assemble,
  atomicAdd,
  call,
  exit,
  ja,
  jeq,
  jgt32,
  jne,
  jset,
  label,
  ldImm64,
  ldx,
  loadMapFd,
  loadMapValue,
  mov,
  mov32,
  R0,
  R1,
  R10,
  R2,
  R6,
  rsh,
  slotCount,
  st,
  stx,
} from "../../../ffi/bpf/asm.ts";

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");
}

function one(i: Parameters<typeof assemble>[0][number]): string {
  return hex(assemble([i]));
}

Deno.test("asm: mov r0, 0; exit encodes as b7 00.. 95 00..", () => {
  assertEquals(
    hex(assemble([mov.imm(R0, 0), exit()])),
    "b7 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00",
  );
});

Deno.test("asm: ALU, memory, call and atomic instructions match their documented bytes", () => {
  // r1 = r10: ALU64|MOV|X = 0xbf, dst 1, src 10 -> 0xa1
  assertEquals(one(mov.reg(R1, R10)), "bf a1 00 00 00 00 00 00");
  // r2 += -8: ALU64|ADD|K = 0x07, imm f8 ff ff ff
  assertEquals(one(add.imm(R2, -8)), "07 02 00 00 f8 ff ff ff");
  // r0 >>= 32: ALU64|RSH|K = 0x77
  assertEquals(one(rsh.imm(R0, 32)), "77 00 00 00 20 00 00 00");
  // w0 = 1: ALU|MOV|K = 0xb4
  assertEquals(one(mov32.imm(R0, 1)), "b4 00 00 00 01 00 00 00");
  // w6 &= 0xff: ALU|AND|K = 0x54
  assertEquals(one(and32.imm(R6, 0xff)), "54 06 00 00 ff 00 00 00");
  // r0 = *(u64 *)(r1 + 8): LDX|MEM|DW = 0x79
  assertEquals(one(ldx.dw(R0, R1, 8)), "79 10 08 00 00 00 00 00");
  // r0 = *(u32 *)(r1 + 8): LDX|MEM|W = 0x61
  assertEquals(one(ldx.w(R0, R1, 8)), "61 10 08 00 00 00 00 00");
  // *(u64 *)(r10 - 8) = r1: STX|MEM|DW = 0x7b, off f8 ff
  assertEquals(one(stx.dw(R10, -8, R1)), "7b 1a f8 ff 00 00 00 00");
  // *(u32 *)(r10 - 4) = 0: ST|MEM|W = 0x62
  assertEquals(one(st.w(R10, -4, 0)), "62 0a fc ff 00 00 00 00");
  // *(u8 *)(r10 - 1) = 7: ST|MEM|B = 0x72
  assertEquals(one(st.b(R10, -1, 7)), "72 0a ff ff 07 00 00 00");
  // call bpf_get_current_pid_tgid (14): JMP|CALL = 0x85
  assertEquals(one(call(14)), "85 00 00 00 0e 00 00 00");
  // lock *(u64 *)(r0 + 0) += r1: STX|ATOMIC|DW = 0xdb, imm BPF_ADD = 0
  assertEquals(one(atomicAdd.dw(R0, 0, R1)), "db 10 00 00 00 00 00 00");
  // lock *(u32 *)(r0 + 4) += r1: STX|ATOMIC|W = 0xc3
  assertEquals(one(atomicAdd.w(R0, 4, R1)), "c3 10 04 00 00 00 00 00");
});

Deno.test("asm: ld_imm64 takes two slots: value, map fd, map value", () => {
  // r1 = 0x1122334455667788 ll: LD|IMM|DW = 0x18, low half then high half
  assertEquals(
    one(ldImm64(R1, 0x1122334455667788n)),
    "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11",
  );
  // r1 = map[fd 5]: src = BPF_PSEUDO_MAP_FD (1)
  assertEquals(one(loadMapFd(R1, 5)), "18 11 00 00 05 00 00 00 00 00 00 00 00 00 00 00");
  // r2 = &map[fd 5][16]: src = BPF_PSEUDO_MAP_VALUE (2), offset in the second slot
  assertEquals(one(loadMapValue(R2, 5, 16)), "18 22 00 00 05 00 00 00 00 00 00 00 10 00 00 00");
  assertEquals(slotCount([loadMapFd(R1, 5), exit(), label("x")]), 3);
});

Deno.test("asm: jumps resolve labels forwards and backwards, ld_imm64 counted as two", () => {
  const b = assemble([
    label("top"), // slot 0
    jeq.imm(R0, 0, "out"), // slot 0: to slot 4 -> off +3
    loadMapFd(R1, 3), // slots 1-2
    ja("top"), // slot 3: to slot 0 -> off -4
    label("out"),
    exit(), // slot 4
  ]);
  // if r0 == 0 goto +3: JMP|JEQ|K = 0x15
  assertEquals(hex(b.subarray(0, 8)), "15 00 03 00 00 00 00 00");
  // goto -4: JMP|JA = 0x05
  assertEquals(hex(b.subarray(24, 32)), "05 00 fc ff 00 00 00 00");
  // register and 32-bit forms: JMP|JNE|X = 0x5d, JMP32|JGT|K = 0x26, JMP|JSET|K = 0x45
  const c = assemble([
    jne.reg(R1, R2, "end"),
    jgt32.imm(R1, 5, "end"),
    jset.imm(R1, 1, "end"),
    label("end"),
    exit(),
  ]);
  assertEquals(hex(c.subarray(0, 8)), "5d 21 02 00 00 00 00 00");
  assertEquals(hex(c.subarray(8, 16)), "26 01 01 00 05 00 00 00");
  assertEquals(hex(c.subarray(16, 24)), "45 01 00 00 01 00 00 00");
});

function throws(fn: () => unknown, pattern: RegExp, what: string): void {
  try {
    fn();
  } catch (e: unknown) {
    assert(e instanceof RangeError, `${what}: ${e} is not a RangeError`);
    assert(pattern.test(e.message), `${what}: "${e.message}" does not match ${pattern}`);
    return;
  }
  throw new Error(`${what}: no error`);
}

Deno.test("asm: an unknown label, a duplicate label and a jump out of range are clear errors", () => {
  throws(
    () => assemble([mov.imm(R0, 0), jeq.imm(R0, 0, "nowhere"), exit()]),
    /^Unknown label "nowhere" in the jump at instruction 1$/,
    "unknown label",
  );
  throws(
    () => assemble([label("a"), label("a"), exit()]),
    /^Label "a" is defined twice$/,
    "duplicate",
  );
  const far = [ja("end"), ...Array.from({ length: 40_000 }, () => mov.imm(R0, 0))];
  throws(
    () => assemble([...far, label("end"), exit()]),
    /^The jump at instruction 0 to "end" is out of range \(40000 slots\)$/,
    "out of range",
  );
  throws(() => mov.imm(R0, 2 ** 33), /does not fit in 32 bits/, "wide immediate");
  throws(() => ldx.dw(R0, R1, 40_000), /does not fit in 16 bits/, "wide offset");
  throws(() => mov.imm(11 as 0, 0), /no register r11/, "register");
});
