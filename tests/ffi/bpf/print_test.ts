// The instruction printer: one line per instruction in the verifier's
// syntax, labels, jump targets, helpers, maps and stack slots by name.
import { assertEquals } from "../../_helpers/assert.ts";
import {
  add,
  and32,
  arsh,
  atomicAdd,
  call,
  exit,
  ja,
  jeq,
  jne32,
  jslt,
  label,
  ldImm64,
  ldx,
  loadMapFd,
  loadMapValue,
  mov,
  neg,
  R0,
  R1,
  R10,
  R2,
  R6,
  st,
  stx,
} from "../../../ffi/bpf/asm.ts";
import { stackFrame } from "../../../ffi/bpf/frame.ts";
import { formatAt, formatProgram } from "../../../ffi/bpf/print.ts";
import { Helper } from "../../../ffi/bpf/sys.ts";

Deno.test("print: a program, numbered by verifier slot (ld_imm64 takes two)", () => {
  const fp = stackFrame({ key: 4, value: 8 });
  const program = [
    loadMapValue(R0, 10, 0),
    ldx.dw(R0, R0, 0),
    jeq.imm(R0, 0, "out"),
    mov.reg(R6, R1),
    st.w(R10, fp.key, 3),
    loadMapFd(R1, 11),
    mov.reg(R2, R10),
    add.imm(R2, fp.key),
    call(Helper.map_lookup_elem),
    jeq.imm(R0, 0, "out"),
    atomicAdd.dw(R0, 0, R1),
    stx.dw(R10, fp.value, R0),
    ldImm64(R1, 0x1234_5678_9an),
    neg(R1),
    arsh.imm(R1, 32),
    and32.imm(R1, 0xff),
    jne32.reg(R1, R2, "out"),
    jslt.imm(R1, -1, "out"),
    call(Helper.get_current_ancestor_cgroup_id),
    ja("out"),
    label("out"),
    mov.imm(R0, 0),
    exit(),
  ];
  assertEquals(
    formatProgram(program, { maps: { 10: "gate", 11: "targets" }, frame: fp }),
    [
      "    0: r0 = map_value[gate] + 0",
      "    2: r0 = *(u64 *)(r0 +0)",
      "    3: if r0 == 0 goto out",
      "    4: r6 = r1",
      "    5: *(u32 *)(r10 -4) {key} = 3",
      "    6: r1 = map[targets]",
      "    8: r2 = r10",
      "    9: r2 += -4 {&key}",
      "   10: call map_lookup_elem#1",
      "   11: if r0 == 0 goto out",
      "   12: lock *(u64 *)(r0 +0) += r1",
      "   13: *(u64 *)(r10 -16) {value} = r0",
      "   14: r1 = 0x123456789a ll",
      "   16: r1 = -r1",
      "   17: r1 s>>= 32",
      "   18: w1 &= 255",
      "   19: if w1 != w2 goto out",
      "   20: if r1 s< -1 goto out",
      "   21: call get_current_ancestor_cgroup_id#123",
      "   22: goto out",
      "out:",
      "   23: r0 = 0",
      "   24: exit",
      "",
    ].join("\n"),
  );
  // The verifier's index 15 is the second half of the ld_imm64 at 14.
  assertEquals(formatAt(program, 15), "r1 = 0x123456789a ll");
  assertEquals(formatAt(program, 99), "");
  // Unnamed maps show their descriptor.
  assertEquals(formatAt(program, 6), "r1 = map[fd 11]");
});
