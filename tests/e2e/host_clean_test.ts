// The e2e helper's host check sees what it claims to: a BPF link of an `ios_`
// program attached by anyone is a leftover until it is closed.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { assertHostClean, ourBpfLinks } from "../_helpers/trace_run.ts";
import { BpfLink, BpfProgram, exit, mov, ProgType, R0 } from "../../ffi/bpf/mod.ts";

Deno.test("assertHostClean fails on a BPF link of an ios_ program and passes once it is closed", async () => {
  const before = await ourBpfLinks();
  assertEquals(before, [], "no ios_ link before the test (run under the test lock)");
  const prog = BpfProgram.load({
    type: ProgType.RAW_TRACEPOINT,
    name: "ios_leftover",
    insns: [mov.imm(R0, 0), exit()],
  });
  const link = BpfLink.attachRawTracepoint(prog, "sys_enter");
  try {
    const links = await ourBpfLinks();
    assertEquals(links.length, 1, links.join(", "));
    assert(links[0]!.includes("ios_leftover"), links[0]);
    let failed = "";
    await assertHostClean(-1, "a link held here").catch((e) => failed = String(e));
    assert(failed.includes("BPF links left"), `the check failed: ${failed}`);
  } finally {
    link.close();
    prog.close();
  }
  await assertHostClean(-1, "after close");
});
