// The log-linear bucket index the programs compute in the kernel must be the
// one probes/schema/buckets.ts (and io_syscalls.bt) compute, for every value: the
// fragment is run here by a small interpreter of the instructions it uses.
import { assertEquals } from "../../_helpers/assert.ts";
import { assemble, exit, mov, R0, R1, R7 } from "../../../ffi/bpf/asm.ts";
import { bucketIndex as fragment } from "../../../probes/bpf/_emit.ts";
import { HIST_BUCKETS } from "../../../probes/bpf/layout.ts";
import { bucketIndex } from "../../../schema/buckets.ts";
import { M, run } from "./_interp.ts";

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
