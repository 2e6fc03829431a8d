// The program sets each attach kind gets, read as instruction streams: what
// runs where, and the encodings that differ between kinds (fentry cannot be
// loaded on this machine kind, so its programs are checked here).
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { assemble, exit, type Insn, label, mov, R0, R8 } from "../../../ffi/bpf/asm.ts";
import { Helper } from "../../../ffi/bpf/sys.ts";
import type { BuildContext, ProgramKind } from "../../../probes/bpf/_emit.ts";
import { planPrograms } from "../../../probes/bpf/programs.ts";
import { commWords, onExit } from "../../../probes/bpf/_targets.ts";
import { slotSearch, TS_COMPAT } from "../../../probes/bpf/_syscalls.ts";
import { COUNTER } from "../../../probes/bpf/layout.ts";
import { countersFrom } from "../../../probes/bpf/_read.ts";
import { SYSCALLS as SYSCALLS_X86_64 } from "../../../schema/syscalls.ts";
import { M, run } from "./_interp.ts";
import { fakeMapFds } from "./_streams.ts";

function context(kind: ProgramKind, filter: BuildContext["filter"] = {}): BuildContext {
  return {
    kind,
    field: (_event, field) => ({ offset: field === "args" ? 16 : 8, size: 8, signed: true }),
    maps: fakeMapFds(true),
    filter,
  };
}

const SYSCALLS = [
  { name: "read", nr: 0, slotValue: 1 | (1 << 16) | (1 << 17), function: "__x64_sys_read" },
  { name: "pread64", nr: 17, slotValue: 2 | (1 << 16) | (1 << 17), function: "__x64_sys_pread64" },
];
const OPTIONS = { uring: true, tlb: true, rename: true, syscalls: SYSCALLS };

/** The helper ids a program calls. */
function calls(insns: Insn[]): number[] {
  return insns.flatMap((i) => (i.kind === "insn" && i.op === 0x85 ? [i.imm] : []));
}

Deno.test("fentry: each syscall gets an fexit then an fentry program on its function; the rest stays on raw tracepoints", () => {
  const plan = planPrograms(context("fentry"), OPTIONS);
  const functions = plan.flatMap((p) => ("function" in p.at ? [[p.at.function, p.at.exit]] : []));
  assertEquals(functions, [
    ["__x64_sys_read", true],
    ["__x64_sys_read", false],
    ["__x64_sys_pread64", true],
    ["__x64_sys_pread64", false],
  ]);
  const tracepoints = plan.flatMap((p) => ("tracepoint" in p.at ? [p.at.tracepoint] : []));
  assertEquals(tracepoints, [
    "sched_process_exit",
    "page_fault_user",
    "tlb_flush",
    "sched_switch",
    "io_uring_complete",
    "io_uring_queue_async_work",
    // Submissions on the classic tracepoint: its record has the opcode and flags.
    "io_uring:io_uring_submit_req",
  ]);
  assert(!tracepoints.includes("sys_enter"), "no program on every syscall of the host");
  const names = plan.map((p) => p.name);
  assertEquals(new Set(names).size, names.length, "names are unique");
  for (const n of names) assert(n.length <= 15 && n.startsWith("ios_"), n);
});

Deno.test("fentry entry programs carry their slot as an immediate and read the descriptor with a typed load", () => {
  const plan = planPrograms(context("fentry"), OPTIONS);
  const enter = plan.find((p) => p.name === "ios_e_pread64");
  assert(enter, "pread64's entry program");
  const bytes = assemble(enter.insns);
  // After the gate (4 slots): mov r6, r1 (keep the context), then mov r8,
  // <slot value>: no slot table lookup.
  assertEquals([...bytes.subarray(32, 40)], [0xbf, 0x16, 0, 0, 0, 0, 0, 0]);
  assertEquals([...bytes.subarray(40, 48)], [0xb7, 0x08, 0, 0, 2, 0, 3, 0]);
  assert(!calls(enter.insns).includes(Helper.probe_read_kernel), "no probe read under fentry");
  const raw = planPrograms(context("raw_tp"), OPTIONS).find((p) => p.name === "ios_sys_enter");
  assert(raw && calls(raw.insns).includes(Helper.probe_read_kernel), "raw_tp reads pt_regs");
  // ldx.dw r1, [r6+0] then ldx.dw r1, [r1+112]: regs->di through the typed pointer.
  const ldx = enter.insns.map((i) =>
    i.kind === "insn" && i.op === 0x79 ? `${i.dst}<-${i.src}+${i.off}` : ""
  );
  const at = ldx.indexOf("1<-6+0");
  assert(at > 0 && ldx[at + 1] === "1<-1+112", ldx.filter((x) => x).join(" "));
});

