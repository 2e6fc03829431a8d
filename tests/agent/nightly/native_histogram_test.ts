// The conversion of a Run's buckets to schema-4 native histograms: exact for
// the schema-4 buckets Runs now keep (synthetic buckets built from the
// bounds the interface fixes), within the stated bound for the older
// log-linear ones (the recorded fixture tests/testdata/run_fio_psync.json),
// and the sparse forms Prometheus (spans, deltas) and OTLP (offset, dense
// counts) read.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  nativeBoundsNs,
  nativeIndexOfNs,
  otlpBuckets,
  spansAndDeltas,
  toNative,
} from "../../../agent/nightly/_native_histogram.ts";
import type { Bucket } from "../../../schema/mod.ts";
import {
  bucketBounds,
  bucketIndex,
  quantile,
  SLOT_ONE_NATIVE,
  SLOTS,
} from "../../../schema/buckets.ts";
import { readRun } from "../../_helpers/documents.ts";

const FIXTURE = new URL("../../testdata/run_fio_psync.json", import.meta.url);

/** Prometheus' histogram_quantile on a native histogram (exponential interpolation). */
function nativeQuantile(q: number, h: ReturnType<typeof toNative>): number {
  const rank = q * h.count;
  let seen = h.zeroCount;
  if (seen >= rank) return 0;
  for (const [i, n] of h.buckets) {
    if (seen + n >= rank) {
      const lo = 2 ** ((i - 1) / 16);
      const hi = 2 ** (i / 16);
      return lo * (hi / lo) ** ((rank - seen) / n);
    }
    seen += n;
  }
  return 2 ** ((h.buckets[h.buckets.length - 1]?.[0] ?? 0) / 16);
}

Deno.test("native bucket bounds: integer ns, adjacent, 16 per power of two, 2^k s exact", () => {
  for (let i = -500; i < 100; i++) {
    const [lo, hi] = nativeBoundsNs(i);
    assertEquals(nativeBoundsNs(i + 1)[0], hi, `bucket ${i + 1} starts where ${i} ends`);
    assert(hi >= lo, `bucket ${i}`);
    // Below ~23 ns a native bucket is under 1 ns wide: some hold no integer, and are empty.
    if (hi > lo && lo >= 1) {
      assertEquals(nativeIndexOfNs(hi - 1), i, `last value of ${i}`);
      assertEquals(nativeIndexOfNs(lo), i, `first value of ${i}`);
    }
  }
  // 1 s is the top of bucket 0, 2 s of bucket 16, 1 us of bucket -16*log2(1e6) rounded up.
  assertEquals(nativeBoundsNs(0)[1], 1e9 + 1);
  assertEquals(nativeBoundsNs(16)[1], 2e9 + 1);
  assertEquals(nativeIndexOfNs(1000), Math.ceil(16 * Math.log2(1e-6)));
});

Deno.test("schema-4 buckets convert exactly: every count in its own native bucket", () => {
  const buckets: Bucket[] = [[0, 1, 7]];
  const want: [number, number][] = [];
  for (let i = -330; i < -200; i += 3) {
    const n = 1 + ((i * 7919) >>> 0) % 1000;
    buckets.push([...nativeBoundsNs(i), n]);
    want.push([i, n]);
  }
  const h = toNative(buckets, 12345);
  assert(h.exact, "schema-4 input is exact");
  assertEquals(h.zeroCount, 7);
  assertEquals(h.buckets, want);
  assertEquals(h.count, buckets.reduce((s, b) => s + b[2], 0));
  assertEquals(h.sum, 12345 / 1e9);
});

Deno.test("old log-linear buckets: counts kept, each call counted at most one old bucket high", () => {
  const run = readRun(FIXTURE);
  for (const [name, s] of Object.entries(run.syscalls)) {
    const h = toNative(s.buckets, s.total_ns);
    const total = s.buckets.reduce((a, b) => a + b[2], 0);
    assertEquals(h.count, total, `${name}: every call kept`);
    for (const [low, high] of s.buckets) {
      if (high <= 1) continue;
      const [nlo, nhi] = nativeBoundsNs(nativeIndexOfNs(high - 1));
      // The native bucket holds the old one's top value, and starts at most one old bucket below it.
      assert(nlo <= high - 1 && nhi >= high, `${name} [${low}, ${high})`);
      assert(nlo >= low - (high - low), `${name} [${low}, ${high}) -> [${nlo}, ${nhi})`);
    }
    if (total >= 1000) {
      // The stated bound: one old bucket (6.25%) plus one native bucket (4.4%).
      const ours = quantile(s.buckets, 0.99);
      const theirs = nativeQuantile(0.99, h) * 1e9;
      const off = Math.abs(theirs - ours) / ours;
      assert(off <= 0.0625 + 0.0443, `${name} P99 ${theirs} vs ${ours}: ${off}`);
    }
  }
});

Deno.test("Prometheus spans and deltas, OTLP offset and dense counts", () => {
  assertEquals(spansAndDeltas([]), { spans: [{ offset: 0, length: 0 }], deltas: [] });
  assertEquals(spansAndDeltas([[-10, 3], [-9, 5], [-5, 5], [2, 1]]), {
    spans: [{ offset: -10, length: 2 }, { offset: 3, length: 1 }, { offset: 6, length: 1 }],
    deltas: [3, 2, 0, -4],
  });
  assertEquals(otlpBuckets([[-10, 3], [-8, 5]]), { offset: -11, bucketCounts: [3, 0, 5] });
  assertEquals(otlpBuckets([]), { offset: 0, bucketCounts: [] });
});

Deno.test("past 2^48 ns a duration is in the programs' last slot, as the kernel counts it, with that slot's bounds", () => {
  const last = SLOTS - 1;
  const lastNative = last - 1 + SLOT_ONE_NATIVE;
  // 4 and 13 days: the bpf programs count both in their last slot (bucketIndex clamps the same).
  for (const ns of [2 ** 48 + 1, 4 * 86_400e9, 13 * 86_400e9]) {
    assertEquals(bucketIndex(ns), last);
    assertEquals(nativeIndexOfNs(ns), lastNative, `${ns} ns`);
  }
  assertEquals(nativeBoundsNs(lastNative), bucketBounds(last));
  assertEquals(nativeBoundsNs(lastNative + 40), bucketBounds(last), "clamped, never extrapolated");
  // An old (log-linear) Run's bucket up there lands in the same native bucket.
  const h = toNative([[2 ** 49, 2 ** 49 + 2 ** 45, 3]], 0);
  assertEquals(h.buckets, [[lastNative, 3]]);
  // Below 1 ns a native bucket holds no whole nanosecond.
  assertEquals(nativeBoundsNs(SLOT_ONE_NATIVE - 1), [1, 1]);
  assertEquals(nativeBoundsNs(SLOT_ONE_NATIVE), bucketBounds(1));
});
