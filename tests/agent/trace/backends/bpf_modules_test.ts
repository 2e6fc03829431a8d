// Program modules (probes/bpf/module.ts) in the kernel: one that does not
// load here is left out with its reason and its maps closed, the others load;
// run under the lock with the other bpf tests.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { exit, type Insn, ldx, loadMapValue, mov, R0, R1 } from "../../../../ffi/bpf/asm.ts";
import { MapType } from "../../../../ffi/bpf/sys.ts";
import { loadModules } from "../../../../agent/trace/backends/bpf.ts";
import { defineModule } from "../../../../probes/bpf/module.ts";
import type { BuildContext } from "../../../../probes/bpf/_emit.ts";
import { fakeMapFds } from "../../../probes/bpf/_streams.ts";

const B: BuildContext = {
  kind: "tp",
  field: () => {
    throw new Error("no fields");
  },
  maps: fakeMapFds(true),
  filter: {},
};

/** A module whose one program attaches to `tracepoint`, with one array map. */
function moduleOn(
  name: string,
  tracepoint: string,
  insns: (fds: Record<string, number>) => Insn[] = () => [mov.imm(R0, 0), exit()],
) {
  let fds: Record<string, number> = {};
  const module = defineModule({
    name,
    maps: {
      counts: { name: "ios_t_mod", type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 },
    },
    programs: (_b, f) => {
      fds = f;
      return [{
        name: "ios_t_mod",
        kind: "tp",
        at: { tracepoint },
        insns: insns(f),
      }];
    },
    read: (maps) => maps.counts.fd,
  });
  return { module, fds: () => fds };
}

function fdOpen(fd: number): boolean {
  try {
    Deno.readLinkSync(`/proc/self/fd/${fd}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("bpf modules: one that does not attach is left out with its reason, its maps closed; the next loads", () => {
  const bad = moduleOn("nowhere", "syscalls:sys_enter_no_such_call");
  const good = moduleOn("good", "syscalls:sys_enter_fsync");
  const alone: { kind: string; reason: string }[] = [];
  assertEquals(loadModules(B, [bad.module], alone).length, 0);
  const badFd = bad.fds().counts!;
  assert(badFd > 0 && !fdOpen(badFd), `the failed module's map (fd ${badFd}) is closed`);
  const reasons: { kind: string; reason: string }[] = [];
  const loaded = loadModules(B, [bad.module, good.module], reasons);
  try {
    assertEquals(loaded.map((m) => m.module.name), ["good"]);
    assertEquals(reasons.map((r) => r.kind), ["module:nowhere"]);
    assert(/sys_enter_no_such_call|ENOENT/.test(reasons[0]!.reason), reasons[0]!.reason);
    assert(fdOpen(good.fds().counts!), "the loaded module's map is open");
    assertEquals(loaded[0]!.module.read(loaded[0]!.maps), good.fds().counts);
  } finally {
    for (const m of loaded) {
      m.set.close();
      for (const map of Object.values(m.maps)) map.close();
    }
  }
});

Deno.test("bpf modules: a verifier refusal names the failing instruction, printed", () => {
  // The value is 8 bytes: a read 96 bytes into it is refused.
  const bad = moduleOn("past", "syscalls:sys_enter_fsync", (f) => [
    loadMapValue(R0, f.counts!, 0),
    ldx.dw(R1, R0, 96),
    mov.imm(R0, 0),
    exit(),
  ]);
  const reasons: { kind: string; reason: string }[] = [];
  assertEquals(loadModules(B, [bad.module], reasons).length, 0);
  assertEquals(reasons.map((r) => r.kind), ["module:past"]);
  assert(
    reasons[0]!.reason.includes("at instruction 2 (source #1: r1 = *(u64 *)(r0 +96))"),
    reasons[0]!.reason,
  );
});