Deno.test("raw and classic tracepoint sets: the same programs, names group:name only for classic", () => {
  const raw = planPrograms(context("raw_tp", { comm: "nginx", followChildren: true }), OPTIONS);
  const tp = planPrograms(context("tp", { comm: "nginx", followChildren: true }), OPTIONS);
  assertEquals(raw.map((p) => p.name), tp.map((p) => p.name));
  assertEquals(
    tp.map((p) => ("tracepoint" in p.at ? p.at.tracepoint : "")).slice(0, 6),
    [
      "sched:sched_process_exit",
      "sched:sched_process_fork",
      "sched:sched_process_exec",
      "task:task_rename",
      "raw_syscalls:sys_exit",
      "raw_syscalls:sys_enter",
    ],
  );
  // Without --comm and --follow nothing watches forks, execs or renames.
  const plain = planPrograms(context("raw_tp"), OPTIONS).map((p) => p.name);
  for (const n of ["ios_fork", "ios_exec", "ios_rename"]) assert(!plain.includes(n), n);
  // Exit before entry: no call is seen to end that was not seen to start.
  const order = raw.map((p) => p.name);
  assert(order.indexOf("ios_sys_exit") < order.indexOf("ios_sys_enter"), order.join(" "));
});

Deno.test("the cgroup filter compares the current task's ancestor at the target's level", () => {
  const b = context("raw_tp", { cgroup: { id: 0x1234_5678_9an, level: 2 } });
  const enter = planPrograms(b, OPTIONS).find((p) => p.name === "ios_sys_enter");
  assert(enter, "entry program");
  assert(calls(enter.insns).includes(123), "bpf_get_current_ancestor_cgroup_id");
  const imm64 = enter.insns.find((i) => i.kind === "insn" && i.op === 0x18 && i.src === 0);
  assert(imm64 && imm64.kind === "insn", "the id as a 64-bit immediate");
  assert((BigInt(imm64.imm >>> 0) | (BigInt(imm64.imm2 ?? 0) << 32n)) === 0x1234_5678_9an, "id");
});

Deno.test("comm names compare their bytes and NUL, nothing after", () => {
  const nginx = commWords("nginx");
  assert(nginx.words[0] === 0x78_6e_69_67_6en, nginx.words[0].toString(16));
  assert(nginx.masks[0] === 0xff_ffff_ffff_ffn && nginx.masks[1] === 0n, "6 bytes kept");
  const long = commWords("abcdefghijklmno"); // 15 bytes, the most a comm holds
  assert(long.masks.every((m) => m === 0xffff_ffff_ffff_ffffn), "all 16 bytes kept");
  let threw = false;
  try {
    commWords("abcdefghijklmnop");
  } catch {
    threw = true;
  }
  assert(threw, "16 bytes is too long for a comm");
});

Deno.test("TLB flushes are counted at the reason's index, not at a constant", () => {
  const tlb = planPrograms(context("raw_tp"), OPTIONS).find((p) => p.name === "ios_tlb");
  assert(tlb, "the TLB program");
  // The counter key is stored from the register holding 16 + reason (stx); the
  // one immediate key is the per-CPU "flushed on the way in" word of a task switch.
  const keyStores = tlb.insns.filter((i) =>
    i.kind === "insn" && (i.op & 0x07) !== 0x05 && i.dst === 10 && i.off === -4
  );
  assertEquals(keyStores.map((i) => i.kind === "insn" && [i.op, i.src, i.imm]), [
    [0x62, 0, COUNTER.switchFlushed],
    [0x63, 1, 0],
  ]);
});

