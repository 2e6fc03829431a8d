import { assert, assertEquals } from "../../_helpers/assert.ts";
import { histDelta, intervalDocument, p99BySyscall } from "../../../agent/trace/_interval.ts";
import { bucketBounds, bucketIndex, quantile, toBuckets } from "../../../schema/buckets.ts";
import {
  cloneSnapshot,
  emptyOpTotals,
  emptySnapshot,
  type Snapshot,
} from "../../../probes/snapshot.ts";

/** Adds calls of the given latencies to a cumulative snapshot, as a backend would. */
function record(s: Snapshot, name: string, latencies: number[], bytesEach = 0): void {
  const op = s.syscalls.get(name) ?? emptyOpTotals();
  for (const ns of latencies) {
    op.count++;
    op.bytes += bytesEach;
    op.total_ns += ns;
    op.max_ns = Math.max(op.max_ns, ns);
    const i = bucketIndex(ns);
    op.hist.set(i, (op.hist.get(i) ?? 0) + 1);
  }
  s.syscalls.set(name, op);
}

const info = { tS: 2, seconds: 1, pids: [7], comm: "w", backend: "ftrace" };

Deno.test("histDelta keeps only the buckets that grew, by how much they grew", () => {
  const d = histDelta(new Map([[1, 4], [2, 9]]), new Map([[1, 4], [2, 12], [3, 1]]));
  assertEquals([...d], [[2, 3], [3, 1]]);
  assertEquals([...histDelta(undefined, new Map([[5, 2]]))], [[5, 2]]);
});

Deno.test("an interval's P99 is the P99 of that interval's calls alone, not of the whole trace", () => {
  // First second: 10 000 fast calls (1 us). Second second: 1 000 calls, 1% of them at 500 us.
  const first = emptySnapshot();
  record(first, "pread64", Array.from({ length: 10_000 }, () => 1_000), 4096);
  const second = cloneSnapshot(first);
  const slow = Array.from({ length: 1_000 }, (_, i) => (i % 100 === 99 ? 500_000 : 2_000));
  record(second, "pread64", slow, 4096);

  const doc = intervalDocument(first, second, info);
  const op = doc.syscalls.pread64;
  assert(op, "pread64 in the interval");
  // Exactly what a histogram of the second's calls alone says.
  const alone = new Map<number, number>();
  for (const ns of slow) alone.set(bucketIndex(ns), (alone.get(bucketIndex(ns)) ?? 0) + 1);
  assertEquals(op.p99_ns, Math.round(quantile(toBuckets(alone), 0.99)));
  assertEquals(op.p50_ns, Math.round(quantile(toBuckets(alone), 0.5)));
  assertEquals(op.calls, 1_000);
  assertEquals(op.bytes_per_s, 4096 * 1_000);
  // The cumulative P99 hides the slow tail (11 000 calls, 10 slow: under 1%).
  const cumulative = intervalDocument(emptySnapshot(), second, { ...info, seconds: 2 });
  assert(cumulative.syscalls.pread64!.p99_ns < 3_000, "the whole trace's P99 is a fast call");
  const [low2, high2] = bucketBounds(bucketIndex(2_000));
  assert(op.p99_ns >= low2 && op.p99_ns <= high2, `P99 ${op.p99_ns} in 2 us's bucket`);
});

Deno.test("rates divide by the interval's length; idle syscalls and counters are left out", () => {
  const a = emptySnapshot();
  record(a, "read", [100, 100]);
  record(a, "write", [100]);
  a.faults = 10;
  a.voluntary = 3;
  a.tlb.set("task_switch", 4);
  const b = cloneSnapshot(a);
  record(b, "read", [200, 200, 200, 200]);
  b.faults = 30;
  b.voluntary = 7;
  b.involuntary = 2;
  b.tlb.set("task_switch", 10);
  b.lostEvents = 5;
  b.mapFull = 2;
  const doc = intervalDocument(a, b, { ...info, seconds: 2 });
  assertEquals(Object.keys(doc.syscalls), ["read"], "write made no call in the interval");
  assertEquals(doc.syscalls.read!.calls_per_s, 2);
  assertEquals(doc.syscalls.read!.total_ns, 800);
  assertEquals(
    [doc.faults_per_s, doc.switches_per_s, doc.tlb_flushes_per_s, doc.lost_events, doc.map_full],
    [10, 3, 3, 5, 2],
  );
  b.tlbSupported = false;
  assertEquals(intervalDocument(a, b, info).tlb_flushes_per_s, null);
});

Deno.test("p99BySyscall gives each syscall's P99 of the second, leaving idle ones out", () => {
  const a = emptySnapshot();
  record(a, "read", [100_000]);
  record(a, "write", [100]);
  const b = cloneSnapshot(a);
  record(b, "read", Array.from({ length: 100 }, () => 1_000));
  assertEquals(Object.keys(p99BySyscall(a, b)), ["read"]);
  const p99 = p99BySyscall(a, b).read!;
  const [low1, high1] = bucketBounds(bucketIndex(1_000));
  assert(p99 >= low1 && p99 <= high1, `P99 ${p99} inside 1 us's bucket, not 100 us`);
});

Deno.test("an interval carries what the trace cannot measure, as the Run lists it", () => {
  const unsupported = [{ metric: "tlb.flushes", reason: "no tlb:tlb_flush tracepoint" }];
  const doc = intervalDocument(emptySnapshot(), emptySnapshot(), { ...info, unsupported });
  assertEquals(doc.unsupported, unsupported);
  assert(doc.unsupported[0] !== unsupported[0], "a copy, not the session's own list");
  assertEquals(intervalDocument(emptySnapshot(), emptySnapshot(), info).unsupported, []);
});
