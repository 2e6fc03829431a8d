// The Run's time split and block layer from a snapshot (pure), and the slow
// threshold each interval writes into the kernel.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { buildRun } from "../../../agent/trace/run_builder.ts";
import { slowThresholds } from "../../../agent/trace/backends/_bpf_why.ts";
import {
  emptyOpTotals,
  emptySnapshot,
  type OpTotals,
  type Snapshot,
} from "../../../probes/snapshot.ts";
import { type BlockTotals, emptyBlockTotals, emptySplit } from "../../../probes/why_snapshot.ts";
import { bucketBounds, bucketIndex } from "../../../schema/buckets.ts";
import type { RunMeta } from "../../../schema/mod.ts";
import { runOptionsOf } from "../../_helpers/documents.ts";

function meta(backend: RunMeta["backend"]): RunMeta {
  return {
    pid: 1,
    pids: [1],
    comm: "x",
    cmdline: "x",
    host: "h",
    kernel: "k",
    backend,
    started_at: "2026-12-06T00:00:00Z",
    duration_s: 2,
    target_exited: false,
    lost_events: 0,
    unsupported: [],
    end_reason: "duration",
    attach_s: 0,
  };
}

function op(latencies: number[]): OpTotals {
  const t = emptyOpTotals();
  for (const ns of latencies) {
    const i = bucketIndex(ns);
    t.hist.set(i, (t.hist.get(i) ?? 0) + 1);
    t.count++;
    t.total_ns += ns;
  }
  return t;
}

Deno.test("a backend that does not split calls' time writes null with the reason, never 0", () => {
  for (const backend of ["ftrace", "bpftrace"] as const) {
    const s = emptySnapshot();
    s.syscalls.set("pread64", op([1000, 2000]));
    s.io_uring.set("READ", op([5000]));
    const run = buildRun(s, runOptionsOf(meta(backend)));
    assertEquals(run.syscalls.pread64?.time_split, null);
    assertEquals(run.syscalls.pread64?.slow_time_split, null);
    assertEquals(run.io_uring.READ?.time_split, null);
    assertEquals(run.block, null);
    for (const metric of ["time_split", "block", "io_uring.time_split"]) {
      const u = run.meta.unsupported.find((x) => x.metric === metric);
      assert(u && u.reason.length > 10, `${backend}: ${metric} listed with a reason`);
    }
    assertEquals(run.meta.time_split, undefined);
  }
});

/** vda's reads in `s`: 4 of 1 ms each, all the traced processes', with `extra` over them. */
function vdaReads(s: Snapshot, extra: Partial<BlockTotals> = {}): void {
  const read = {
    ...emptyBlockTotals(),
    count: 4,
    bytes: 16384,
    total_ns: 4e6,
    hist: new Map([[bucketIndex(1e6), 4]]),
    ...extra,
  };
  s.block = new Map([["vda", {
    read,
    write: emptyBlockTotals(),
    traced: { read, write: emptyBlockTotals() },
  }]]);
}

Deno.test("the bpf backend's split and block figures reach the Run as measured", () => {
  const s = emptySnapshot();
  s.syscalls.set("pread64", op([1000, 2000]));
  const all = { ...emptySplit(), count: 2, total_ns: 3000, cpu_ns: 500, disk_ns: 2500 };
  s.timeSplit = new Map([["pread64", { all, slow: emptySplit() }]]);
  vdaReads(s);
  const run = buildRun(s, runOptionsOf(meta("bpf")));
  assertEquals(run.syscalls.pread64?.time_split?.disk_ns, 2500);
  assertEquals(run.syscalls.pread64?.slow_time_split?.count, 0, "measured: none slow, not null");
  const vda = run.block?.devices.vda;
  assertEquals(vda?.read.count, 4);
  assertEquals(vda?.read.mean_ns, 1e6);
  assertEquals(vda?.read.in_flight_mean, 0.002, "4 ms in flight over 2 s");
  assert(run.meta.time_split?.includes("previous interval"), run.meta.time_split);
  assert(!run.meta.unsupported.some((u) => u.metric === "time_split"));
});

Deno.test("a block completion no program saw is counted, and left out of the mean latency", () => {
  const s = emptySnapshot();
  vdaReads(s, { count: 5, bytes: 20480, unseen: 1 });
  const vda = buildRun(s, runOptionsOf(meta("bpf"))).block?.devices.vda;
  assertEquals(vda?.read.count, 5);
  assertEquals(vda?.read.unseen, 1);
  assertEquals(vda?.read.mean_ns, 1e6, "4 ms over the 4 timed ones");
  assertEquals(vda?.read.queued, undefined, "no start kept: no queue figures");
});

Deno.test("queue to complete reaches the Run beside issue to complete", () => {
  const s = emptySnapshot();
  const queueHist = new Map([[bucketIndex(1e6), 1], [bucketIndex(3e6), 2]]);
  vdaReads(s, { queue_ns: 7e6, queued: 3, queueHist });
  const read = buildRun(s, runOptionsOf(meta("bpf"))).block?.devices.vda?.read;
  assertEquals(read?.queued?.count, 3);
  assertEquals(read?.queued?.mean_ns, Math.round(7e6 / 3));
  const [lo, hi] = bucketBounds(bucketIndex(3e6));
  const p50 = read?.queued?.p50_ns ?? 0;
  assert(p50 >= lo && p50 <= hi, `median ${p50} in the 3 ms bucket [${lo}, ${hi}]`);
  assertEquals(read?.mean_ns, 1e6, "issue to complete apart");
});

