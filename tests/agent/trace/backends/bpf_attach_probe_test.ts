// The bpf backend decides whether fentry can be used by probing, before it
// loads any of its programs: where the kernel refuses TRACING programs (this
// machine kind: EPERM) or its BTF only declares a syscall function's argument
// (Debian's 5.10: `__x64_sys_sendto`'s pt_regs), the reason the backend gives
// is the probe's, not a verifier rejection of one of its programs. Before
// (5.10 in `deno task test:kernels`, 2026-12-06): it loaded fentry programs
// until "ios_e_sendto: the verifier refused it at instruction 78 ...
// invalid bpf_context access", then fell back.
import { assertEquals } from "../../../_helpers/assert.ts";
import { bpfAttachPlan, startBpf } from "../../../../agent/trace/backends/bpf.ts";

const PLAN = bpfAttachPlan();

Deno.test("bpf: the attach path is decided by probing; where fentry is out, the probe's reason is given", async () => {
  const backend = startBpf({ pids: [Deno.pid] });
  await backend.stop();
  assertEquals(backend.attach.kind, PLAN.kind, JSON.stringify(backend.attach.reasons));
  const why = (rs: { kind: string; reason: string }[]) => rs.find((r) => r.kind === "fentry");
  console.error(`fentry: ${why(PLAN.reasons)?.reason ?? "used"}`);
  assertEquals(why(backend.attach.reasons)?.reason, why(PLAN.reasons)?.reason);
});
