// Where the bytes went, on a real workload with exactly known bytes through
// each kind of path (tests/_helpers/workloads/copy_paths.py): copy_file_range
// and sendfile into a file (1 MiB each: copied inside the kernel), splice
// 64 KiB file -> pipe and vmsplice 32 KiB into a pipe (moved, not copied),
// tee 64 KiB (moves nothing), and reads of 160 KiB (through user memory).
//
// Before (main at 7028a44): every one of them was "zero-copy" (2.25 MiB,
// tee's 64 KiB counted a second time), copy_file_range's and sendfile's
// in-kernel copies included. After: user_bytes, kernel_bytes (of which
// kernel_copied_bytes 2 MiB), tee_bytes 64 KiB apart.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { traceWorkload } from "../_helpers/trace_run.ts";
import { startLineWorkload } from "../_helpers/line_workload.ts";

const MIB = 1 << 20;
const K64 = 64 << 10;

for (const backend of ["bpftrace", "ftrace", "bpf"] as const) {
  Deno.test({
    name: `${backend}: copy split: in-kernel copies, moves, tee and user-memory copies apart`,
  }, async () => {
    await using dir = tmpDir();
    const w = await startLineWorkload("python3", [
      `${ROOT}tests/_helpers/workloads/copy_paths.py`,
      dir.path,
    ]);
    const { run } = await traceWorkload(w, `${dir.path}/run.json`, { backend });
    const c = run.copy;
    assertEquals(c.kernel_copied_bytes, 2 * MIB, "copy_file_range and sendfile into a file");
    assertEquals(
      c.kernel_bytes,
      2 * MIB + K64 + K64 / 2,
      "+ splice into a pipe, vmsplice into a pipe",
    );
    assertEquals(c.tee_bytes, K64, "tee moved nothing");
    assert((c.user_bytes ?? 0) >= 2 * K64 + K64 / 2, `the three reads: ${c.user_bytes}`);
    assertEquals(c.zero_copy_bytes, c.kernel_bytes, "the old field: the kernel's bytes");
    assertEquals(c.copied_bytes, c.user_bytes, "the old field: user memory's");
  });
}
