/**
 * buildRun: what a backend could not count reaches the Run and its summary
 * (issue 12: nothing lost silently).
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { buildRun } from "../../../agent/trace/run_builder.ts";
import { isElf32 } from "../../../agent/trace/proc.ts";
import { summaryText } from "../../../agent/cli/_summary.ts";
import { emptySnapshot } from "../../../probes/snapshot.ts";
import type { RunDocument } from "../../../schema/mod.ts";
import { runOptionsOf } from "../../_helpers/documents.ts";
import { whyUnsupported } from "../../../agent/trace/_why_run.ts";
import { pageCacheUnsupported } from "../../../agent/trace/_page_cache_run.ts";

const META = JSON.parse(
  Deno.readTextFileSync(new URL("../../testdata/run_demo.json", import.meta.url)),
).meta as RunDocument["meta"];

Deno.test("run: lost events, full maps, calls in flight and recursion misses are in meta and the summary", () => {
  const snapshot = emptySnapshot();
  snapshot.lostEvents = 3;
  snapshot.mapFull = 5;
  snapshot.inFlight = 7;
  snapshot.recursionMisses = 11;
  const run = buildRun(snapshot, runOptionsOf(META));
  assertEquals(
    [run.meta.lost_events, run.meta.map_full, run.meta.in_flight, run.meta.recursion_misses],
    [3, 5, 7, 11],
  );
  const text = summaryText(run);
  for (const want of ["LOST EVENTS 3", "MAP FULL: 5", "7 calls in flight", "RECURSION: 11"]) {
    assert(text.includes(want), `summary lacks "${want}":\n${text}`);
  }
});

Deno.test("run: a clean trace says nothing of losses", () => {
  const run = buildRun(emptySnapshot(), runOptionsOf(META));
  assertEquals(run.meta.recursion_misses, 0);
  const text = summaryText(run);
  assert(!/LOST|MAP FULL|RECURSION|in flight/.test(text), text);
});

Deno.test("proc: isElf32 tells a 32-bit ELF file (compat mode) from a 64-bit one", () => {
  const dir = Deno.makeTempDirSync({ prefix: "ioscope-elf-" });
  try {
    // The first bytes of an i386 executable: \x7fELF, ELFCLASS32, little-endian.
    Deno.writeFileSync(`${dir}/i386`, new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0]));
    assertEquals(isElf32(`${dir}/i386`), true);
    assertEquals(isElf32("/proc/self/exe"), false, "deno is 64-bit");
    assertEquals(isElf32(`${dir}/missing`), false);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("run: buildRun writes all of meta from its options, key for key in the Run's order", () => {
  // A recorded Run's meta (tests/testdata/run_demo.json, a real bpftrace
  // trace) comes back the same from the facts it holds, plus the snapshot's
  // own counts, which buildRun always writes, and what a snapshot without the
  // time split or the page cache lacks (the Run recorded before issue 24 had
  // none to say).
  const snapshot = emptySnapshot();
  const run = buildRun(snapshot, runOptionsOf(META));
  const want = {
    ...META,
    unsupported: [
      ...META.unsupported,
      ...whyUnsupported(META.backend, snapshot, false),
      pageCacheUnsupported(META.backend, snapshot)!,
    ],
    map_full: 0,
    in_flight: 0,
    recursion_misses: 0,
  };
  assertEquals(run.meta, want);
  assertEquals(Object.keys(run.meta), Object.keys(want), "the keys' order");
});

Deno.test("run: every optional meta field comes from its option", () => {
  const options = runOptionsOf(META);
  const run = buildRun(emptySnapshot(), {
    ...options,
    target: {
      ...options.target,
      threadGiven: 4243,
      followedChildren: true,
      cgroup: { path: "/sys/fs/cgroup/x", id: 7 },
      pidNamespace: { inode: 4026531836, pid_in_namespace: 1 },
    },
    backend: {
      name: "bpf",
      attach: { kind: "raw_tp", starts: "hash", reasons: [] },
      unsupported: [],
    },
    proc: { minflt: null, majflt: null },
  });
  assertEquals(run.meta.thread_given, 4243);
  assertEquals(run.meta.followed_children, true);
  assertEquals(run.meta.cgroup, { path: "/sys/fs/cgroup/x", id: 7 });
  assertEquals(run.meta.pid_namespace, { inode: 4026531836, pid_in_namespace: 1 });
  assertEquals(run.meta.attach?.kind, "raw_tp");
  assertEquals(run.meta.backend, "bpf");
  // /proc not read: minor/major are null, and the reason is listed.
  assertEquals(run.faults.minor, null);
  // ... and a snapshot without the time split or the page cache says so too.
  assertEquals(run.meta.unsupported.map((u) => u.metric), [
    "faults.minor",
    "time_split",
    "block",
    "page_cache",
  ]);
});
