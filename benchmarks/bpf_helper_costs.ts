/**
 * What the helpers the bpf backend's programs call cost on this host: one
 * raw_tp program on sys_enter per variant (an empty body, then N calls of one
 * helper), measured by the kernel's BPF run-time statistics while this
 * process makes preads through FFI. ns per run minus the empty program's,
 * divided by N, is one call's cost.
 *
 *   deno run -A benchmarks/bpf_helper_costs.ts   (root)
 * @module
 */

import { BpfMapSet } from "../agent/trace/backends/_bpf_maps.ts";
import { tracedSyscalls } from "../agent/trace/backends/bpf.ts";
import {
  add,
  allocPages,
  BPF_F_NO_PREALLOC,
  BPF_LOCAL_STORAGE_GET_F_CREATE,
  BpfLink,
  BpfMap,
  BpfProgram,
  call,
  enableStats,
  exit,
  Fd,
  Helper,
  type Insn,
  ldx,
  loadMapFd,
  MapType,
  mov,
  openFile,
  pread,
  progInfo,
  ProgType,
  R0,
  R1,
  R10,
  R2,
  R3,
  R4,
  R6,
  rsh,
  st,
  stx,
} from "../ffi/mod.ts";

const N = 8;
using maps = new BpfMapSet({ syscalls: tracedSyscalls(), taskStorage: true });
maps.addTargets([Deno.pid]);
using fdHash = BpfMap.create({
  type: MapType.PERCPU_HASH,
  flags: BPF_F_NO_PREALLOC,
  keySize: 16,
  valueSize: 32,
  maxEntries: 16384,
  name: "ios_cost_fds",
});
// Other processes' descriptors around ours, as in a real trace.
for (let i = 0; i < 200; i++) {
  const k = new Uint8Array(16);
  new DataView(k.buffer).setUint32(0, i < 100 ? Deno.pid : 1000 + i, true);
  new DataView(k.buffer).setUint32(4, i, true);
  fdHash.update(k, new Uint8Array(32 * navigator.hardwareConcurrency));
}
const f = maps.fds;
/** A lookup of the key the stack holds at fp-16 (16 bytes: tgid, fd 7, slot 0). */
const lookupAt = (fd: number) => [
  loadMapFd(R1, fd),
  mov.reg(R2, R10),
  add.imm(R2, -16),
  call(Helper.map_lookup_elem),
];
const storage = (flags: number) => [
  call(Helper.get_current_task_btf),
  mov.reg(R2, R0),
  loadMapFd(R1, f.starts),
  mov.imm(R3, 0),
  mov.imm(R4, flags),
  call(Helper.task_storage_get),
];
const key: Insn[] = [
  call(Helper.get_current_pid_tgid),
  rsh.imm(R0, 32),
  stx.w(R10, -16, R0),
  st.w(R10, -12, 7),
  st.dw(R10, -8, 0),
];
const CALLS = 200_000;
const rep = (insns: Insn[]) => Array.from({ length: N }, () => insns).flat();
const variants: [string, Insn[]][] = [
  ["empty", []],
  [`${N} x ktime_get_ns`, rep([call(Helper.ktime_get_ns)])],
  [`${N} x get_current_pid_tgid`, rep([call(Helper.get_current_pid_tgid)])],
  [`${N} x get_current_task_btf`, rep([call(Helper.get_current_task_btf)])],
  [`${N} x targets hash lookup (4-byte key, hit)`, [...key, ...rep(lookupAt(f.targets))]],
  [`${N} x per-CPU array lookup`, [...key, st.w(R10, -16, 0), ...rep(lookupAt(f.sysOps))]],
  [`${N} x per-CPU hash lookup (16-byte key, hit)`, [...key, ...rep(lookupAt(fdHash.fd))]],
  [`${N} x task_storage_get (create)`, rep(storage(BPF_LOCAL_STORAGE_GET_F_CREATE))],
  [`${N} x task_storage_get`, rep(storage(0))],
  ["1 x targets hash lookup", [...key, ...lookupAt(f.targets)]],
  ["1 x ktime_get_ns", [call(Helper.ktime_get_ns)]],
  [
    `${N} x probe_read_kernel 8 bytes`,
    rep([
      ldx.dw(R3, R6, 0),
      add.imm(R3, 112),
      mov.reg(R1, R10),
      add.imm(R1, -8),
      mov.imm(R2, 8),
      call(Helper.probe_read_kernel),
    ]),
  ],
];

const path = Deno.makeTempFileSync({ prefix: "ioscope-helper-costs-" });
Deno.writeFileSync(path, new Uint8Array(4096).fill(1));
const file = openFile(path);
const buf = allocPages(4096);
using _stats = new Fd(enableStats(), "BPF stats");
try {
  for (let round = 0; round < 3; round++) {
    const out: string[] = [];
    let empty = 0;
    for (const [name, body] of variants) {
      using prog = BpfProgram.load({
        type: ProgType.RAW_TRACEPOINT,
        name: "ios_cost",
        insns: [mov.reg(R6, R1), ...body, mov.imm(R0, 0), exit()],
      });
      using _link = BpfLink.attachRawTracepoint(prog, "sys_enter");
      const before = progInfo(prog.fd);
      for (let i = 0; i < CALLS; i++) pread(file.fd, buf.pointer, 1, 0);
      const after = progInfo(prog.fd);
      const ns = (after.runTimeNs - before.runTimeNs) / (after.runCnt - before.runCnt);
      if (name === "empty") empty = ns;
      const n = name.startsWith("1 x") ? 1 : N;
      out.push(
        `${name}: ${ns.toFixed(1)} ns/run` +
          (name === "empty" ? "" : `, ${((ns - empty) / n).toFixed(1)} ns per call`),
      );
    }
    console.log(`round ${round + 1} (load ${Deno.loadavg()[0]?.toFixed(2)}): ${out.join("; ")}`);
  }
} finally {
  file.close();
  Deno.removeSync(path);
}
