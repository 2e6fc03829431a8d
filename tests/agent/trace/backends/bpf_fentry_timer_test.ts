// fentry/fexit and raw tracepoints time the same calls alike: the same
// workload traced each way, alternating, three runs each, the readv P50's
// bucket compared by medians, within one bucket. The workload's calls are
// set by a timer (tests/_helpers/workloads/timer_waits.ts: readv of a
// periodic timerfd, PERIOD_US apart), so a call lasts about the period less
// the workload's own time between calls: under QEMU's TCG (tests/kernels/,
// 10-30x slower) that time is still small next to a bucket at 10 ms (1/16 of
// 8 ms: 0.5 ms wide), where dd's microsecond calls moved by up to 5 buckets
// between runs of one path (bpf_test.ts). Runs where the kernel loads fentry
// (Debian's 6.1 and 6.12 in `deno task test:kernels`); says so elsewhere.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { startWorkload, tmpDir } from "../../../_helpers/common.ts";
import { bpfAttachPlan, startBpf } from "../../../../agent/trace/backends/bpf.ts";

const PERIOD_US = 10_000;
const CALLS = 100;
const PLAN = bpfAttachPlan();

/** The bucket holding the P50 of a histogram (bucket index to count). */
function p50Bucket(hist: Map<number, number>): number {
  const total = [...hist.values()].reduce((s, n) => s + n, 0);
  let seen = 0;
  for (const [bucket, n] of [...hist.entries()].sort((a, b) => a[0] - b[0])) {
    seen += n;
    if (seen >= total / 2) return bucket;
  }
  return -1;
}

/** One run: the timer workload traced with an attach kind; readv's P50 bucket. */
async function timedRun(attach: "fentry" | "raw_tp"): Promise<number> {
  await using dir = tmpDir();
  await using w = await startWorkload("timer_waits.ts", [
    `${dir.path}/own.json`,
    String(PERIOD_US),
    String(CALLS),
  ]);
  const backend = startBpf({ pids: [w.pid], attach });
  let snap: Awaited<ReturnType<typeof backend.stop>>;
  try {
    assertEquals(backend.attach.kind, attach);
    await w.go();
    assert((await w.child.status).success, "the workload ran");
  } finally {
    snap = await backend.stop();
  }
  const readv = snap.syscalls.get("readv");
  assertEquals([readv?.count, readv?.errors], [CALLS, 0], `${attach}: every readv, once`);
  return p50Bucket(readv!.hist);
}

Deno.test({
  name: "bpf: fentry and raw_tp time a timer-set readv alike: median P50 buckets within one",
  ignore: PLAN.kind !== "fentry",
  async fn() {
    const runs = { fentry: [] as number[], raw_tp: [] as number[] };
    for (let i = 0; i < 3; i++) {
      for (const attach of ["fentry", "raw_tp"] as const) runs[attach].push(await timedRun(attach));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    console.error(`readv P50 buckets: fentry ${runs.fentry}, raw_tp ${runs.raw_tp}`);
    const [f, r] = [median(runs.fentry), median(runs.raw_tp)];
    assert(Math.abs(f - r) <= 1, `readv median P50 bucket ${f} (fentry) vs ${r} (raw_tp)`);
  },
});
if (PLAN.kind !== "fentry") {
  console.error(
    `bpf_fentry_timer_test: fentry is not compared with raw_tp on this kernel (${
      PLAN.reasons.find((r) => r.kind === "fentry")?.reason
    }); deno task test:kernels runs it on Debian 6.1 and 6.12`,
  );
}
