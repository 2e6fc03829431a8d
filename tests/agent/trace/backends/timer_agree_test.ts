// Each backend alone against calls whose latency a timer sets (readv of a
// periodic timerfd, 3 ms), timed by the workload itself around each call
// (tests/_helpers/workloads/timer_waits.ts). Two tracers on one tracepoint
// time part of each other's probes, in an order set by when each attached;
// at a microsecond a call that is a large share, and no accounting of it is
// sound (issue 19). At milliseconds it vanishes: what the workload's clock
// holds beyond the kernel's part (transitions, FFI, probes) is microseconds,
// under the bucket width (2^(1/16) - 1 = 4.43% of the value: 133 us at 3 ms). So
// each backend's P50 and P99 must match the workload's own within one bucket
// width of ours, plus those microseconds; count, bytes and errors exactly.
// The workload's clock also holds any time it was preempted around the call
// (a full suite's run: the ftrace backend's P99 3276800 ns against the
// workload's 3631327 ns, a readv of a 3 ms timer cannot take longer than
// 3 ms plus its wakeup). The workload flags each call across which its
// involuntary switches moved; such a call's kernel time lies between 0 and
// what the workload measured, so the reference is a range: the percentile
// with those calls at 0, and with them as measured.
// Running both attach orders instead and averaging the two differences
// leaves half of what one tracer's probes take a call less the other's
// (bpftrace's exit program alone is 630-1380 ns a call here), more than a
// bucket of a microsecond call: no bound without a model.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { startWorkload, tmpDir } from "../../../_helpers/common.ts";
import { tracePid } from "../../../_helpers/trace_run.ts";
import { bucketBounds, bucketIndex, quantile, toBuckets } from "../../../../schema/buckets.ts";

const CALLS = 400;

/**
 * The workload's own percentile, read as the Run reads its own: the same
 * buckets and the same interpolation, so that a sparse tail (P99 of 400 calls
 * is the 4th slowest) is ranked alike on both sides.
 */
function ownPercentile(durations: readonly number[], q: number): number {
  const counts = new Map<number, number>();
  for (const d of durations) counts.set(bucketIndex(d), (counts.get(bucketIndex(d)) ?? 0) + 1);
  return Math.round(quantile(toBuckets(counts), q));
}

for (const backend of ["bpf", "bpftrace", "ftrace"] as const) {
  Deno.test(`${backend} alone, readv of a 3 ms timer: count, bytes and errors exact, P50 and P99 within a bucket of the workload's own`, async () => {
    await using dir = tmpDir();
    const own = `${dir.path}/own.json`;
    await using w = await startWorkload("timer_waits.ts", [own, "3000", String(CALLS)]);
    const { run } = await tracePid(w.pid, `${dir.path}/run.json`, {
      backend,
      during: async () => {
        await w.go();
        assert((await w.child.status).success, "the workload ran");
      },
    });
    const s = run.syscalls.readv;
    assert(s, "readv traced");
    assertEquals([s.count, s.bytes, s.errors, run.meta.lost_events], [CALLS, CALLS * 8, 0, 0]);
    const { took, preempted } = JSON.parse(Deno.readTextFileSync(own)) as {
      took: number[];
      preempted: boolean[];
    };
    assertEquals([took.length, preempted.length], [CALLS, CALLS]);
    const measured = took;
    const preemptedAtZero = took.map((t, i) => preempted[i] ? 0 : t);
    const flagged = preempted.filter(Boolean).length;
    for (const [q, ours] of [[0.5, s.p50_ns], [0.99, s.p99_ns]] as const) {
      const upper = ownPercentile(measured, q);
      const lower = ownPercentile(preemptedAtZero, q);
      const [low, high] = bucketBounds(bucketIndex(ours));
      const slack = high - low + 20_000;
      console.log(`${backend} P${q * 100}: ours ${ours} ns, the workload's ${lower}..${upper} ns`);
      assert(
        ours <= upper + slack && ours >= lower - slack,
        `P${q * 100} ${ours} ns outside the workload's own ${lower}..${upper} ns (${flagged} ` +
          `calls preempted) by over a bucket (${high - low} ns) and 20 us`,
      );
    }
  });
}
