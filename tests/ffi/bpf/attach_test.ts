/**
 * Attaching: a raw tracepoint program and a classic tracepoint program (by
 * LINK_CREATE and, forced, by ioctl) count this process's getppid calls
 * exactly; the program's counters come from the kernel's program info.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { countGetppid, getppid } from "./_helpers.ts";
import {
  add,
  AttachType,
  BpfLink,
  BpfMap,
  BpfProgram,
  call,
  enableStats,
  exit,
  haveRawTracepoint,
  Helper,
  jne,
  label,
  linkCreateAttr,
  MapType,
  mov,
  ProgType,
  R0,
  R1,
  R10,
  R2,
  R3,
  rsh,
  tracepointId,
} from "../../../ffi/bpf/mod.ts";
import { ErrnoError } from "../../../ffi/errno.ts";
import { libc } from "../../../ffi/libc.ts";
import { Fd } from "../../../ffi/fd.ts";

function counter(): BpfMap {
  return BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
}

function count(m: BpfMap): number {
  const v = m.lookup(new Uint8Array(4))!;
  return Number(new DataView(v.buffer).getBigUint64(0, true));
}

Deno.test("attach: a raw tracepoint on sys_enter counts 1000 getppid calls exactly", () => {
  assert(haveRawTracepoint().ok, haveRawTracepoint().reason);
  using counts = counter();
  using prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "test_raw_cnt",
    insns: countGetppid([counts.fd], "raw_sys_enter"),
  });
  getppid(10); // loaded, not attached: not counted
  const link = BpfLink.attachRawTracepoint(prog, "sys_enter");
  assertEquals([link.kind, link.target], ["raw_tracepoint", "sys_enter"]);
  assert(link.id() > 0);
  getppid(1000);
  link.close();
  link.close();
  assert(link.closed);
  getppid(10); // detached: not counted
  assertEquals(count(counts), 1000);
});

for (const method of ["link", "ioctl"] as const) {
  Deno.test(`attach: a tracepoint program on syscalls:sys_enter_getppid by ${method} counts exactly`, () => {
    using counts = counter();
    using prog = BpfProgram.load({
      type: ProgType.TRACEPOINT,
      name: "test_tp_cnt",
      insns: countGetppid([counts.fd], "tracepoint"),
    });
    {
      using link = BpfLink.attachTracepoint(prog, "syscalls", "sys_enter_getppid", { method });
      assertEquals([link.kind, link.method, link.target], [
        "tracepoint",
        method,
        "syscalls:sys_enter_getppid",
      ]);
      getppid(777);
    }
    getppid(10);
    assertEquals(count(counts), 777);
  });
}

Deno.test("attach: a missing tracepoint is one clear error", () => {
  using counts = counter();
  using prog = BpfProgram.load({
    type: ProgType.TRACEPOINT,
    name: "test_tp_none",
    insns: countGetppid([counts.fd], "tracepoint"),
  });
  let message = "";
  try {
    BpfLink.attachTracepoint(prog, "syscalls", "sys_enter_nothing");
  } catch (e: unknown) {
    message = e instanceof Error ? e.message : String(e);
  }
  assert(
    message.startsWith(
      "Cannot find the tracepoint syscalls:sys_enter_nothing " +
        "(/sys/kernel/tracing/events/syscalls/sys_enter_nothing/id): ",
    ),
    message,
  );
  assert(tracepointId("/sys/kernel/tracing", "syscalls", "sys_enter_getppid") > 0);
});

Deno.test("attach: program info counts runs while stats are on; recursion misses are read", () => {
  using counts = counter();
  using prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "test_info",
    insns: countGetppid([counts.fd], "raw_sys_enter"),
  });
  const before = prog.info();
  assertEquals(before.name, "test_info");
  assertEquals(before.id, prog.id);
  assertEquals(before.type, ProgType.RAW_TRACEPOINT);
  assertEquals(before.recursionMisses, 0);
  assert(before.verifiedInsns > 0);
  {
    using _stats = new Fd(enableStats(), "BPF stats");
    using _ = BpfLink.attachRawTracepoint(prog, "sys_enter");
    getppid(300);
  }
  const after = prog.info();
  // The program runs on every syscall of every process: at least our 300.
  assert(after.runCnt - before.runCnt >= 300, `run_cnt ${before.runCnt} -> ${after.runCnt}`);
  assert(
    after.runTimeNs > before.runTimeNs,
    `run_time_ns ${before.runTimeNs} -> ${after.runTimeNs}`,
  );
  assertEquals(after.recursionMisses, 0);
  assertEquals(count(counts), 300);
});

Deno.test("attach: the fentry link attr, and attachTracing falls back from LINK_CREATE", () => {
  // LINK_CREATE for fentry: prog_fd at 0, target_fd 4 (0: vmlinux), attach_type 8.
  const attr = linkCreateAttr({ progFd: 7, targetFd: 0, attachType: AttachType.TRACE_FENTRY });
  const v = new DataView(attr.buffer, attr.byteOffset);
  assertEquals([v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true)], [7, 0, 24]);
  // TRACING programs do not load here, so the decision is shown with a program
  // the kernel refuses both ways: "auto" tries LINK_CREATE, then RAW_TRACEPOINT_OPEN.
  using counts = counter();
  using prog = BpfProgram.load({
    type: ProgType.TRACEPOINT,
    name: "test_not_fentry",
    insns: countGetppid([counts.fd], "tracepoint"),
  });
  const failure = (method: "auto" | "link" | "raw_tracepoint_open") => {
    try {
      BpfLink.attachTracing(prog, { method }).close();
    } catch (e: unknown) {
      assert(e instanceof ErrnoError, String(e));
      return e.call;
    }
    return "attached";
  };
  assertEquals(failure("link"), "bpf(BPF_LINK_CREATE)");
  assertEquals(failure("auto"), "bpf(BPF_RAW_TRACEPOINT_OPEN)", "auto fell back");
  assertEquals(failure("raw_tracepoint_open"), "bpf(BPF_RAW_TRACEPOINT_OPEN)");
});

Deno.test("attach: a program that re-enters its own tracepoint counts recursion misses", () => {
  // On raw tracepoint page_fault_kernel (a fault taken in kernel mode), the
  // program reads an unmapped user address: that read faults in kernel mode,
  // which fires the same tracepoint on the same CPU while the program still
  // runs, and the kernel skips the nested run and counts it in the program's
  // recursion_misses (kernel/trace/bpf_trace.c, __bpf_trace_run). The first
  // fault comes from a read(2) of /dev/zero into fresh anonymous pages, never
  // touched (a JS buffer may come from memory already faulted in).
  using prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "test_recursion",
    insns: [
      call(Helper.get_current_pid_tgid),
      rsh.imm(R0, 32),
      jne.imm(R0, Deno.pid, "out"), // only this process's faults
      mov.reg(R1, R10),
      add.imm(R1, -8),
      mov.imm(R2, 8),
      mov.imm(R3, 0x1000), // below mmap_min_addr: never mapped
      call(Helper.probe_read_user),
      label("out"),
      mov.imm(R0, 0),
      exit(),
    ],
  });
  assertEquals(prog.info().recursionMisses, 0);
  {
    using _ = BpfLink.attachRawTracepoint(prog, "page_fault_kernel");
    const size = 1 << 20;
    // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    const pages = libc().mmap(null, BigInt(size), 3, 0x22, -1, 0n);
    assert(pages !== null && Deno.UnsafePointer.value(pages) !== -1n, "mmap");
    const zero = libc().open(new TextEncoder().encode("/dev/zero\0"), 0, 0);
    try {
      assertEquals(Number(libc().read(zero, pages, BigInt(size))), size);
    } finally {
      libc().close(zero);
      libc().munmap(pages, BigInt(size));
    }
  }
  const misses = prog.info().recursionMisses;
  assert(misses > 0, `recursion_misses ${misses}`);
  // The one-field read a running trace makes every second says the same.
  assertEquals(prog.recursionMisses(), misses);
});
