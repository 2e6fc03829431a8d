// io_uring request latency against an independent reference: fio's own I/O
// count and latency for the same requests (fio --ioengine=io_uring
// --direct=1 --rw=randread --bs=4k). fio starts its job after a delay, so the
// tracers attach before its first request and see every one until it exits.
//
// What fio's figures hold, per request: clat runs from just after the
// io_uring_enter() that submitted it returns to when fio reaps its CQE; lat
// (total) from fio preparing it to reaping it. Ours runs from
// io_uring_submit_req (inside that io_uring_enter, before the request goes
// to the device) to io_uring_complete (its CQE posted). So ours lies inside
// fio's lat, always; at iodepth 1 (fio waits for each CQE) it is lat less
// fio's own bookkeeping; at iodepth 4 it is also shorter than clat by the
// time a posted CQE waits while fio finishes submitting the next requests.
import * as fs from "node:fs";
import { assert, assertEquals, assertWithin } from "../../../_helpers/assert.ts";
import { assertCountOrLost, diskDir, type FioRead, traceFio } from "../../../_helpers/fio.ts";
import type { IoUringOpStats, RunDocument } from "../../../../schema/mod.ts";

/** Fails, saying so, when the filesystem refuses O_DIRECT. */
function assertDirectIo(file: string): void {
  let fd = -1;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_DIRECT);
  } catch (e: unknown) {
    throw new Error(
      `O_DIRECT is refused on ${file} (${(e as Error).message}): use a disk filesystem`,
    );
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

const p = (fio: FioRead, which: "clat_ns" | "lat_ns", q: "1" | "50" | "99") =>
  fio[which].percentile[`${q}.000000`] ?? 0;

/** Runs fio io_uring while the backends trace it (all attached before its first I/O). */
async function traceFioUring(
  dir: string,
  backends: ("bpf" | "bpftrace" | "ftrace")[],
  options: { iodepth: number; startDelayS: number },
): Promise<{ fio: FioRead; runs: Map<string, RunDocument> }> {
  const file = `${dir}/fio.dat`;
  Deno.writeFileSync(file, new Uint8Array(64 << 20).fill(1));
  assertDirectIo(file);
  // At nice -20 fio is rarely kept off a CPU by other work on a busy host.
  return await traceFio(
    dir,
    [
      "nice",
      "-n",
      "-20",
      "fio",
      "--name=uring",
      `--filename=${file}`,
      "--size=64M",
      "--rw=randread",
      "--bs=4k",
      "--ioengine=io_uring",
      "--direct=1",
      `--iodepth=${options.iodepth}`,
      "--thread",
      `--startdelay=${options.startDelayS}`,
      "--time_based",
      "--runtime=2",
      "--lat_percentiles=1",
      "--output-format=json",
      `--output=${dir}/fio.json`,
    ],
    backends,
    options.startDelayS,
  );
}

function readOp(
  run: RunDocument | undefined,
  backend: string,
): { op: IoUringOpStats; lost: number } {
  assert(run, `${backend} run`);
  const op = run.io_uring.READ;
  assert(op, `${backend}: io_uring READ traced`);
  assertEquals(run.meta.target_exited, true, `${backend}: ended with fio`);
  assertEquals(op.errors, 0, `${backend}: no errors`);
  assertEquals(op.bytes, op.count * 4096, `${backend}: 4 KiB a read`);
  // The I/O goes through io_uring_enter; no read syscall carries the data.
  assert((run.syscalls.io_uring_enter?.count ?? 0) > 0, `${backend}: io_uring_enter seen`);
  assertEquals(run.syscalls.pread64, undefined, `${backend}: no pread64`);
  return { op, lost: run.meta.lost_events };
}

Deno.test("fio io_uring iodepth 4, bpf, bpftrace and ftrace at once: every READ counted, rate within 5% of fio's IOPS, latencies within fio's, backends agree", async () => {
  await using dir = diskDir();
  const { fio, runs } = await traceFioUring(dir.path, ["bpf", "bpftrace", "ftrace"], {
    iodepth: 4,
    // Three tracers start at once: bpftrace alone attaches in 2.7 s here (its program
    // grew with the counting window and exit tracking), 3.6-4.1 s beside the others.
    startDelayS: 6,
  });
  const ops = new Map<string, IoUringOpStats>();
  for (const backend of ["bpf", "bpftrace", "ftrace"]) {
    const { op, lost } = readOp(runs.get(backend), backend);
    ops.set(backend, op);
    // Lost events are not completions: none lost and the count exact, or short by at most those lost.
    assertCountOrLost(op.count, lost, fio.total_ios, `${backend}: READ completions`);
    assertWithin(
      op.count / (fio.runtime / 1000),
      fio.iops,
      0.05,
      `${backend}: READ rate vs fio IOPS`,
    );
    for (const q of ["50", "99"] as const) {
      const ours = q === "50" ? op.p50_ns : op.p99_ns;
      // Inside fio's total latency (plus bucket width), never above it.
      assert(
        ours <= p(fio, "lat_ns", q) * 1.07,
        `${backend}: P${q} ${ours} ns above fio's lat ${p(fio, "lat_ns", q)} ns`,
      );
    }
    // From below: fio's fastest completions (clat P1) wait least for fio's
    // reap; a tracer that lost the device time would fall under them. The
    // P50 against fio's clat is no bound at depth 4 (see assertDepth4).
    assert(
      op.p50_ns >= p(fio, "clat_ns", "1") * 0.9,
      `${backend}: READ P50 ${op.p50_ns} ns under fio's clat P1 ${p(fio, "clat_ns", "1")} ns`,
    );
  }
  const b = ops.get("bpftrace");
  const f = ops.get("ftrace");
  assert(b && f);
  assertWithin(f.p50_ns, b.p50_ns, 0.10, "ftrace P50 vs bpftrace P50");
  assertWithin(f.p99_ns, b.p99_ns, 0.20, "ftrace P99 vs bpftrace P99");
  const o = ops.get("bpf");
  assert(o);
  // bpf and ftrace both count each request once (bpftrace is issue 13's).
  assertEquals(o.count, f.count, "bpf and ftrace READ counts");
  assertWithin(o.p50_ns, b.p50_ns, 0.10, "bpf P50 vs bpftrace P50");
  assertWithin(o.p99_ns, b.p99_ns, 0.20, "bpf P99 vs bpftrace P99");
});

for (const [backend, delay] of [["bpf", 1.5], ["bpftrace", 4.5], ["ftrace", 1.5]] as const) {
  Deno.test(`${backend}: fio io_uring iodepth 4, READ P50 and P99 within fio's total latency, above its fastest completions`, async () => {
    await using dir = diskDir();
    const { fio, runs } = await traceFioUring(dir.path, [backend], {
      iodepth: 4,
      startDelayS: delay,
    });
    const { op, lost } = readOp(runs.get(backend), backend);
    assertCountOrLost(op.count, lost, fio.total_ios, `${backend}: READ completions`);
    // fio's clat ends when fio reaps the CQE, ours when the kernel posts it: at
    // depth 4 a posted CQE waits while fio submits more or sleeps in
    // io_uring_enter for another, and that wait grows with the device's
    // latency spread. Last session our P50 was 0.99-1.03 and P99 0.86-0.93 of
    // fio's clat (8 runs); in this session's quiet runs the P99 fell to
    // 0.77-0.79 twice, and at 02:47 UTC the P50 to 0.58 (ours 87581 vs fio
    // 150528 ns; 73389 vs 127488) while the virtual disk was slower. A finding,
    // not a fix: fio offers no reap-free completion time, so the bounds are
    // ours never above fio's total latency, and from below fio's clat P1 (its
    // fastest completions, least delayed by the reap). Depth 1 (below) is held
    // to 15% of fio's total latency both ways.
    for (const q of ["50", "99"] as const) {
      const ours = q === "50" ? op.p50_ns : op.p99_ns;
      assert(
        ours <= p(fio, "lat_ns", q) * 1.07,
        `P${q} ${ours} ns above fio's lat ${p(fio, "lat_ns", q)} ns`,
      );
    }
    assert(
      op.p50_ns >= p(fio, "clat_ns", "1") * 0.9,
      `READ P50 ${op.p50_ns} ns under fio's clat P1 ${p(fio, "clat_ns", "1")} ns`,
    );
  });

  Deno.test(`${backend}: fio io_uring iodepth 1, READ P50 and P99 within 15% of fio's total latency`, async () => {
    await using dir = diskDir();
    const { fio, runs } = await traceFioUring(dir.path, [backend], {
      iodepth: 1,
      startDelayS: delay,
    });
    const { op, lost } = readOp(runs.get(backend), backend);
    assertCountOrLost(op.count, lost, fio.total_ios, `${backend}: READ completions`);
    assertWithin(op.p50_ns, p(fio, "lat_ns", "50"), 0.15, "READ P50 vs fio lat P50");
    assertWithin(op.p99_ns, p(fio, "lat_ns", "99"), 0.15, "READ P99 vs fio lat P99");
  });
}
