/**
 * buildRun: what a backend could not count reaches the Run and its summary
 * (issue 12: nothing lost silently).
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { buildRun } from "../../../agent/trace/run_builder.ts";
import { isElf32 } from "../../../agent/trace/proc.ts";
import { summaryText } from "../../../agent/cli/summary.ts";
import { emptySnapshot } from "../../../probes/snapshot.ts";
import type { RunDocument } from "../../../schema/mod.ts";

const META = JSON.parse(
  Deno.readTextFileSync(new URL("../../testdata/run_demo.json", import.meta.url)),
).meta as RunDocument["meta"];

Deno.test("run: lost events, full maps, calls in flight and recursion misses are in meta and the summary", () => {
  const snapshot = emptySnapshot();
  snapshot.lostEvents = 3;
  snapshot.mapFull = 5;
  snapshot.inFlight = 7;
  snapshot.recursionMisses = 11;
  const run = buildRun(snapshot, META, [], { minflt: 0, majflt: 0 });
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
  const run = buildRun(emptySnapshot(), META, [], { minflt: 0, majflt: 0 });
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
