// A small interpreter of the ALU64 and JMP instructions that program
// fragments use, on u64 registers: fragments whose result matters for every
// input (the bucket index, the syscall slot search) are run here for all of
// them, which the verifier and one kernel run cannot do.

/** All 64 bits set: the largest u64. */
export const M = (1n << 64n) - 1n;

/**
 * Runs ALU64 and JMP instructions (the subset the fragments use) on u64 registers.
 * @param bytes the assembled program
 * @param r7 R7's value at the start
 * @returns R0 at the exit
 */
export function run(bytes: Uint8Array, r7: bigint): bigint {
  const v = new DataView(bytes.buffer);
  const reg = new Array<bigint>(11).fill(0n);
  reg[7] = r7;
  for (let pc = 0, steps = 0; steps < 1000; steps++) {
    const at = pc * 8;
    const op = v.getUint8(at);
    const dst = v.getUint8(at + 1) & 15;
    const src = v.getUint8(at + 1) >> 4;
    const off = v.getInt16(at + 2, true);
    const imm = BigInt.asUintN(64, BigInt(v.getInt32(at + 4, true)));
    const x = (op & 0x08) ? reg[src] ?? 0n : imm;
    const d = reg[dst] ?? 0n;
    pc++;
    if (op === 0x18) {
      // ld_imm64: the low word here, the high word in the next slot's imm.
      const high = BigInt(v.getUint32(at + 12, true));
      reg[dst] = (high << 32n) | BigInt(v.getUint32(at + 4, true));
      pc++;
    } else if ((op & 7) === 0x07) {
      const code = op & 0xf0;
      const r = code === 0xb0
        ? x
        : code === 0x00
        ? d + x
        : code === 0x10
        ? d - x
        : code === 0x50
        ? d & x
        : code === 0x60
        ? d << (x & 63n)
        : code === 0x70
        ? d >> (x & 63n)
        : null;
      if (r === null) throw new Error(`ALU op 0x${op.toString(16)} not interpreted`);
      reg[dst] = r & M;
    } else if ((op & 7) === 0x05) {
      const code = op & 0xf0;
      if (code === 0x90) return reg[0] ?? 0n;
      const taken = code === 0x00 ||
        (code === 0x10 && d === x) || (code === 0x50 && d !== x) ||
        (code === 0xa0 && d < x) || (code === 0x20 && d > x) || (code === 0x30 && d >= x);
      if (![0x00, 0x10, 0x50, 0xa0, 0x20, 0x30].includes(code)) {
        throw new Error(`JMP op 0x${op.toString(16)} not interpreted`);
      }
      if (taken) pc += off;
    } else throw new Error(`op 0x${op.toString(16)} not interpreted`);
  }
  throw new Error("no exit within 1000 steps");
}
