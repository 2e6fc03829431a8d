// The fentry/fexit path: built in full, checked as far as this machine kind
// allows (it refuses BPF_PROG_TYPE_TRACING with EPERM before the verifier
// runs): the load attrs of each program against the kernel's own BTF, and the
// clean fallback when the kernel says no.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { vmlinuxBtf } from "../../../../ffi/bpf/btf.ts";
import { assemble } from "../../../../ffi/bpf/asm.ts";
import { cString, progLoadAttr } from "../../../../ffi/bpf/sys.ts";
import {
  type BpfBackend,
  programSpec,
  startBpf,
  tracedSyscalls,
} from "../../../../agent/trace/backends/bpf.ts";
import type { BuildContext } from "../../../../probes/bpf/_emit.ts";
import { slotValue } from "../../../../probes/bpf/maps.ts";
import { planPrograms } from "../../../../probes/bpf/programs.ts";

const BPF_PROG_TYPE_TRACING = 26;
const BPF_TRACE_FENTRY = 24;
const BPF_TRACE_FEXIT = 25;

Deno.test("fentry/fexit programs load as TRACING programs on each syscall's kernel function (attrs against the real BTF)", () => {
  const btf = vmlinuxBtf();
  const syscalls = tracedSyscalls();
  const b: BuildContext = {
    kind: "fentry",
    field: () => ({ offset: 8, size: 8, signed: true }),
    maps: {
      gate: 2,
      targets: 3,
      starts: 4,
      startsInTaskStorage: true,
      sysOps: 6,
      sysHist: 7,
      errnos: 8,
      fds: 9,
      counters: 10,
      uringReqs: 11,
      uringOps: 12,
      uringHist: 13,
      uringUserData: 14,
    },
    filter: {},
  };
  const plan = planPrograms(b, {
    uring: true,
    tlb: true,
    rename: true,
    syscalls: syscalls.map((s, slot) => ({
      name: s.name,
      nr: s.nr,
      slotValue: slotValue(s, slot),
      function: `__x64_sys_${s.name}`,
    })),
  });
  const tracing = plan.filter((p) => "function" in p.at);
  assertEquals(tracing.length, 2 * syscalls.length, "an fentry and an fexit per syscall");
  for (const p of tracing) {
    const spec = programSpec(p, (name) => btf.funcId(name));
    const fn = "function" in p.at ? p.at.function : "";
    const id = btf.funcId(fn);
    assert(id !== undefined && id > 0, `${fn} is in the kernel's BTF`);
    const exit = "function" in p.at && p.at.exit;
    const attr = new DataView(
      progLoadAttr(
        { ...spec, insns: assemble(Array.isArray(spec.insns) ? spec.insns : []) },
        cString("GPL"),
        null,
      ).buffer,
    );
    assertEquals(attr.getUint32(0, true), BPF_PROG_TYPE_TRACING, `${p.name} prog_type`);
    assertEquals(
      attr.getUint32(68, true),
      exit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY,
      `${p.name} expected_attach_type`,
    );
    assertEquals(attr.getUint32(108, true), id, `${p.name} attach_btf_id`);
  }
  // Tracepoint programs stay raw tracepoint (17) or classic (5) programs.
  for (const p of plan.filter((p) => !("function" in p.at))) {
    assert([5, 17].includes(programSpec(p, () => undefined).type), p.name);
  }
});

Deno.test("asked for fentry where TRACING loads are refused: the backend falls back to raw tracepoints and says why", async () => {
  const backend: BpfBackend = startBpf({ pids: [Deno.pid], attach: "fentry" });
  try {
    assertEquals(backend.attach.kind, "raw_tp");
    const fentry = backend.attach.reasons.find((r) => r.kind === "fentry");
    assert(fentry && fentry.reason.includes("EPERM"), JSON.stringify(backend.attach));
    // Nothing of the fentry attempt is left loaded: only this set's programs are ours.
    const names = backend.objectIds().programs.length;
    assert(names > 0 && names < 20, `${names} programs`);
  } finally {
    await backend.stop();
  }
});
