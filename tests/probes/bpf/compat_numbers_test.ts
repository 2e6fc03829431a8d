// 32-bit (compat) syscalls in the bpf programs' tables: the i386 numbers the
// raw tracepoint search adds, and the i386 functions fentry attaches to.
// Pure but for the last test, which reads this kernel's BTF.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { withCompatNumbers } from "../../../probes/bpf/_syscalls.ts";
import { SLOT } from "../../../probes/bpf/layout.ts";
import { SYSCALL_NAMES_I386, SYSCALLS, SYSCALLS_I386 } from "../../../schema/mod.ts";
import { compatSyscallFunctions, vmlinuxBtf } from "../../../ffi/bpf/btf.ts";

Deno.test("every traced syscall has its i386 numbers, and no number is two syscalls'", () => {
  assertEquals([...SYSCALLS_I386.keys()].sort(), SYSCALLS.map((s) => s.name).sort());
  const all = [...SYSCALLS_I386.values()].flat();
  assertEquals(SYSCALL_NAMES_I386.size, all.length);
  // i386's read is 3 (x86_64's close), its pread64 180; io_uring_enter is 426 on both.
  assertEquals(
    [SYSCALL_NAMES_I386.get(3), SYSCALL_NAMES_I386.get(180), SYSCALL_NAMES_I386.get(426)],
    ["read", "pread64", "io_uring_enter"],
  );
});

Deno.test("the slot table gets the i386 numbers flagged; a number on both keeps its x86_64 slot", () => {
  const table = [
    { nr: 0, slotValue: 1, i386: [3] }, // read
    { nr: 426, slotValue: 2, i386: [426] }, // io_uring_enter
  ];
  const got = new Map(withCompatNumbers(table).map((e) => [e.nr, e.slotValue]));
  assertEquals(got.get(0), 1, "x86_64 read: its slot, no flag");
  assertEquals(got.get(3), SLOT.compatFlag, "i386 read: slot 0, flagged");
  assertEquals(got.get(426), 2 | SLOT.compatFlag, "both: the slot and the flag");
  assertEquals(got.size, 3);
});

Deno.test("one i386 function per i386 entry: the compat and arch-specific ones first (5.10 and 6.1 names)", () => {
  const fns = [
    "__ia32_sys_read",
    "__ia32_sys_readahead",
    "__ia32_sys_pread64", // generated for every syscall, not in i386's table
    "__ia32_sys_ia32_pread64", // 6.1
    "__ia32_sys_mmap",
    "__ia32_sys_mmap_pgoff",
    "__ia32_compat_sys_ia32_mmap",
    "__ia32_sys_sendfile",
    "__ia32_compat_sys_sendfile",
    "__ia32_sys_sendfile64",
    "__ia32_compat_sys_sendfile64", // other architectures'
  ];
  assertEquals(compatSyscallFunctions(fns, "read"), ["__ia32_sys_read"]);
  assertEquals(compatSyscallFunctions(fns, "pread64"), ["__ia32_sys_ia32_pread64"]);
  assertEquals(
    compatSyscallFunctions([...fns, "__ia32_compat_sys_x86_pread"], "pread64"),
    ["__ia32_compat_sys_x86_pread"], // 5.10
  );
  assertEquals(compatSyscallFunctions(fns, "mmap"), [
    "__ia32_compat_sys_ia32_mmap",
    "__ia32_sys_mmap_pgoff",
  ]);
  assertEquals(compatSyscallFunctions(fns, "sendfile64"), [
    "__ia32_compat_sys_sendfile",
    "__ia32_sys_sendfile64",
  ]);
  assertEquals(compatSyscallFunctions(fns, "preadv"), []);
});

Deno.test("this kernel's BTF lists its __ia32_ functions (where IA32 emulation is built in)", () => {
  const fns = vmlinuxBtf().funcNamesStartingWith("__ia32_");
  const ia32 = Deno.readTextFileSync("/proc/kallsyms").includes(" __ia32_sys_read\n");
  assertEquals(fns.includes("__ia32_sys_read"), ia32, `${fns.length} __ia32_ functions`);
  assert(fns.every((f) => f.startsWith("__ia32_")));
  for (const s of SYSCALLS) {
    if (ia32) {
      assert(compatSyscallFunctions(fns, s.name).length > 0, `no i386 function for ${s.name}`);
    }
  }
});
