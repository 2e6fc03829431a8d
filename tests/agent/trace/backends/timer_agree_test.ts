// Each backend alone against calls whose latency a timer sets (readv of a
// periodic timerfd, 3 ms), timed by the workload itself around each call
// (tests/_helpers/workloads/timer_waits.ts). Two tracers on one tracepoint
// time part of each other's probes, in an order set by when each attached;
// at a microsecond a call that is a large share, and no accounting of it is
// sound (issue 19). At milliseconds it vanishes: what the workload's clock
// holds beyond the kernel's part (transitions, FFI, probes) is microseconds,
// under the bucket width (1/16 of the power of two: 131 us at 2-4 ms). So
// each backend's P50 and P99 must match the workload's own within one bucket
// width of ours, plus those microseconds; count, bytes and errors exactly.
// Running both attach orders instead and averaging the two differences
// leaves half of what one tracer's probes take a call less the other's
// (bpftrace's exit program alone is 630-1380 ns a call here), more than a
// bucket of a microsecond call: no bound without a model.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { leftovers, spawnCli, startWorkload, tmpDir } from "../../../_helpers/common.ts";
import { bucketBounds, bucketIndex } from "../../../../schema/buckets.ts";
import type { RunDocument } from "../../../../schema/mod.ts";

const CALLS = 400;

/** The workload's own percentile: the smallest duration with q of the calls at or below it. */
function ownPercentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

for (const backend of ["bpf", "bpftrace", "ftrace"] as const) {
  Deno.test(`${backend} alone, readv of a 3 ms timer: count, bytes and errors exact, P50 and P99 within a bucket of the workload's own`, async () => {
    await using dir = tmpDir();
    const own = `${dir.path}/own.json`;
    await using w = await startWorkload("timer_waits.ts", [own, "3000", String(CALLS)]);
    const cli = spawnCli([
      "trace",
      "--pid",
      String(w.pid),
      "--backend",
      backend,
      "--json",
      `${dir.path}/run.json`,
    ]);
    await cli.waitForStderr("Tracing pid", 30_000);
    await w.go();
    assert((await w.child.status).success, "the workload ran");
    const result = await cli.done;
    assertEquals(result.code, 0, result.stderr);
    assertEquals(leftovers(cli.child.pid), [], backend);
    const run: RunDocument = JSON.parse(Deno.readTextFileSync(`${dir.path}/run.json`));
    const s = run.syscalls.readv;
    assert(s, "readv traced");
    assertEquals([s.count, s.bytes, s.errors, run.meta.lost_events], [CALLS, CALLS * 8, 0, 0]);
    const sorted = (JSON.parse(Deno.readTextFileSync(own)) as number[]).sort((a, b) => a - b);
    assertEquals(sorted.length, CALLS);
    for (const [q, ours] of [[0.5, s.p50_ns], [0.99, s.p99_ns]] as const) {
      const theirs = ownPercentile(sorted, q);
      const [low, high] = bucketBounds(bucketIndex(ours));
      assert(
        Math.abs(ours - theirs) <= high - low + 20_000,
        `P${q * 100} ${ours} ns, the workload's own ${theirs} ns: over a bucket (${
          high - low
        } ns) and 20 us apart`,
      );
    }
  });
}
