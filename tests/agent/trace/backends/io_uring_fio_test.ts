// io_uring request latency against independent references for the same
// requests: fio's own count and latency (fio --ioengine=io_uring --direct=1
// --rw=randread --bs=4k), and the block layer's time for each request
// (block_rq_issue -> block_rq_complete, recorded by the test's own tracefs
// instance: tests/_helpers/block_reads.ts). fio starts its job after a delay,
// so the tracers attach before its first request and see every one until it
// exits.
//
// What each figure holds, per request. Ours runs from io_uring_submit_req
// (inside the io_uring_enter that submits it, before it reaches the block
// layer) to io_uring_complete (its CQE posted, after the block layer
// completed it). fio's lat runs from fio preparing the request to fio reaping
// its CQE: it holds ours, always. fio's clat runs from after the submitting
// io_uring_enter returns to the reap: it holds the time a posted CQE waits for
// fio's loop (slowed by every tracer's syscall probes) and misses the submit,
// so it bounds ours neither way. The block layer's time lies inside ours,
// always. So, percentile by percentile: block <= ours <= fio's lat, each
// within its histogram's resolution (ours 2^(1/16) - 1, interpolated in the bucket;
// the block trace's text timestamps are in microseconds).
//
// Before, the floor was fio's clat P1 and depth 1 held ours to 15% of fio's
// lat; on a fresh 2-vCPU VM with a faster disk (P50 26-38 us) that failed
// every time: bpf READ P50 37529 ns under fio's clat P1 55040 ns (three
// tracers at once), bpftrace depth 4 30182 under 36608, bpftrace depth 1
// 25710 ns 16.0% from fio's lat 30592.
import * as fs from "node:fs";
import { assert, assertEquals, assertWithin } from "../../../_helpers/assert.ts";
import { assertCountOrLost, diskDir, type FioRead, traceFio } from "../../../_helpers/fio.ts";
import { blockPercentile, type BlockRead, BlockReads } from "../../../_helpers/block_reads.ts";
import type { IoUringOpStats, RunDocument } from "../../../../schema/mod.ts";
import { BUCKET_WIDTH } from "../../../../schema/buckets.ts";

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

/** fio's total latency (lat) percentile, ns. */
const lat = (fio: FioRead, q: "50" | "99") => fio.lat_ns.percentile[`${q}.000000`] ?? 0;

/** A run of fio io_uring: fio's reads, each backend's Run, the block layer's requests. */
interface UringRun {
  fio: FioRead;
  runs: Map<string, RunDocument>;
  block: BlockRead[];
}

/** Runs fio io_uring while the backends trace it (all attached before its first I/O). */
async function traceFioUring(
  dir: string,
  backends: ("bpf" | "bpftrace" | "ftrace")[],
  options: { iodepth: number; startDelayS: number },
): Promise<UringRun> {
  const file = `${dir}/fio.dat`;
  Deno.writeFileSync(file, new Uint8Array(64 << 20).fill(1));
  assertDirectIo(file);
  using blockReads = new BlockReads(file);
  // At nice -20 fio is rarely kept off a CPU by other work on a busy host.
  const { fio, runs } = await traceFio(
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
  const block = blockReads.stop(4096);
  // The block layer saw each of fio's reads once (merged requests count each read they carry).
  assertEquals(
    block.reduce((n, r) => n + r.ios, 0),
    fio.total_ios,
    "the block layer's reads of the file vs fio's",
  );
  return { fio, runs, block };
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

/**
 * One backend's READs against the references of the same requests: every one
 * counted, and each percentile between the block layer's and fio's lat.
 * @returns the READ stats
 */
function assertBracketed(u: UringRun, backend: string): IoUringOpStats {
  const { op, lost } = readOp(u.runs.get(backend), backend);
  // Lost events are not completions: none lost and the count exact, or short by at most those lost.
  assertCountOrLost(op.count, lost, u.fio.total_ios, `${backend}: READ completions`);
  for (const q of ["50", "99"] as const) {
    const ours = q === "50" ? op.p50_ns : op.p99_ns;
    const fioLat = lat(u.fio, q);
    const block = blockPercentile(u.block, Number(q));
    // Above: fio's lat holds ours; 7% for our bucket (4.43%) and fio's own.
    assert(ours <= fioLat * 1.07, `${backend}: P${q} ${ours} ns above fio's lat ${fioLat} ns`);
    // Below: ours holds the block layer's; our bucket, and 1 us for its timestamps.
    assert(
      ours >= (block - 1000) / (1 + BUCKET_WIDTH),
      `${backend}: P${q} ${ours} ns under the block layer's ${block} ns for the same reads`,
    );
  }
  return op;
}

Deno.test("fio io_uring iodepth 4, bpf, bpftrace and ftrace at once: every READ counted, percentiles between the block layer's and fio's lat, backends agree", async () => {
  await using dir = diskDir();
  const u = await traceFioUring(dir.path, ["bpf", "bpftrace", "ftrace"], {
    iodepth: 4,
    // Three tracers start at once: bpftrace alone attaches in 2.7 s here (its program
    // grew with the counting window and exit tracking), 3.6-4.1 s beside the others.
    startDelayS: 6,
  });
  const ops = new Map<string, IoUringOpStats>();
  for (const backend of ["bpf", "bpftrace", "ftrace"]) {
    ops.set(backend, assertBracketed(u, backend));
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
  for (const iodepth of [4, 1]) {
    Deno.test(`${backend}: fio io_uring iodepth ${iodepth}, every READ counted, P50 and P99 between the block layer's and fio's lat`, async () => {
      await using dir = diskDir();
      const u = await traceFioUring(dir.path, [backend], { iodepth, startDelayS: delay });
      assertBracketed(u, backend);
    });
  }
}
