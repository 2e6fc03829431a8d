/**
 * Loading programs: a verifier rejection is one line with the program's
 * name, the instruction and the verifier's reason; what we send is what the
 * kernel holds (bpftool's dump of the loaded instructions); TRACING (fentry)
 * is refused on this machine kind, and the feature probe says why.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  add,
  assemble,
  AttachType,
  BpfMap,
  BpfProgram,
  BpfVerifierError,
  call,
  canLoad,
  exit,
  Helper,
  jeq,
  label,
  ldx,
  loadMapFd,
  MapType,
  mov,
  parseVerifierLog,
  pinned,
  progLoadAttr,
  ProgType,
  R0,
  R1,
  R10,
  R2,
  rsh,
  st,
  syscallFunction,
  vmlinuxBtf,
} from "../../../ffi/bpf/mod.ts";
import { ErrnoError } from "../../../ffi/errno.ts";

Deno.test("program: a verifier rejection is one line with name, instruction and reason", () => {
  // A hash map: an array's lookup with a constant key is known non-NULL to the verifier.
  using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 1 });
  const insns = [
    st.w(R10, -4, 0), //             0: key = 0
    loadMapFd(R1, m.fd), //          1-2
    mov.reg(R2, R10), //             3
    add.imm(R2, -4), //              4
    call(Helper.map_lookup_elem), // 5
    ldx.dw(R0, R0, 0), //            6: the value read without checking for NULL
    mov.imm(R0, 0), //               7
    exit(), //                       8
  ];
  try {
    using _ = BpfProgram.load({ type: ProgType.RAW_TRACEPOINT, name: "test_reject", insns });
  } catch (e: unknown) {
    assert(e instanceof BpfVerifierError, `${e} is not a BpfVerifierError`);
    assertEquals(e.program, "test_reject");
    assertEquals(e.insnIndex, 6);
    assertEquals(e.code, "EACCES");
    assert(e.reason.includes("invalid mem access 'map_value_or_null'"), e.reason);
    assertEquals(
      e.message,
      `Cannot load BPF program "test_reject": the verifier refused it at instruction 6 ` +
        `(source #5: r0 = *(u64 *)(r0 +0)): ${e.reason} (EACCES)`,
    );
    assert(!e.message.includes("\n"), "the message is one line");
    assert(e.log.length >= 2 && e.log.at(-1) === e.reason, e.log.join("\n"));
    return;
  }
  throw new Error("the verifier accepted a NULL dereference");
});

Deno.test("program: a rejection names the label before the failing instruction", () => {
  try {
    using _ = BpfProgram.load({
      type: ProgType.RAW_TRACEPOINT,
      name: "test_label",
      insns: [
        mov.imm(R0, 0), //       0
        jeq.imm(R1, 0, "bad"), // 1
        exit(), //               2
        label("bad"),
        mov.imm(R0, 0), //       3
        ldx.dw(R0, R2, 0), //    4: r2 was never set
        exit(),
      ],
    });
  } catch (e: unknown) {
    assert(e instanceof BpfVerifierError, String(e));
    assertEquals(e.insnIndex, 4);
    assertEquals(e.where, '1 after label "bad"');
    // The failing instruction, printed (print.ts): what the verifier's index points at.
    assertEquals(e.insn, "r0 = *(u64 *)(r2 +0)");
    assert(
      e.message.includes(
        `at instruction 4 (1 after label "bad": r0 = *(u64 *)(r2 +0)): R2 !read_ok`,
      ),
      e.message,
    );
    return;
  }
  throw new Error("the verifier accepted a read of an unset register");
});

Deno.test("program: a verifier log's statistics are skipped for the reason", () => {
  const p = parseVerifierLog(
    "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0\n1: (95) exit\n" +
      "At program exit the register R0 has unknown scalar value\n" +
      "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0\n",
  );
  assertEquals(p.reason, "At program exit the register R0 has unknown scalar value");
  assertEquals(p.insnIndex, 1);
  assertEquals(parseVerifierLog("").insnIndex, -1);
});

Deno.test("program: the kernel holds the instructions we assembled (bpftool xlated)", async () => {
  // r0 comes from the context, so the verifier cannot prune either branch.
  const insns = [
    ldx.dw(R0, R1, 8),
    rsh.imm(R0, 1),
    jeq.imm(R0, 3, "three"),
    mov.imm(R0, 0),
    label("three"),
    exit(),
  ];
  using p = BpfProgram.load({ type: ProgType.RAW_TRACEPOINT, name: "test_xlated", insns });
  const out = await new Deno.Command("bpftool", {
    args: ["-j", "prog", "dump", "xlated", "id", String(p.id), "opcodes"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  // bpftool prints each instruction's fields: rebuild the 8 bytes from them.
  type Opcodes = { code: string; src_reg: string; dst_reg: string; off: string[]; imm: string[] };
  const dump = JSON.parse(new TextDecoder().decode(out.stdout)) as { opcodes: Opcodes }[];
  const n = (h: string) => parseInt(h, 16);
  const bytes = dump.flatMap(({ opcodes: o }) => [
    n(o.code),
    (n(o.src_reg) << 4) | n(o.dst_reg),
    ...o.off.map(n),
    ...o.imm.map(n),
  ]);
  assertEquals(bytes, [...assemble(insns)]);
  assertEquals(p.info().name, "test_xlated");
  assertEquals(p.insnCount, 5);
});

Deno.test("program: the fentry attr carries the attach type and the function's BTF id", () => {
  const fn = syscallFunction("read");
  const id = vmlinuxBtf().funcId(fn)!;
  const insns = pinned(16);
  insns.set(assemble([mov.imm(R0, 0), exit()]));
  const attr = progLoadAttr(
    {
      type: ProgType.TRACING,
      name: "test_fentry",
      insns,
      expectedAttachType: AttachType.TRACE_FENTRY,
      attachBtfId: id,
    },
    new TextEncoder().encode("GPL\0"),
    null,
  );
  // Offsets in union bpf_attr (include/uapi/linux/bpf.h, checked with offsetof()).
  const v = new DataView(attr.buffer, attr.byteOffset);
  assertEquals(v.getUint32(0, true), 26, "prog_type = BPF_PROG_TYPE_TRACING");
  assertEquals(v.getUint32(4, true), 2, "insn_cnt");
  assertEquals(v.getUint32(24, true), 0, "log_level: no log on the first try");
  assertEquals(new TextDecoder().decode(attr.subarray(48, 59)), "test_fentry", "prog_name");
  assertEquals(v.getUint32(68, true), 24, "expected_attach_type = BPF_TRACE_FENTRY");
  assertEquals(v.getUint32(108, true), id, "attach_btf_id");
});

Deno.test("program: TRACING (fentry) is refused here with EPERM, and the probe says so", () => {
  // This machine kind refuses BPF_PROG_TYPE_TRACING before the verifier runs
  // (COMMON.md); the bpf backend falls back to raw tracepoints on that reason.
  const fn = syscallFunction("read");
  try {
    using _ = BpfProgram.load({
      type: ProgType.TRACING,
      name: "test_fentry",
      insns: [mov.imm(R0, 0), exit()],
      expectedAttachType: AttachType.TRACE_FENTRY,
      attachBtfId: vmlinuxBtf().funcId(fn)!,
    });
    throw new Error("a TRACING program loaded: this machine kind is expected to refuse it");
  } catch (e: unknown) {
    assert(e instanceof ErrnoError && !(e instanceof BpfVerifierError), String(e));
    assertEquals(e.code, "EPERM");
  }
  const f = canLoad(ProgType.TRACING);
  assertEquals(f.ok, false);
  assertEquals(
    f.reason,
    `BPF_PROG_TYPE_TRACING does not load here: bpf(BPF_PROG_LOAD) failed: EPERM ` +
      `(Operation not permitted): program "ioscope_probe"`,
  );
  assertEquals(canLoad(ProgType.TRACING), f, "cached");
  assertEquals(canLoad(ProgType.RAW_TRACEPOINT).ok, true);
});
