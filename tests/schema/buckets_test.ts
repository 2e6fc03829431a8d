import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  bucketBounds,
  bucketIndex,
  mergeBuckets,
  percentiles,
  quantile,
  toBuckets,
} from "../../schema/buckets.ts";

Deno.test("every value falls inside the bounds of its own bucket", () => {
  for (let v = 0; v < 200_000; v += v < 5000 ? 1 : 97) {
    const [low, high] = bucketBounds(bucketIndex(v));
    assert(low <= v && v < high, `${v} not in [${low}, ${high})`);
  }
  for (const v of [2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12345, 1e12]) {
    const [low, high] = bucketBounds(bucketIndex(v));
    assert(low <= v && v < high, `${v} not in [${low}, ${high})`);
  }
});

Deno.test("buckets are at most 1/16 of their low bound wide above 16", () => {
  for (let i = 16; i < 16 * 40; i++) {
    const [low, high] = bucketBounds(i);
    assert((high - low) / low <= 1 / 16 + 1e-12, `bucket ${i}: [${low}, ${high})`);
  }
});

Deno.test("bucket indexes match the bpftrace program's arithmetic", () => {
  // The program: e = floor(log2 v); b = v < 16 ? v : e*16 + ((v >> (e-4)) & 15)
  const program = (v: bigint): number => {
    let e = 0n;
    let x = v;
    while (x >= 2n) {
      x >>= 1n;
      e++;
    }
    return Number(e < 4n ? v : e * 16n + ((v >> (e - 4n)) & 15n));
  };
  for (
    const v of [0, 1, 15, 16, 17, 31, 32, 1000, 1023, 1024, 65535, 65536, 123456789, 2 ** 33 + 7]
  ) {
    assertEquals(bucketIndex(v), program(BigInt(v)), `value ${v}`);
  }
});

Deno.test("histogram p99 falls inside its bucket and interpolates", () => {
  const counts = new Map<number, number>();
  // 990 calls at ~1 us, 10 at ~100 us.
  counts.set(bucketIndex(1000), 990);
  counts.set(bucketIndex(100_000), 10);
  const buckets = toBuckets(counts);
  const p = percentiles(buckets);
  const [low1, high1] = bucketBounds(bucketIndex(1000));
  assert(p.p50_ns >= low1 && p.p50_ns <= high1);
  assert(p.p99_ns >= low1 && p.p99_ns <= high1, `p99 ${p.p99_ns}`);
  const [low2, high2] = bucketBounds(bucketIndex(100_000));
  assert(p.p999_ns >= low2 && p.p999_ns <= high2, `p99.9 ${p.p999_ns}`);
});

Deno.test("quantiles of uniform data are within 7% of the exact ones", () => {
  const counts = new Map<number, number>();
  const values: number[] = [];
  for (let i = 1; i <= 100_000; i++) {
    const v = 500 + (i * 7919) % 50_000;
    values.push(v);
    const b = bucketIndex(v);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  values.sort((a, b) => a - b);
  const buckets = toBuckets(counts);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = values[Math.floor(q * values.length) - 1] ?? 0;
    const got = quantile(buckets, q);
    assert(Math.abs(got - exact) / exact < 0.07, `q${q}: ${got} vs ${exact}`);
  }
});

Deno.test("quantile of no data is 0 and a bad quantile is refused", () => {
  assertEquals(quantile([], 0.99), 0);
  let threw = false;
  try {
    quantile([], 1.5);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw);
});

Deno.test("merged buckets sum counts per bucket and stay sorted", () => {
  const merged = mergeBuckets([[16, 17, 2], [64, 68, 1]], [[16, 17, 3], [32, 34, 4]]);
  assertEquals(merged, [[16, 17, 5], [32, 34, 4], [64, 68, 1]]);
});

Deno.test("merging drops malformed buckets of an untrusted document", () => {
  const bad = [[16, 17, 1], [4, 2, 1], [8, 9, 0], [1, Infinity, 2], "x", [-1, 2, 3]];
  assertEquals(mergeBuckets(bad as never, [[16, 17, 2]]), [[16, 17, 3]]);
});