Deno.test("the TLB program leaves 0-page events and IPI sends uncounted, and hands task-switch flushes to the switch program", () => {
  for (const kind of ["raw_tp", "tp"] as const) {
    const plan = planPrograms(context(kind), OPTIONS);
    const tlb = plan.find((p) => p.name === "ios_tlb")!;
    const text = tlb.insns.flatMap((i) =>
      i.kind === "insn" ? [`${i.op.toString(16)} ${i.dst} ${i.src} ${i.off} ${i.imm}`] : []
    );
    // jeq r8, 0 (pages), then jeq r7, 4 (remote_ipi_send) and jne r7, 0 (task_switch): each
    // before the traced test (the first call: get_current_pid_tgid).
    const at = (op: string) => text.findIndex((t) => t.startsWith(op));
    const traced = text.findIndex((t) => t === `85 0 0 0 ${Helper.get_current_pid_tgid}`);
    for (const op of ["15 8 0", "15 7 0", "55 7 0"]) {
      assert(at(op) >= 0 && at(op) < traced, `${kind}: ${op} before the traced test: ${text}`);
    }
    assert(text.some((t) => /^15 7 0 \d+ 4$/.test(t)), `${kind}: jeq r7, remote_ipi_send`);
    // The switch program reads and clears the word, and books a flush to the task leaving.
    const sw = plan.find((p) => p.name === "ios_switch")!;
    const stores = sw.insns.flatMap((i) =>
      i.kind === "insn" && i.op === 0x7a ? [[i.dst, i.off, i.imm]] : []
    );
    assertEquals(stores, [[0, 0, 0]], `${kind}: *flag = 0`);
  }
});

Deno.test("the syscall slot search finds every traced number's slot value and leaves for every other", () => {
  const table = SYSCALLS_X86_64.map((s, slot) => ({ nr: s.nr_x86_64, slotValue: 1000 + slot }));
  const program = assemble([
    ...slotSearch(table, "out"),
    mov.reg(R0, R8),
    exit(),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ]);
  const want = new Map(table.map((e) => [e.nr, e.slotValue]));
  for (let nr = 0; nr < 1100; nr++) {
    assertEquals(Number(run(program, BigInt(nr))), want.get(nr) ?? 0, `syscall ${nr}`);
  }
  // sys_enter's id is -1 for a call that is not a syscall (ptrace's skip).
  assertEquals(run(program, M), 0n);
  // No memory touched: compares and jumps only (no map lookup for every syscall on the host).
  const ops = new Set(
    program.reduce<number[]>((a, _b, i) => (i % 8 === 0 ? [...a, program[i]!] : a), []),
  );
  for (const op of ops) {
    assert(
      op === 0x05 || op === 0x15 || op === 0x35 || op === 0xb7 || op === 0xbf || op === 0x95,
      `op 0x${op.toString(16)}`,
    );
  }
});

