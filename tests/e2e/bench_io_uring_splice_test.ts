// The io_uring_splice serve path traced by each backend: every SPLICE request
// seen, its bytes counted as moved by the kernel alone, its latency measured.
//
// Before (main at 7028a44), ftrace: 15 and 49 of the 64 SPLICE requests of a
// 32 MiB run (0 of 16 at 8 MiB): the first requests of a ring are completed by
// an io-wq worker (iou-wrk) created for them, which no set_event_pid held yet
// (io threads are created without sched_process_fork), before the agent had
// learnt the ring from the first submission; the Bench document then said
// p50_ns 0 when no request was seen. bpftrace saw 64. The copy block said
// 0 bytes either way (io_uring was not in it).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, tmpDir } from "../_helpers/common.ts";
import type { BenchDocument } from "../../schema/mod.ts";

const MIB = 1 << 20;

for (const backend of ["ftrace", "bpftrace", "bpf"] as const) {
  Deno.test(`${backend}: bench serve io_uring_splice sees every SPLICE; its bytes moved by the kernel alone`, async () => {
    await using dir = tmpDir();
    const json = `${dir.path}/bench.json`;
    const r = await runCli([
      "bench",
      "--scenario",
      "serve",
      "--paths",
      "io_uring_splice",
      "--backend",
      backend,
      "--size",
      "8MiB",
      "--json",
      json,
    ], { timeoutMs: 240_000 });
    assertEquals(r.code, 0, r.stderr);
    const doc: BenchDocument = JSON.parse(Deno.readTextFileSync(json));
    const path = doc.paths.io_uring_splice;
    assert(path && "io_uring" in path.run, "traced");
    const blocks = Math.ceil(doc.file_size / doc.block_size);
    const splice = path.run.io_uring.SPLICE;
    // Each block: file -> pipe, then pipe -> socket.
    assertEquals(splice?.count, 2 * blocks, `every SPLICE of ${blocks} blocks`);
    assertEquals(splice?.bytes, 2 * 8 * MIB);
    assert(path.p50_ns !== null && path.p50_ns > 0, `P50 measured: ${path.p50_ns}`);
    assertEquals(path.latency_source, "trace");
    assert(
      (path.run.copy.kernel_bytes ?? 0) >= 2 * 8 * MIB,
      `kernel bytes ${path.run.copy.kernel_bytes}`,
    );
  });
}
