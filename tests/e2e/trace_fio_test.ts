// Accuracy against an independent reference: fio's own completion latency and
// I/O count for the same work. fio runs its job in a thread (--thread) after a
// start delay, so the trace of its PID covers every one of its I/Os.
import { assert, assertWithin } from "../_helpers/assert.ts";
import { spawnCli, tmpDir } from "../_helpers/common.ts";
import {
  assertCountOrLost,
  assertDurationCovers,
  assertTailKept,
  shmDir,
} from "../_helpers/fio.ts";
import type { RunDocument } from "../../schema/mod.ts";

interface FioRead {
  total_ios: number;
  iops: number;
  runtime: number;
  clat_ns: { percentile: Record<string, number> };
}

async function traceFio(dir: string, extra: string[]): Promise<{ fio: FioRead; run: RunDocument }> {
  const file = `${dir}/fio.dat`;
  // Lay the file out and leave it in the page cache.
  Deno.writeFileSync(file, new Uint8Array(64 << 20).fill(1));
  const fio = new Deno.Command("fio", {
    args: [
      "--name=acc",
      `--filename=${file}`,
      "--size=64M",
      "--rw=randread",
      "--bs=4k",
      "--ioengine=psync",
      "--thread",
      "--startdelay=2",
      "--time_based",
      "--runtime=3",
      "--output-format=json",
      `--output=${dir}/fio.json`,
      ...extra,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  const trace = spawnCli(["trace", "--pid", String(fio.pid), "--json", `${dir}/run.json`]);
  await trace.waitForStderr("Tracing pid", 30_000);
  // Attached before fio's first read (its start delay): every read is in the trace.
  const attachedS = (performance.now() - started) / 1000;
  const [fioStatus, traced] = await Promise.all([fio.output(), trace.done]);
  const wallS = (performance.now() - started) / 1000;
  assert(fioStatus.success, `fio failed: ${new TextDecoder().decode(fioStatus.stderr)}`);
  assert(traced.code === 0, `trace failed: ${traced.stderr}`);
  assert(attachedS < 2 - 0.2, `attaching took ${attachedS.toFixed(1)} s; fio started at 2 s`);
  const fioDoc = JSON.parse(Deno.readTextFileSync(`${dir}/fio.json`));
  const run: RunDocument = JSON.parse(Deno.readTextFileSync(`${dir}/run.json`));
  assertDurationCovers(run, fioDoc.jobs[0].read, wallS, "trace");
  return { fio: fioDoc.jobs[0].read, run };
}

Deno.test("fio psync on a page-cached file: pread64 count exact, duration holds fio's runtime, percentiles bracket its clat", async () => {
  // Page-cached: in /dev/shm, since reclaim here evicts a disk file's pages mid-run.
  await using dir = shmDir();
  const { fio, run } = await traceFio(dir.path, ["--invalidate=0"]);
  const s = run.syscalls.pread64;
  assert(s, "pread64 traced");
  assert(run.meta.target_exited, "the trace ended with fio");
  // Every read traced (before, 1% was allowed); the rate's duration is held by traceFio.
  assertCountOrLost(s.count, run.meta.lost_events, fio.total_ios, "pread64 vs fio total_ios");
  const p50 = fio.clat_ns.percentile["50.000000"] ?? 0;
  const p99 = fio.clat_ns.percentile["99.000000"] ?? 0;
  // A syscall tracepoint sees the call from kernel entry to exit; fio's clat
  // also holds the user/kernel transitions (a null syscall's round trip is
  // 1.07-1.41 us on this VM: `perf bench syscall basic`), fio's clock reads and
  // the probes' cost outside the window: ours is never above fio's. From below:
  // the cheaper the probes, the less of their cost lands in fio's clock, so
  // ours is a smaller share of it: bpftrace 0.51-0.75, the bpf backend
  // 0.37-0.38 (929/2512, 932/2480, 934 ns; fio's untraced P50 2128-3216 ns
  // moves by a third within seconds here). An estimate of the untraced kernel
  // window (fio's untraced P50 less the null round trip) came out 1.0-2.0 us
  // run to run and failed 1 in 3: too unsteady for a bound. The floor is 0.3
  // of fio's: it still fails a tracer that loses the body of the call.
  for (const [ours, theirs, what] of [[s.p50_ns, p50, "P50"], [s.p99_ns, p99, "P99"]] as const) {
    assert(ours <= theirs * 1.07, `${what} ${ours} ns above fio's ${theirs} ns`);
  }
  assert(s.p50_ns >= p50 * 0.3, `P50 ${s.p50_ns} ns far below fio's ${p50} ns`);
  assertTailKept(s.p50_ns, s.p99_ns, fio);
});

Deno.test("fio psync O_DIRECT reads: pread64 P50 and P99 within 10% of fio's clat, count exact", async () => {
  await using dir = tmpDir();
  const { fio, run } = await traceFio(dir.path, ["--direct=1"]);
  const s = run.syscalls.pread64;
  assert(s, "pread64 traced");
  assertCountOrLost(s.count, run.meta.lost_events, fio.total_ios, "pread64 vs fio total_ios");
  assertWithin(s.p50_ns, fio.clat_ns.percentile["50.000000"] ?? 0, 0.10, "P50 vs fio clat P50");
  assertWithin(s.p99_ns, fio.clat_ns.percentile["99.000000"] ?? 0, 0.10, "P99 vs fio clat P99");
});
