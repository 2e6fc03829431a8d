// The walk-through's example program (ARCHITECTURE.md, "Writing a BPF
// program"): the document shows probes/bpf/_fsync_count.ts verbatim and its
// printed instructions; here both are checked against the code, and the
// program is run by the bpf backend in the kernel (run under the lock:
// flock /tmp/ioscope-test.lock deno test -A tests/probes/bpf/fsync_count_test.ts).
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { ROOT } from "../../_helpers/common.ts";
import { waitGone } from "../../ffi/bpf/_helpers.ts";
import { clobberedReads } from "../../../ffi/bpf/asm.ts";
import { BpfMap, BpfProgram, BpfVerifierError, MapType, ProgType } from "../../../ffi/mod.ts";
import { formatProgram } from "../../../ffi/bpf/print.ts";
import { fsyncCount, SLOTS } from "../../../probes/bpf/_fsync_count.ts";
import { BPF_MODULES, EXAMPLE_MODULES } from "../../../probes/bpf/modules.ts";
import { startBpf } from "../../../agent/trace/backends/bpf.ts";
import { fakeMapFds } from "./_streams.ts";

/** The fenced blocks of ARCHITECTURE.md's walk-through, in order. */
function walkThroughBlocks(): { lang: string; text: string }[] {
  const doc = Deno.readTextFileSync(`${ROOT}ARCHITECTURE.md`);
  const at = doc.indexOf("\n## Writing a BPF program");
  assert(at >= 0, "ARCHITECTURE.md has the walk-through");
  const section = doc.slice(at + 1).split(/\n## /)[0]!;
  return [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1]!,
    text: m[2]!,
  }));
}

function built() {
  const b = {
    kind: "tp" as const,
    field: () => {
      throw new Error("the example reads no tracepoint field");
    },
    maps: fakeMapFds(true),
    filter: {},
  };
  return fsyncCount.programs(b, { calls: 30 });
}

Deno.test("walk-through: the document shows _fsync_count.ts verbatim, and its one registry line", () => {
  const blocks = walkThroughBlocks();
  const file = Deno.readTextFileSync(`${ROOT}probes/bpf/_fsync_count.ts`);
  assertEquals(blocks[0]?.text, file, "the first ts block is probes/bpf/_fsync_count.ts");
  assert(EXAMPLE_MODULES.includes(fsyncCount), "the example in probes/bpf/modules.ts");
  assert(!BPF_MODULES.includes(fsyncCount), "not run in every trace: fsync is traced already");
  assert(blocks.some((b) => b.text.includes("  fsyncCount,\n")), "the registry line is shown");
});

Deno.test("walk-through: the printed program in the document is what the module builds", () => {
  const [p, ...more] = built();
  assert(p && more.length === 0, "one program");
  assertEquals(p.at, { tracepoint: "syscalls:sys_enter_fsync" });
  const text = formatProgram(p.insns, {
    maps: { 10: "gate", 11: "targets", 30: "calls" },
    frame: SLOTS,
  });
  const listing = walkThroughBlocks().find((b) =>
    b.lang === "text" && !b.text.startsWith("Cannot")
  );
  assertEquals(listing?.text, text);
  assertEquals(clobberedReads(p.insns), []);
});

Deno.test("walk-through: the bpf backend runs the example: the traced process's fsync calls counted exactly, fdatasync not", async () => {
  const path = Deno.makeTempFileSync({ dir: "/dev/shm", prefix: "ioscope-fsync-" });
  using f = Deno.openSync(path, { write: true });
  try {
    f.syncSync(); // before the trace: not counted
    const backend = startBpf({ pids: [Deno.pid], modules: [fsyncCount] });
    const ids = backend.objectIds();
    let counts: Map<number, number>;
    try {
      assert(
        !backend.attach.reasons.some((r) => r.kind === "module:fsync"),
        JSON.stringify(backend.attach.reasons),
      );
      for (let i = 0; i < 7; i++) f.syncSync(); // fsync(2)
      f.syncDataSync(); // fdatasync(2): another tracepoint, not counted
      counts = backend.modules().fsync as Map<number, number>;
    } finally {
      await backend.stop();
    }
    assertEquals(counts.get(Deno.pid), 7);
    assertEquals([...counts.keys()], [Deno.pid], "only the traced process");
    assertEquals(await waitGone(ids.programs, ids.links), { programs: [], links: [] });
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("walk-through: the verifier error the document shows is the kernel's, with the instruction printed", () => {
  using gate = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
  using targets = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
  using calls = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8 });
  const b = {
    kind: "tp" as const,
    field: () => {
      throw new Error("no fields");
    },
    maps: { ...fakeMapFds(true), gate: gate.fd, targets: targets.fd },
    filter: {},
  };
  const [p] = fsyncCount.programs(b, { calls: calls.fd });
  // Without the test of the lookup's result: the jeq to "first", and the third jump to "out"
  // (the one past the insert, which would leave the insert unreachable).
  let outs = 0;
  const broken = p!.insns.filter((i) =>
    !(i.kind === "insn" && (i.target === "first" || (i.target === "out" && ++outs === 3)))
  );
  const shown = walkThroughBlocks().find((x) => x.text.startsWith("Cannot load"))?.text.trim();
  try {
    using _ = BpfProgram.load({ type: ProgType.TRACEPOINT, name: "ios_fsync", insns: broken });
  } catch (e: unknown) {
    assert(e instanceof BpfVerifierError, String(e));
    assertEquals(e.message, shown);
    return;
  }
  throw new Error("the verifier accepted a map value used without its NULL test");
});
