// The bpf backend end to end (`ioscope trace --backend bpf`) on a workload
// with exactly known I/O: counts, bytes, errors by errno, per descriptor, and
// the Run's meta saying how it attached. Each attach path the kernel allows
// here is forced in turn (IOSCOPE_BPF_ATTACH, IOSCOPE_BPF_STARTS) and taken.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { startWorkload, tmpDir } from "../../../_helpers/common.ts";
import { traceRun } from "../../../_helpers/trace_run.ts";
import { bpfAttachPlan } from "../../../../agent/trace/backends/bpf.ts";

// What this kernel allows, by the backend's own trials (this machine kind: raw_tp, task
// storage; Debian 6.1 and 6.12: fentry; 5.10: no task storage). tests/kernels/ runs it there.
const PLAN = bpfAttachPlan();
const BEST = PLAN.kind ?? "raw_tp";

for (
  const [what, env, kind, starts] of [
    ["default", {}, BEST, PLAN.starts],
    ["classic tracepoints forced", { IOSCOPE_BPF_ATTACH: "tp" }, "tp", PLAN.starts],
    ["tid hash forced", { IOSCOPE_BPF_STARTS: "hash" }, BEST, "hash"],
    ...(BEST === "fentry"
      ? [[
        "raw tracepoints forced",
        { IOSCOPE_BPF_ATTACH: "raw_tp" },
        "raw_tp",
        PLAN.starts,
      ]] as const
      : []),
  ] as const
) {
  Deno.test(`bpf (${what}): exact counts, bytes and errors of a known workload; meta.attach says how`, async () => {
    await using dir = tmpDir();
    await using w = await startWorkload("known_io.ts", [dir.path, "1000", "500", "10"]);
    for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
    // traceRun spawns the CLI before its first await: the variables are set for it alone.
    let traced: ReturnType<typeof traceRun>;
    try {
      traced = traceRun(["--pid", String(w.pid), "--backend", "bpf"], `${dir.path}/run.json`, {
        during: async () => {
          await w.go();
          await w.child.status;
        },
      });
    } finally {
      for (const k of Object.keys(env)) Deno.env.delete(k);
    }
    const { run } = await traced;
    assertEquals(run.meta.backend, "bpf");
    assertEquals([run.meta.attach?.kind, run.meta.attach?.starts], [kind, starts]);
    if (kind !== "fentry" && !("IOSCOPE_BPF_ATTACH" in env)) {
      // Where fentry is not taken the reason is the kernel's (this machine kind: EPERM).
      const planned = PLAN.reasons.find((r) => r.kind === "fentry")?.reason ?? "";
      const word = /EPERM/.test(planned) ? "EPERM" : "";
      assert(
        run.meta.attach?.reasons.some((r) => r.kind === "fentry" && r.reason.includes(word)),
        JSON.stringify(run.meta.attach),
      );
    }
    assertEquals(run.meta.lost_events, 0);
    const pread = run.syscalls.pread64;
    assertEquals([pread?.count, pread?.errors, pread?.bytes], [1002, 2, 1000 * 4096]);
    assertEquals([run.syscalls.pwrite64?.count, run.syscalls.pwrite64?.bytes], [500, 500_000]);
    assertEquals([run.syscalls.sendfile64?.count, run.copy.zero_copy_bytes], [10, 10 * 65536]);
    // Buckets hold the successful calls (issue 13: an EBADF is not a fast read).
    assertEquals(pread?.buckets.reduce((s, b) => s + b[2], 0), 1000, "successful calls in buckets");
    assert(run.faults.total > 0, "page faults counted");
    assert(run.sched.voluntary + run.sched.involuntary > 0, "switches counted");
  });
}
