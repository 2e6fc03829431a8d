// The one syscall table (schema/syscalls.ts) against the lists that cannot
// import it: the syscall numbers inside probes/io_syscalls.bt, a program a
// user runs by hand. And its derived lists against each other.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/common.ts";
import {
  COPYING_READS,
  COPYING_SYSCALLS,
  COPYING_WRITES,
  OTHER_SYSCALLS,
  SYSCALL_NAMES_I386,
  SYSCALL_NAMES_X86_64,
  SYSCALLS,
  ZERO_COPY_SYSCALLS,
} from "../../schema/mod.ts";
import { syscallFilter } from "../../probes/ftrace.ts";

const sorted = (xs: Iterable<number>) => [...xs].sort((a, b) => a - b);

/** Each `if ($id == A || $id == B ...)` condition of the program, as its numbers. */
function idLists(program: string): number[][] {
  return [...program.matchAll(/if \((\$id == \d+(?:\s*\|\|\s*\$id == \d+)*)\)/g)].map((m) =>
    sorted([...m[1]!.matchAll(/\$id == (\d+)/g)].map((n) => Number(n[1])))
  );
}

Deno.test("io_syscalls.bt traces exactly the table's syscalls and treats its non-byte ones so", () => {
  const program = Deno.readTextFileSync(`${ROOT}probes/io_syscalls.bt`);
  const lists = idLists(program);
  const all = sorted(SYSCALLS.map((s) => s.nr_x86_64));
  const none = sorted(SYSCALLS.filter((s) => s.bytes === "none").map((s) => s.nr_x86_64));
  assertEquals(
    lists.length,
    4,
    "the 32-bit enter filter, the enter filter, the exit filter, the not-a-byte-count test",
  );
  assertEquals(lists[0], sorted(SYSCALL_NAMES_I386.keys()), "sys_enter filter of 32-bit calls");
  assertEquals(lists[1], all, "sys_enter filter");
  assertEquals(lists[2], all, "sys_exit filter");
  assertEquals(lists[3], none, "returns that are not byte counts");
});

Deno.test("the table's lists partition it, with one number and one name per syscall", () => {
  const names = SYSCALLS.map((s) => s.name);
  assertEquals(new Set(names).size, names.length, "names unique");
  assertEquals(SYSCALL_NAMES_X86_64.size, SYSCALLS.length, "numbers unique");
  assertEquals(
    [...COPYING_SYSCALLS, ...ZERO_COPY_SYSCALLS, ...OTHER_SYSCALLS].sort(),
    [...names].sort(),
  );
  // Each copying syscall goes one way: its reads are a subset of the table's.
  assertEquals(
    [...COPYING_READS, ...COPYING_WRITES].sort(),
    [...COPYING_SYSCALLS].sort(),
    "reads and writes partition the copying syscalls",
  );
  assertEquals(
    [...COPYING_WRITES].sort(),
    ["pwrite64", "pwritev", "pwritev2", "sendmsg", "sendto", "write", "writev"],
  );
  for (const s of SYSCALLS.filter((s) => !s.fd)) {
    assert(s.bytes === "none", `${s.name} takes no descriptor, so it moves no file's bytes`);
  }
});

Deno.test("the ftrace backend's kernel filter names every syscall of the table", () => {
  const filter = syscallFilter();
  for (const s of SYSCALLS) assert(new RegExp(`\\b${s.nr_x86_64}\\b`).test(filter), s.name);
});