Deno.test("32-bit calls: after the traced test, TS_COMPAT of thread_info.status sends the call to its counter untimed", () => {
  const b = { ...context("raw_tp"), compatStatusOffset: 16 };
  const enter = planPrograms(b, OPTIONS).find((p) => p.name === "ios_sys_enter");
  assert(enter, "the entry program");
  const insns = enter.insns.filter((i) => i.kind === "insn");
  const at = insns.findIndex((i) => i.op === 0x61 && i.off === 16 && i.dst === 1 && i.src === 0);
  assert(at > 0, "ldxw r1, [r0 + 16]: a typed load through the task pointer");
  assertEquals(insns[at - 1]?.imm, Helper.get_current_task_btf);
  assertEquals(insns[at + 1]?.op, 0x57, "and r1, ...");
  assertEquals(insns[at + 1]?.imm, TS_COMPAT);
  // The counter it goes to: st [fp-4], COUNTER.compat.
  assert(insns.slice(at).some((i) => i.op === 0x62 && i.off === -4 && i.imm === COUNTER.compat));
  // Only traced tasks get there: after the targets lookup (and the start value's lookup),
  // before the start is counted and the clock read.
  const targets = insns.findIndex((i) => i.op === 0x18 && i.imm === b.maps.targets);
  const clock = insns.findIndex((i) => i.op === 0x85 && i.imm === Helper.ktime_get_ns);
  assert(targets >= 0 && targets < at && at < clock, `${targets} < ${at} < ${clock}`);
  // Without an offset (no BTF, not x86): no check at all.
  const plain = planPrograms(context("raw_tp"), OPTIONS).find((p) => p.name === "ios_sys_enter");
  assert(!plain?.insns.some((i) => i.kind === "insn" && i.op === 0x61 && i.src === 0));
});

Deno.test("the compat counter reaches the snapshot's compatCalls", () => {
  assertEquals(countersFrom((i) => (i === COUNTER.compat ? 3 : 0)).compat, 3);
});

Deno.test("every counting program reads the gate first and leaves while it is closed; the traced set's keepers do not", () => {
  const gate = 10; // the first descriptor context() hands out
  for (const kind of ["fentry", "raw_tp", "tp"] as const) {
    const b = context(kind, { comm: "nginx", followChildren: true });
    assertEquals(b.maps.gate, gate);
    for (const p of planPrograms(b, OPTIONS)) {
      const bytes = assemble(p.insns);
      const v = new DataView(bytes.buffer);
      // ld_imm64 r0, map_value(gate) + 0 (src 2: BPF_PSEUDO_MAP_VALUE)
      const first = [v.getUint8(0), v.getUint8(1), v.getInt32(4, true), v.getInt32(12, true)];
      const keeper = ["ios_exit", "ios_fork", "ios_exec", "ios_rename"].includes(p.name);
      if (keeper) {
        // Membership must be right the moment the gate opens: a fork while the
        // programs attach still joins.
        assert(first[2] !== gate || first[1] !== 0x20, `${kind} ${p.name} is not gated`);
        continue;
      }
      assertEquals(first, [0x18, 0x20, gate, 0], `${kind} ${p.name}: the gate's address first`);
      // ldx.dw r0, [r0+0]; jeq r0, 0, to the exit that returns 0
      assertEquals([...bytes.subarray(16, 24)], [0x79, 0x00, 0, 0, 0, 0, 0, 0], p.name);
      assertEquals([v.getUint8(24), v.getUint8(25), v.getInt32(28, true)], [0x15, 0x00, 0], p.name);
      const target = 3 + 1 + v.getInt16(26, true); // slot after the jump, plus its offset
      assertEquals(
        [...bytes.subarray(target * 8, target * 8 + 16)],
        [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
        `${kind} ${p.name}: a closed gate leaves by mov r0, 0; exit`,
      );
    }
  }
});

Deno.test("sched_process_exit without group_dead (Debian 5.10-6.12): the exit program reads no argument; the leader's exit takes the process out", () => {
  const loads = (insns: Insn[]) =>
    insns.flatMap((i) =>
      i.kind === "insn" && (i.op & 7) === 1 && (i.src === 6 || i.src === 1) ? [i.off] : []
    );
  // The kernels that pass it (6.18 here): the second raw argument is read.
  assertEquals(loads(onExit(context("raw_tp"), true)), [8]);
  // Reading past the arguments makes BPF_RAW_TRACEPOINT_OPEN fail with EINVAL (issue 21).
  const without = onExit(context("raw_tp"), false);
  assertEquals(loads(without), []);
  // Two deletes from the traced set: the thread's own entry, or (the leader) the process's.
  const deletes = calls(without).filter((c) => c === Helper.map_delete_elem);
  assertEquals(deletes.length, 2, JSON.stringify(calls(without)));
});
