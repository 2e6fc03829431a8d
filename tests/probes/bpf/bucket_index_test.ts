// The log-linear bucket index the programs compute in the kernel must be the
// one probes/schema/buckets.ts (and io_syscalls.bt) compute, for every value: the
// fragment is run here by a small interpreter of the instructions it uses.
import { assertEquals } from "../../_helpers/assert.ts";
import { assemble, exit, mov, R0, R1, R7 } from "../../../ffi/bpf/asm.ts";
import { bucketIndex as fragment } from "../../../probes/bpf/_emit.ts";
import { HIST_BUCKETS } from "../../../probes/bpf/layout.ts";
import { bucketIndex } from "../../../schema/buckets.ts";

const M = (1n << 64n) - 1n;

/** Runs ALU64 and JMP instructions (the subset the fragment uses) on u64 registers. */
function run(bytes: Uint8Array, r7: bigint): bigint {
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
    if ((op & 7) === 0x07) {
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

const program = assemble([...fragment(R7, "b"), mov.reg(R0, R1), exit()]);

Deno.test("the in-kernel bucket index equals loglinear.ts for small, power-of-two and random values", () => {
  const values: number[] = [];
  for (let v = 0; v < 4096; v++) values.push(v);
  for (let e = 4; e < 48; e++) {
    for (const d of [-1, 0, 1]) values.push(2 ** e + d);
  }
  let seed = 42;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values.push(Math.floor((seed / 2 ** 31) * 2 ** (4 + (i % 44))));
  }
  for (const value of values) {
    assertEquals(Number(run(program, BigInt(value))), bucketIndex(value), `value ${value}`);
  }
});

Deno.test("latencies past 2^48 ns go to the last bucket instead of past the histogram", () => {
  assertEquals(Number(run(program, 1n << 50n)), HIST_BUCKETS - 1);
  assertEquals(Number(run(program, M)), HIST_BUCKETS - 1);
});
