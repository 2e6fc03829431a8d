// bpf, bpftrace and ftrace tracing one run of a known workload at once: the
// same calls, bytes and errors, fault and switch counts alike. Not latencies:
// tracers on one tracepoint time part of each other's probes, in the order
// they attached, a large share of a microsecond call that no model of the
// probes' cost accounts for soundly (before, one let bpf read -0.35 to +1.65
// us from bpftrace and pass). Each backend's latency is held alone to a
// workload's own timing instead (timer_agree_test.ts).
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { startWorkload, tmpDir } from "../../../_helpers/common.ts";
import { startTrace } from "../../../_helpers/trace_run.ts";
import type { RunDocument } from "../../../../schema/mod.ts";
import { readCtxSwitches } from "../../../../agent/trace/proc.ts";

/** A process's context switches so far, every thread, from /proc. */
function totalSwitches(pid: number): number {
  const s = readCtxSwitches(pid);
  return s ? s.voluntary + s.involuntary : 0;
}

Deno.test("bpf, bpftrace and ftrace on one known workload agree: exact counts, bytes and errors, faults and switches", async () => {
  await using dir = tmpDir();
  await using w = await startWorkload("known_io.ts", [dir.path, "20000", "5000", "10"]);
  const runs = new Map<string, RunDocument>();
  // ftrace attaches first, so bpftrace's window lies inside ftrace's.
  const f = await startTrace(
    ["--pid", String(w.pid), "--backend", "ftrace"],
    `${dir.path}/f.json`,
    {
      what: "ftrace",
    },
  );
  // The workload's switches (from /proc) while only ftrace traces it.
  const idleFrom = totalSwitches(w.pid);
  const b = await startTrace(
    ["--pid", String(w.pid), "--backend", "bpftrace"],
    `${dir.path}/b.json`,
    { what: "bpftrace" },
  );
  const onlyFtrace = totalSwitches(w.pid) - idleFrom;
  const o = await startTrace(["--pid", String(w.pid), "--backend", "bpf"], `${dir.path}/o.json`, {
    what: "bpf",
  });
  await w.go();
  assert((await w.child.status).success, "the workload ran");
  for (const [name, trace] of [["bpftrace", b], ["ftrace", f], ["bpf", o]] as const) {
    runs.set(name, (await trace.end()).run);
  }
  const bt = runs.get("bpftrace");
  const ft = runs.get("ftrace");
  assert(bt && ft);
  assertEquals(ft.meta.lost_events, 0);
  for (const name of ["pread64", "pwrite64", "sendfile64"]) {
    const x = bt.syscalls[name];
    const y = ft.syscalls[name];
    assert(x && y, `${name} from both`);
    assertEquals([y.count, y.errors, y.bytes], [x.count, x.errors, x.bytes], name);
  }
  assertEquals(ft.syscalls.pread64?.count, 20002);
  // The bpf backend attached last: its window lies inside both others'.
  const bp = runs.get("bpf");
  assert(bp);
  assertEquals([bp.meta.lost_events, bp.meta.backend], [0, "bpf"]);
  for (const name of ["pread64", "pwrite64", "sendfile64"]) {
    const x = bt.syscalls[name];
    const y = bp.syscalls[name];
    assert(x && y, `${name} from bpf`);
    assertEquals([y.count, y.errors, y.bytes], [x.count, x.errors, x.bytes], `bpf ${name}`);
  }
  // Faults and switches: the same tracepoints, the same tasks. The windows
  // differ only while the workload waits on stdin. Before, ftrace
  // counted 187 switches against bpftrace's 98, and 956 voluntary against 23:
  // a record written at a context switch in the outgoing task's name
  // (tlb:tlb_flush "flush on task switch", passed by the PID filter that
  // already follows the incoming, traced task) made that task the target's,
  // and then every switch of it (rcu_preempt's idle sleeps, other processes'
  // threads) counted. Now an unknown task is the target's only if its thread
  // group is: faults agree exactly here (613 = 613, 720 = 720), switches
  // within a few (ftrace 141 vs 143, 105 vs 106).
  const switches = (r: RunDocument) => r.sched.voluntary + r.sched.involuntary;
  for (const [name, r] of runs) {
    if (name === "bpftrace") continue;
    const what = `${name} vs bpftrace`;
    assert(bt.faults.total > 0 && switches(bt) > 0, "faults and switches counted by bpftrace");
    // bpf attached last: its window lies inside bpftrace's and holds all the
    // workload's work, so their faults agree exactly (752 = 752, 634 = 634).
    // ftrace attached first: its window also holds the 1.4-1.8 s while
    // bpftrace attached, and the idle Deno workload's threads fault then (41-44
    // more: 794 vs 752, 678 vs 634). Not foreign tasks: with bpf attached first
    // instead, bpf and ftrace agree (673 = 673) against bpftrace's 632.
    const extra = r.faults.total - bt.faults.total;
    const allowed = name === "ftrace" ? [-5, bt.faults.total * 0.1 + 10] : [-5, 5];
    assert(
      extra >= allowed[0]! - bt.faults.total * 0.02 &&
        extra <= allowed[1]! + bt.faults.total * 0.02,
      `${what}: page faults ${r.faults.total} vs ${bt.faults.total}`,
    );
    // The same holds for switches: ftrace's wider window also holds those
    // the idle workload made while bpftrace attached. Measured four times:
    // ftrace - bpftrace = 10, 8, 11, 11 against /proc's 9, 8, 10, 10 in that
    // time (and bpf = bpftrace exactly); a full suite run once gave 52 vs 38.
    const sw = Math.abs(switches(r) - switches(bt));
    const window = name === "ftrace" ? onlyFtrace : 0;
    assert(
      sw <= switches(bt) * 0.1 + 10 + window,
      `${what}: context switches ${JSON.stringify(r.sched)} vs ${JSON.stringify(bt.sched)}, ` +
        `${window} while only ftrace traced`,
    );
  }
});
