// 32-bit (compat) syscalls on the real kernel: the offset of
// thread_info.status comes from the kernel's BTF, and the entry program that
// reads it loads, verifies and counts 64-bit calls as before. A real 32-bit
// call cannot be made here: int 0x80 is disabled on this kernel (the call
// segfaults), and no 32-bit binary runs; the instructions that send such a
// call to its counter are checked in tests/probes/bpf/programs_test.ts.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { compatStatusOffset, startBpf } from "../../../../agent/trace/backends/bpf.ts";
import { withCompatOffset } from "../../../../agent/trace/backends/bpftrace.ts";
import { IO_SYSCALLS_BT } from "../../../../probes/bpftrace.ts";
import { vmlinuxBtf } from "../../../../ffi/bpf/btf.ts";
import { allocPages, openFile, pread } from "../../../../ffi/mod.ts";

Deno.test("thread_info.status lies where BTF says: thread_info first in task_struct, status after flags and syscall_work", () => {
  const btf = vmlinuxBtf();
  const off = compatStatusOffset();
  assertEquals(
    off,
    btf.memberOffset("task_struct", "thread_info").offset +
      btf.memberOffset("thread_info", "status").offset,
  );
  // x86_64 since 5.x: the offset io_syscalls.bt hard-codes (curtask + 16).
  assertEquals(off, 16);
});

Deno.test("bpf: with the compat check loaded, a 64-bit process's calls are timed and none is counted as 32-bit", async () => {
  const path = Deno.makeTempFileSync({ prefix: "ioscope-compat-" });
  Deno.writeFileSync(path, new Uint8Array(4096));
  const file = openFile(path);
  const buf = allocPages(4096);
  const backend = startBpf({ pids: [Deno.pid] });
  try {
    assert(
      !backend.unsupported.some((u) => u.metric === "compat_syscalls"),
      JSON.stringify(backend.unsupported),
    );
    for (let i = 0; i < 1000; i++) pread(file.fd, buf.pointer, 1, 0);
  } finally {
    const snap = await backend.stop();
    file.close();
    Deno.removeSync(path);
    assertEquals(snap.compatCalls, 0);
    const p = snap.syscalls.get("pread64");
    assert(p && p.count >= 1000, `pread64 ${p?.count}`);
  }
});

Deno.test("io_syscalls.bt reads TS_COMPAT at this kernel's offset (BTF), not a fixed 16 (5.10: 8)", () => {
  const text = withCompatOffset(Deno.readTextFileSync(IO_SYSCALLS_BT));
  const at = [...text.matchAll(/\(uint64\)curtask \+ (\d+)\)/g)].map((m) => Number(m[1]));
  assertEquals(at, [compatStatusOffset() as number]);
  assertEquals(
    withCompatOffset("(*(uint32 *)((uint64)curtask + 16) & 2)"),
    `(*(uint32 *)((uint64)curtask + ${compatStatusOffset()}) & 2)`,
  );
});
