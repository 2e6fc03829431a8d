// A thread id given as --pid: the trace is of its process (every thread), and
// says so on stderr and in the Run's meta; the counts are the process's, exact.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { startWorkload, tmpDir } from "../_helpers/common.ts";
import { tracePid } from "../_helpers/trace_run.ts";
import { TRACE_BACKENDS } from "../_helpers/backends.ts";

for (const backend of TRACE_BACKENDS) {
  Deno.test(`${backend}: --pid with a thread id traces its process, and says so`, async () => {
    await using dir = tmpDir();
    await using w = await startWorkload("known_io.ts", [dir.path, "1000", "500", "10"]);
    // Deno's runtime threads: any task of the workload that is not its leader.
    const tid = [...Deno.readDirSync(`/proc/${w.pid}/task`)].map((e) => Number(e.name))
      .find((t) => t !== w.pid);
    assert(tid !== undefined, "the workload has threads");
    const { run, ...result } = await tracePid(tid, `${dir.path}/run.json`, {
      backend,
      during: async () => {
        await w.go();
        await w.child.status;
      },
    });
    assert(
      result.stderr.includes(`${tid} is a thread of process ${w.pid}`),
      `stderr says which process: ${result.stderr}`,
    );
    assertEquals(run.meta.pid, w.pid);
    assertEquals(run.meta.thread_given, tid);
    // Before: bpftrace's `pid == TID` never matched (a pid is a thread group id): 0 calls.
    assertEquals(run.syscalls.pread64?.count, 1002, `${backend}: every pread64 of the process`);
  });
}
