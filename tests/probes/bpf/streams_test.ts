// The converted programs (_targets.ts, _io_uring.ts) encode to the bytes
// recorded in tests/testdata/bpf_streams.json under every build context:
// naming slots, registers and helpers changes no instruction the kernel runs.
// A change meant to alter a program regenerates the fixture (_streams.ts).
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { clobberedReads } from "../../../ffi/bpf/asm.ts";
import { CONVERTED, fakeMapFds, FIXTURE, streamHashes } from "./_streams.ts";
import { planPrograms } from "../../../probes/bpf/programs.ts";

Deno.test("bpf streams: the converted programs encode as recorded", async () => {
  const want = JSON.parse(Deno.readTextFileSync(FIXTURE)) as Record<string, string>;
  const got = await streamHashes(CONVERTED);
  assert(Object.keys(want).length >= 70, `${Object.keys(want).length} recorded streams`);
  const differ = Object.keys(want).filter((k) => got[k] !== want[k]);
  assertEquals(differ, [], "programs whose bytes changed");
  assertEquals(Object.keys(got).sort(), Object.keys(want).sort());
});

Deno.test("bpf streams: no program reads an argument register a helper call overwrote", () => {
  for (const kind of ["fentry", "raw_tp", "tp"] as const) {
    const plan = planPrograms({
      kind,
      field: () => ({ offset: 8, size: 8, signed: true }),
      maps: fakeMapFds(true),
      filter: { comm: "nginx", followChildren: true, cgroup: { id: 7n, level: 1 } },
    }, {
      uring: true,
      tlb: true,
      rename: true,
      syscalls: [{ name: "read", nr: 0, slotValue: 1, function: "__x64_sys_read" }],
    });
    for (const p of plan) assertEquals(clobberedReads(p.insns), [], `${kind} ${p.name}`);
  }
});
