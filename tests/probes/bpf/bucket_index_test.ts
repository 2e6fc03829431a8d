// The bucket slot the programs compute in the kernel must be the one
// schema/buckets.ts (and io_syscalls.bt) compute, for every value: the
// fragment is run here by a small interpreter of the instructions it uses, at
// and around every bucket edge from 1 ns to 2^48 ns.
import { assertEquals } from "../../_helpers/assert.ts";
import { assemble, exit, mov, R0, R1, R7 } from "../../../ffi/bpf/asm.ts";
import { bucketIndex as fragment } from "../../../probes/bpf/_emit.ts";
import { HIST_BUCKETS } from "../../../probes/bpf/layout.ts";
import { bucketBounds, bucketIndex } from "../../../schema/buckets.ts";
import { M, run } from "./_interp.ts";

const program = assemble([...fragment(R7, "b"), mov.reg(R0, R1), exit()]);

Deno.test("the in-kernel slot equals schema/buckets.ts at and around every edge, and for random values", () => {
  const values = new Set<number>([0, 1, 2, 3]);
  for (let s = 1; s < HIST_BUCKETS; s++) {
    const [low, high] = bucketBounds(s);
    for (const v of [low - 1, low, low + 1, high - 2, high - 1, high]) if (v >= 0) values.add(v);
  }
  for (let e = 0; e < 48; e++) for (const d of [-1, 0, 1]) values.add(Math.max(0, 2 ** e + d));
  let seed = 42;
  for (let i = 0; i < 5000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values.add(Math.floor((seed / 2 ** 31) * 2 ** (4 + (i % 44))));
  }
  for (const value of values) {
    assertEquals(Number(run(program, BigInt(value))), bucketIndex(value), `value ${value}`);
  }
});

Deno.test("latencies of 2^48 ns and past go to the last bucket instead of past the histogram", () => {
  assertEquals(Number(run(program, 1n << 48n)), HIST_BUCKETS - 1);
  assertEquals(Number(run(program, (1n << 48n) - 1n)), bucketIndex(2 ** 48 - 1));
  assertEquals(Number(run(program, 1n << 50n)), HIST_BUCKETS - 1);
  assertEquals(Number(run(program, M)), HIST_BUCKETS - 1);
});
