/**
 * Scale: a target with 10 000 threads and `--comm` matching 500 processes
 * attach, count exactly, and detach within the usual times (the default
 * backend; benchmarks/scale.ts measures every backend and a busy host, for
 * BENCHMARKS.md). The workloads are tests/_helpers/workloads/many_tasks.py.
 * The usual times, measured here with one thread: attach 2.3-2.6 s (Deno's
 * start-up included), detach 0.3-0.4 s; a loaded 2-CPU host doubles them.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { manyProcesses, manyThreads, type ScaleCase } from "../../benchmarks/scale.ts";

function check(c: ScaleCase): void {
  assertEquals(c.exitCode, 0, c.error);
  assertEquals(c.counted, c.expected, `${c.name}: pread64 counted`);
  // Measured: 10 000 threads attach in 1.5-2.2 s and detach in 0.3-0.7 s; 500
  // processes attach in 2.6-3.9 s and detach in 0.5-0.9 s (bpftrace, ftrace).
  assert(c.attachS < 15, `${c.name}: attached in ${c.attachS.toFixed(2)} s`);
  assert(c.detachS < 5, `${c.name}: detached in ${c.detachS.toFixed(2)} s`);
}

Deno.test("a target with 10 000 threads: attach, exact counts, detach", async () => {
  const c = await manyThreads("auto", 10_000);
  check(c);
  assertEquals(c.tracedPids, 1);
});

Deno.test("--comm matching 500 processes: attach, exact counts, detach", async () => {
  const c = await manyProcesses("auto", 500);
  check(c);
  assertEquals(c.tracedPids, 500);
});
