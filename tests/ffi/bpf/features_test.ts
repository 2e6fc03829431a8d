// The kernel feature probes the bpf backend decides by (never a version number), each
// checked against another view of the same kernel. tests/kernels/ runs these on Debian
// 5.10, 6.1 and 6.12 guests, where the answers differ from this host's.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { eventFormat } from "../../../agent/trace/tracefs.ts";
import {
  haveHelper,
  haveTaskStorage,
  Helper,
  memlockCharged,
  prlimit,
  ProgType,
  raiseMemlockWhereCharged,
  rawTracepointArgs,
  RLIM_INFINITY,
  RLIMIT_MEMLOCK,
} from "../../../ffi/bpf/mod.ts";

Deno.test("feature: sched_process_exit's raw tracepoint passes group_dead exactly where its tracefs record has it", () => {
  const hasField = eventFormat("sched", "sched_process_exit").includes(" group_dead;");
  const raw = rawTracepointArgs("sched_process_exit");
  if (raw.args === undefined) {
    // Without the kernel's BTF the backend goes by the tracefs record (_targets.ts).
    assert(/BTF/.test(raw.reason), raw.reason);
    console.error(`features_test: no BTF count of sched_process_exit's arguments: ${raw.reason}`);
    return;
  }
  assertEquals(raw.args, hasField ? 2 : 1, raw.reason);
});

Deno.test("feature: maps are charged to RLIMIT_MEMLOCK only where a map cannot be made under a zero limit; raised only there", () => {
  const before = prlimit(RLIMIT_MEMLOCK, null);
  const charged = memlockCharged();
  assertEquals(prlimit(RLIMIT_MEMLOCK, null), before, "the probe puts the limit back");
  const raised = raiseMemlockWhereCharged();
  assert(raised.ok, raised.reason);
  const after = prlimit(RLIMIT_MEMLOCK, null);
  if (charged.ok) assertEquals(after, { cur: RLIM_INFINITY, max: RLIM_INFINITY }, raised.reason);
  else assertEquals(after, before, raised.reason);
});

Deno.test("feature: where task storage maps are made, programs may call get_current_task_btf (what they use it with)", () => {
  const helper = haveHelper(ProgType.RAW_TRACEPOINT, Helper.get_current_task_btf);
  const storage = haveTaskStorage();
  if (storage.ok) assert(helper.ok, helper.reason);
  if (!helper.ok) assert(/unknown#158|invalid func/.test(helper.reason), helper.reason);
  // A helper every kernel has loads: the probe itself works.
  const pidTgid = haveHelper(ProgType.RAW_TRACEPOINT, Helper.get_current_pid_tgid);
  assert(pidTgid.ok, pidTgid.reason);
});
