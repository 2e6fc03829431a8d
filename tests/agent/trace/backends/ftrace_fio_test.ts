// The ftrace backend against an independent reference: fio's own completion
// latency and I/O count for the same work, psync randread 4k at 3000 IOPS.
// fio runs its job in a thread (--thread) after a start delay, so the trace
// of its PID covers every one of its reads; the trace ends when fio exits.
import { assert, assertEquals, assertWithin } from "../../../_helpers/assert.ts";
import {
  assertCountOrLost,
  assertTailKept,
  diskDir,
  type FioRead,
  shmDir,
  traceFio,
} from "../../../_helpers/fio.ts";
import type { RunDocument } from "../../../../schema/mod.ts";

/** fio psync randread 4k at 3000 IOPS for 3 s, traced by each backend given. */
async function tracePsync(
  dir: string,
  backends: ("bpf" | "bpftrace" | "ftrace")[],
  options: { direct: boolean; startDelayS: number; ordered?: boolean },
): Promise<{ fio: FioRead; runs: Map<string, RunDocument> }> {
  const file = `${dir}/fio.dat`;
  // Lay the file out: in /dev/shm (shmDir) when the reads are meant to be page-cached.
  Deno.writeFileSync(file, new Uint8Array(64 << 20).fill(1));
  return await traceFio(
    dir,
    [
      "fio",
      "--name=psync",
      `--filename=${file}`,
      "--size=64M",
      "--rw=randread",
      "--bs=4k",
      "--ioengine=psync",
      options.direct ? "--direct=1" : "--invalidate=0",
      "--rate_iops=3000",
      "--thread",
      `--startdelay=${options.startDelayS}`,
      "--time_based",
      "--runtime=3",
      "--output-format=json",
      `--output=${dir}/fio.json`,
    ],
    backends,
    options.startDelayS,
    options.ordered,
  );
}

function pread64(run: RunDocument | undefined, backend: string) {
  assert(run, `${backend} run`);
  const s = run.syscalls.pread64;
  assert(s, `${backend}: pread64 traced`);
  assertEquals(run.meta.target_exited, true, `${backend}: ended with fio`);
  return { s, lost: run.meta.lost_events };
}

// The same tolerances for the bpf backend as for ftrace (bpftrace's are in
// tests/e2e/trace_fio_test.ts).
for (const backend of ["ftrace", "bpf"] as const) {
  Deno.test(`${backend}, fio psync O_DIRECT at 3000 IOPS: pread64 count exact (or short by no more than the events lost), P50/P99 within 20% of its clat`, async () => {
    await using dir = diskDir();
    const { fio, runs } = await tracePsync(dir.path, [backend], { direct: true, startDelayS: 1.5 });
    const { s, lost } = pread64(runs.get(backend), backend);
    // Lost events are not calls: none lost and the count exact, or short by at most those lost.
    assertCountOrLost(s.count, lost, fio.total_ios, `${backend} pread64`);
    // The rate is count / duration_s: traceFio holds duration_s between fio's
    // runtime and the agent's life (before, the rate divided by fio's runtime
    // and matched fio's IOPS by construction once the count was exact).
    assertEquals(s.bytes, s.count * 4096, "4 KiB a read");
    assertWithin(s.p50_ns, fio.clat_ns.percentile["50.000000"] ?? 0, 0.20, "P50 vs fio clat P50");
    assertWithin(s.p99_ns, fio.clat_ns.percentile["99.000000"] ?? 0, 0.20, "P99 vs fio clat P99");
  });

  Deno.test(`${backend}, fio psync page-cached at 3000 IOPS: count exact, nothing lost, percentiles within fio's clat and the tail kept`, async () => {
    await using dir = shmDir();
    const { fio, runs } = await tracePsync(dir.path, [backend], {
      direct: false,
      startDelayS: 1.5,
    });
    const { s, lost } = pread64(runs.get(backend), backend);
    assertEquals(lost, 0, "the reader kept up");
    assertCountOrLost(s.count, lost, fio.total_ios, `${backend} pread64`);
    // A 3 us cached read: fio's clat also holds the user/kernel transitions and
    // its own clock reads, a microsecond or two that the syscall tracepoints do
    // not see (ours is 0.6-0.9 of fio's on this VM, as with bpftrace).
    // fio's P99 also holds the times fio was preempted between its clock read
    // and the syscall (the reader shares the 2 CPUs): it can be several times
    // ours: the P99's floor comes from fio's P95 (assertTailKept says how).
    for (const [ours, q] of [[s.p50_ns, "50.000000"], [s.p99_ns, "99.000000"]] as const) {
      const theirs = fio.clat_ns.percentile[q] ?? 0;
      assert(ours <= theirs * 1.07, `P${q.slice(0, 2)} ${ours} ns above fio's ${theirs} ns`);
    }
    const fioP50 = fio.clat_ns.percentile["50.000000"] ?? 0;
    assert(s.p50_ns >= fioP50 * 0.45, `P50 ${s.p50_ns} ns far below fio's ${fioP50} ns`);
    assertTailKept(s.p50_ns, s.p99_ns, fio);
  });
}

// Three tracers on one tracepoint: each times a part of the others' probes,
// in the order they attached, so their microsecond latencies differ by what
// those probes cost, which no model accounts for soundly (issue 19: the
// kernel's per-program run time averaged over every call on the host, merged
// programs of one name and left the wrappers out; with it, bpf could read
// -0.35 to +1.65 us from bpftrace and pass). Counts, bytes and errors are the
// same whatever the order; latencies are each backend's alone, against fio
// above and against a timer in timer_agree_test.ts.
Deno.test("bpf, bpftrace and ftrace tracing one fio psync run at once: pread64 counts, bytes and errors exact", async () => {
  await using dir = shmDir();
  const { fio, runs } = await tracePsync(dir.path, ["ftrace", "bpf", "bpftrace"], {
    direct: false,
    startDelayS: 3.5,
    ordered: true,
  });
  const b = pread64(runs.get("bpftrace"), "bpftrace").s;
  const f = pread64(runs.get("ftrace"), "ftrace");
  const o = pread64(runs.get("bpf"), "bpf");
  assertEquals(b.count, fio.total_ios, "bpftrace count");
  assertEquals([o.s.count, o.lost], [fio.total_ios, 0], "bpf count, nothing lost");
  assertEquals([o.s.bytes, o.s.errors], [b.bytes, b.errors], "bpf bytes and errors");
  assertCountOrLost(f.s.count, f.lost, fio.total_ios, "ftrace pread64");
  assertEquals(f.s.bytes, b.bytes, "bytes");
  assertEquals(f.s.errors, b.errors, "errors");
  assertEquals(b.bytes, fio.total_ios * 4096, "4 KiB a read");
});