Deno.test("the slow threshold is the low edge of the bucket holding the interval's P99, from the calls of that interval only", () => {
  const before = new Map([["read", op(Array(1000).fill(1_000_000))]]); // an old, slow second
  const fast = [...Array(990).fill(1000), ...Array(10).fill(50_000)];
  const after = new Map([["read", op([...Array(1000).fill(1_000_000), ...fast])]]);
  const t = slowThresholds(before, after);
  // 1% of the interval's calls are 50 us: the P99 is the 990th of 1000, a 1 us call.
  assertEquals(t.get("read"), bucketBounds(bucketIndex(1000))[0]);
  const slower = new Map([[
    "read",
    op([...Array(1000).fill(1_000_000), ...fast, ...Array(20).fill(50_000)]),
  ]]);
  assertEquals(slowThresholds(after, slower).get("read"), bucketBounds(bucketIndex(50_000))[0]);
  assertEquals(slowThresholds(after, after).size, 0, "an idle interval sets nothing");
  assertEquals(slowThresholds(null, new Map([["read", op([])]])).size, 0);
});

Deno.test("an interval's split is the difference of the two cumulative splits; null where not measured", async () => {
  const { intervalDocument } = await import("../../../agent/trace/_interval.ts");
  const info = { tS: 2, seconds: 1, pids: [1], comm: "x", backend: "bpf" };
  const before = emptySnapshot();
  before.syscalls.set("read", op([1000]));
  const at = (other: number) => ({ ...emptySplit(), count: 1, total_ns: other, other_ns: other });
  before.timeSplit = new Map([["read", { all: at(1000), slow: emptySplit() }]]);
  const after = emptySnapshot();
  after.syscalls.set("read", op([1000, 9000]));
  after.timeSplit = new Map([["read", {
    all: { ...at(10_000), count: 2, cpu_ns: 500 },
    slow: emptySplit(),
  }]]);
  const doc = intervalDocument(before, after, info);
  assertEquals(doc.syscalls.read?.time_split?.other_ns, 9000);
  assertEquals(doc.syscalls.read?.time_split?.cpu_ns, 500);
  assertEquals(doc.syscalls.read?.time_split?.count, 1);
  const bare = emptySnapshot();
  bare.syscalls.set("read", op([1000, 9000]));
  const none = intervalDocument(emptySnapshot(), bare, { ...info, backend: "ftrace" });
  assertEquals(none.syscalls.read?.time_split, null);
});

Deno.test("an interval carries its slow calls' split and each device's requests of that interval only", async () => {
  const { intervalDocument } = await import("../../../agent/trace/_interval.ts");
  const info = { tS: 2, seconds: 1, pids: [1], comm: "x", backend: "bpf" };
  const disk = (n: number, ns: number) => ({
    ...emptySplit(),
    count: n,
    total_ns: n * ns,
    disk_ns: n * ns,
  });
  const requests = (latencies: number[], bytes: number) => {
    const t = emptyBlockTotals();
    for (const ns of latencies) {
      const i = bucketIndex(ns);
      t.hist.set(i, (t.hist.get(i) ?? 0) + 1);
      t.count++;
      t.total_ns += ns;
      t.bytes += bytes;
    }
    return t;
  };
  const device = (reads: number[], traced: number[]) => ({
    read: requests(reads, 4096),
    write: emptyBlockTotals(),
    traced: { read: requests(traced, 4096), write: emptyBlockTotals() },
  });
  const before = emptySnapshot();
  before.syscalls.set("pread64", op([100_000]));
  before.timeSplit = new Map([["pread64", { all: disk(1, 100_000), slow: emptySplit() }]]);
  before.block = new Map([["vda", device([90_000], [90_000])], ["sdb", device([5000], [])]]);
  const after = emptySnapshot();
  after.syscalls.set("pread64", op([100_000, 100_000, 2_000_000]));
  after.timeSplit = new Map([["pread64", {
    all: disk(3, 700_000),
    slow: disk(1, 2_000_000),
  }]]);
  after.block = new Map([
    ["vda", device([90_000, 90_000, 1_900_000], [90_000, 90_000, 1_900_000])],
    ["sdb", device([5000], [])],
  ]);
  const doc = intervalDocument(before, after, info);
  assertEquals(doc.syscalls.pread64?.slow_time_split?.count, 1);
  assertEquals(doc.syscalls.pread64?.slow_time_split?.disk_ns, 2_000_000);
  // sdb had no request in the interval: left out; vda's two are the interval's only.
  assertEquals(Object.keys(doc.block ?? {}), ["vda"]);
  const vda = doc.block?.vda?.read;
  assertEquals([vda?.count, vda?.bytes, vda?.traced], [2, 8192, 2]);
  const [low, high] = bucketBounds(bucketIndex(1_900_000));
  assert(vda!.p99_ns >= low && vda!.p99_ns <= high, `p99 ${vda?.p99_ns} in [${low}, ${high}]`);
  assertEquals(doc.block?.vda?.write.count, 0);
  const none = intervalDocument(emptySnapshot(), emptySnapshot(), { ...info, backend: "ftrace" });
  assertEquals(none.block, null, "null where the backend does not measure the block layer");
});
