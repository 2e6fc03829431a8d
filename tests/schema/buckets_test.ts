import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  bucketBounds,
  bucketIndex,
  mergeBuckets,
  nativeIndex,
  percentiles,
  quantile,
  SLOT_ONE_NATIVE,
  SLOT_THRESHOLDS,
  SLOTS,
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

Deno.test("every bucket is one native schema-4 bucket in seconds: (2^((i-1)/16), 2^(i/16)] s over whole ns", () => {
  for (let s = 2; s < SLOTS; s++) {
    const [low, high] = bucketBounds(s);
    const i = s - 1 + SLOT_ONE_NATIVE;
    // Floats are close enough to check the edges' places (the exact floors are
    // BigInt's; the next tests check the kernel's method against them).
    const edge = (n: number) => 1e9 * 2 ** (n / 16);
    assert(Math.abs(high - 1 - Math.floor(edge(i))) <= 1, `slot ${s}: high ${high} vs ${edge(i)}`);
    assert(Math.abs(low - 1 - Math.floor(edge(i - 1))) <= 1, `slot ${s}: low ${low}`);
    if (high > low) assertEquals(nativeIndex([low, high, 1]), i, `slot ${s}`);
  }
  assertEquals(nativeIndex([0, 1, 5]), null, "the zero bucket is not a native one");
  assertEquals(nativeIndex([992, 1024, 5]), null, "a log-linear bucket of an ioscope.run/1 Run");
  assertEquals(bucketBounds(479), [957_603_281, 1_000_000_001], "1 s is upper-inclusive");
});

Deno.test("a bucket is at most 2^(1/16) - 1 = 4.43% of its low bound wide", () => {
  const width = 2 ** (1 / 16) - 1;
  for (let s = 1; s < SLOTS; s++) {
    const [low, high] = bucketBounds(s);
    // Below ~23 ns a bucket holds at most one whole ns (or none).
    if (high - low > 1) {
      assert((high - 1 - low) / low <= width + 1e-12, `slot ${s}: [${low}, ${high})`);
    }
  }
});

Deno.test("the slot by the kernel's integer method (m = v << (62-k) against 16 constants) is exact at every edge", () => {
  const method = (v: bigint): number => {
    if (v === 0n) return 0;
    if (v >= 1n << 48n) return SLOTS - 1;
    const k = BigInt(v.toString(2).length - 1);
    const m = v << (62n - k);
    return Number(16n * k + 1n) + SLOT_THRESHOLDS.filter((c) => m > c).length;
  };
  for (let s = 1; s < SLOTS; s++) {
    const [low, high] = bucketBounds(s);
    for (const v of [low - 1, low, high - 1, high]) {
      if (v >= 0) assertEquals(method(BigInt(v)), bucketIndex(v), `value ${v}`);
    }
  }
  for (let n = 0; n <= 9; n++) {
    // 1e9 * 2^n ns is an edge exactly (a whole power of 2^(1/16) in seconds): upper-inclusive.
    const v = 1e9 * 2 ** n;
    assertEquals(bucketBounds(bucketIndex(v))[1], v + 1, `${v} ends its bucket`);
  }
});

Deno.test("bpftrace's programs compute the same slot: their tree run as JavaScript at every edge", () => {
  for (const file of ["io_syscalls.bt", "io_uring.bt"]) {
    const text = Deno.readTextFileSync(new URL(`../../probes/${file}`, import.meta.url));
    assert(text.includes(`$b = ${SLOTS - 1};`), `${file}: the last slot`);
    assert(text.includes("$m = $d << (62 - $e);"), file);
    const constants = [...text.matchAll(/if \(\$m > (\d+)\)/g)].map((m) => BigInt(m[1]!));
    assertEquals([...constants].sort((x, y) => x < y ? -1 : 1), [...SLOT_THRESHOLDS], file);
    // The search itself, from `$b = $e * 16 + 1;` to the end of its block,
    // as BigInt JavaScript (the same if/else and += syntax).
    const start = text.indexOf("$b = $e * 16 + 1;");
    const indent = text.lastIndexOf("\n", start);
    const close = text.indexOf(`\n${" ".repeat(start - indent - 3)}}`, start);
    const body = text.slice(start, close).replace(/\/\/.*$/gm, "").replaceAll("$", "")
      .replace(/(\d+)/g, "$1n");
    const slotOf = new Function("m", "e", `let b; ${body}; return b;`) as (
      m: bigint,
      e: bigint,
    ) => bigint;
    for (let s = 1; s < SLOTS - 1; s++) {
      const [low, high] = bucketBounds(s);
      for (const v of [low, high - 1]) {
        if (v < 1 || high <= low) continue;
        const k = BigInt(v.toString(2).length - 1);
        assertEquals(Number(slotOf(BigInt(v) << (62n - k), k)), bucketIndex(v), `${file}: ${v}`);
      }
    }
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

Deno.test("quantiles of uniform data are within one bucket width (4.43%) of the exact ones", () => {
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
    // Within one bucket: 2^(1/16) - 1 = 4.43%.
    assert(Math.abs(got - exact) / exact < 0.0443, `q${q}: ${got} vs ${exact}`);
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
