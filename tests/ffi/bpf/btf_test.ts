/**
 * The BTF reader on this kernel's /sys/kernel/btf/vmlinux, checked against
 * `bpftool btf dump file /sys/kernel/btf/vmlinux format raw`; the writer's
 * blob loaded by the kernel and read back.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  Btf,
  BtfBuilder,
  BtfKind,
  btfLoad,
  syscallFunction,
  vmlinuxBtf,
} from "../../../ffi/bpf/mod.ts";
import { ErrnoError } from "../../../ffi/errno.ts";
import { Fd } from "../../../ffi/fd.ts";

let raw: string | null = null;
/** bpftool's raw dump of vmlinux (about 12 MB of text, 1-3 s here). */
function bpftoolDump(): string {
  if (raw !== null) return raw;
  const out = new Deno.Command("bpftool", {
    args: ["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "raw"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert(out.success, `bpftool failed: ${new TextDecoder().decode(out.stderr)}`);
  raw = new TextDecoder().decode(out.stdout);
  return raw;
}

/** A struct's members as bpftool prints them: name -> bits_offset. */
function bpftoolMembers(struct: string): Map<string, number> {
  const text = bpftoolDump();
  const at = text.indexOf(`] STRUCT '${struct}' `);
  assert(at >= 0, `bpftool shows no struct ${struct}`);
  const lines = text.slice(at).split("\n").slice(1);
  const members = new Map<string, number>();
  for (const line of lines) {
    const m = /^\t'([^']*)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    if (!m) break;
    if (!members.has(m[1]!)) members.set(m[1]!, Number(m[2])); // the first "(anon)"
  }
  return members;
}

Deno.test("btf: the read syscall's function has the id bpftool shows", () => {
  const name = syscallFunction("read");
  const id = vmlinuxBtf().funcId(name);
  assert(id !== undefined, `no FUNC ${name} in vmlinux BTF`);
  const m = new RegExp(`^\\[(\\d+)\\] FUNC '${name}' `, "m").exec(bpftoolDump());
  assert(m, `bpftool shows no FUNC ${name}`);
  assertEquals(id, Number(m[1]));
  assertEquals(vmlinuxBtf().type(id).kind, BtfKind.FUNC);
  assertEquals(vmlinuxBtf().funcId("no_such_function_in_any_kernel"), undefined);
});

Deno.test("btf: task_struct member offsets match bpftool", () => {
  const members = bpftoolMembers("task_struct");
  for (const name of ["tgid", "pid", "real_parent", "comm", "flags"]) {
    const bits = members.get(name);
    assert(bits !== undefined, `bpftool shows no task_struct.${name}`);
    assertEquals(vmlinuxBtf().memberOffset("task_struct", name).offset, bits / 8, name);
  }
});

Deno.test("btf: members inside anonymous unions and nested structs are found", () => {
  const btf = vmlinuxBtf();
  // io_kiocb begins with an anonymous union holding `file` (bpftool: '(anon)' at bit 0).
  const anon = bpftoolMembers("io_kiocb").get("(anon)");
  assertEquals(anon, 0, "io_kiocb's first member is an anonymous union");
  assertEquals(btf.memberOffset("io_kiocb", "file").offset, 0);
  assertEquals(
    btf.memberOffset("io_kiocb", "opcode").offset,
    bpftoolMembers("io_kiocb").get("opcode")! / 8,
  );
  // A dotted path adds the offsets: task_struct.se + sched_entity.sum_exec_runtime.
  const se = btf.memberOffset("task_struct", "se").offset;
  const inner = bpftoolMembers("sched_entity").get("sum_exec_runtime")! / 8;
  assertEquals(btf.memberOffset("task_struct", "se.sum_exec_runtime").offset, se + inner);
  let message = "";
  try {
    btf.memberOffset("task_struct", "no_such_member");
  } catch (e: unknown) {
    message = e instanceof Error ? e.message : String(e);
  }
  assertEquals(message, "The kernel's struct task_struct has no member no_such_member");
});

Deno.test("btf: a lookup indexes vmlinux's types only as far as the type it finds", () => {
  const bytes = Deno.readFileSync("/sys/kernel/btf/vmlinux");
  const btf = new Btf(bytes);
  assertEquals(btf.indexedCount, 0, "nothing indexed by the constructor");
  const { offset } = btf.memberOffset("task_struct", "thread_info.status");
  const id = btf.firstIdByName("task_struct", BtfKind.STRUCT);
  assert(id !== undefined && btf.indexedCount < 10_000, `indexed ${btf.indexedCount} types`);
  // What the whole index finds is the same.
  const whole = new Btf(bytes);
  assertEquals(whole.idsByName("task_struct", BtfKind.STRUCT)[0], id);
  assertEquals(whole.indexedCount, whole.count);
  assertEquals(whole.memberOffset("task_struct", "thread_info.status").offset, offset);
  assertEquals(btf.count, whole.count, "the rest indexed on demand");
});

Deno.test("btf: a type record that runs past the type section is refused when reached", () => {
  const b = new BtfBuilder();
  const int = b.addInt("int", 4, true);
  b.addStruct("s", 4, [{ name: "a", type: int, offset: 0 }]);
  const blob = b.build();
  const v = new DataView(blob.buffer, blob.byteOffset);
  // The type section shortened by 4 bytes: the struct's member record no longer fits.
  v.setUint32(12, v.getUint32(12, true) - 4, true);
  const btf = new Btf(blob);
  assertEquals(btf.type(int).name, "int", "the types before it read");
  let error = "";
  try {
    btf.count;
  } catch (e: unknown) {
    error = e instanceof Error ? e.message : String(e);
  }
  assertEquals(error, "Cannot read BTF: the type section is malformed");
});

Deno.test("btf: the writer's blob loads in the kernel and reads back", () => {
  const b = new BtfBuilder();
  const int = b.addInt("int", 4, true);
  const u64 = b.addInt("unsigned long long", 8, false);
  const u8 = b.addInt("unsigned char", 1, false);
  const arr = b.addArray(u8, int, 16);
  const value = b.addStruct("value", 32, [
    { name: "start_ns", type: u64, offset: 0 },
    { name: "bytes", type: arr, offset: 8 },
    { name: "count", type: u64, offset: 24 },
  ]);
  const blob = b.build();
  using fd = new Fd(btfLoad(blob), "BTF");
  assert(fd.fd >= 0);
  const back = new Btf(blob);
  assertEquals(back.count, 5);
  assertEquals(back.typeByName("value", BtfKind.STRUCT)?.size, 32);
  assertEquals(back.members(value).map((m) => [m.name, m.bitOffset]), [
    ["start_ns", 0],
    ["bytes", 64],
    ["count", 192],
  ]);
  assertEquals(back.memberOffset("value", "count").offset, 24);
});

Deno.test("btf: a blob the kernel refuses is an ErrnoError with the kernel's reason", () => {
  const b = new BtfBuilder();
  b.addStruct("broken", 8, [{ name: "x", type: 42, offset: 0 }]); // type 42 does not exist
  try {
    btfLoad(b.build());
  } catch (e: unknown) {
    assert(e instanceof ErrnoError, `${e} is not an ErrnoError`);
    assertEquals(e.code, "EINVAL");
    assert(
      /^bpf\(BPF_BTF_LOAD\) failed: EINVAL \(Invalid argument\): .+/.test(e.message),
      e.message,
    );
    assert(!e.message.includes("\n"), "one line");
    return;
  }
  throw new Error("the kernel loaded a struct whose member has no type");
});

Deno.test("btf: vmlinux is mapped, not copied, and reads as the file's bytes do", () => {
  const mapped = vmlinuxBtf();
  // Linux 6.16+ lets vmlinux BTF be mapped read-only and private (this kernel is 6.18);
  // elsewhere vmlinuxBtf reads the file instead, which is the Btf built here from a read.
  const maps = Deno.readTextFileSync("/proc/self/maps");
  assert(maps.includes(" /sys/kernel/btf/vmlinux\n"), "vmlinux BTF is not mapped");
  const read = new Btf(Deno.readFileSync("/sys/kernel/btf/vmlinux"));
  assertEquals(mapped.count, read.count);
  const name = syscallFunction("read");
  assertEquals(mapped.funcId(name), read.funcId(name));
  assertEquals(
    mapped.memberOffset("task_struct", "real_parent"),
    read.memberOffset("task_struct", "real_parent"),
  );
});
