/**
 * What a trace does once a minute (reclaim.ts): garbage that reached V8's old
 * generation is gone after it, without --expose-gc (`deno test` runs without).
 */

import { assert } from "../../_helpers/assert.ts";
import { fullCollector, keepMallocTrimmable, reclaimMemory } from "../../../agent/trace/reclaim.ts";

const MiB = 2 ** 20;

Deno.test("reclaimMemory frees garbage promoted to the old generation", () => {
  assert(fullCollector() !== null, "no full collection without --expose-gc");
  assert(reclaimMemory(), "reclaimMemory ran no collection");
  const before = Deno.memoryUsage().heapUsed;
  // Objects that outlive two scavenges are promoted, as a trace's timeline points
  // and reads are; dropped, they are garbage the next full collection frees.
  const holder: { kept: { i: number; s: string }[] | null } = { kept: [] };
  for (let i = 0; i < 200_000; i++) holder.kept?.push({ i, s: `point ${i}` });
  reclaimMemory();
  const held = Deno.memoryUsage().heapUsed;
  assert(held - before > 8 * MiB, `${((held - before) / MiB).toFixed(1)} MiB held`);
  holder.kept = null;
  reclaimMemory();
  const after = Deno.memoryUsage().heapUsed;
  assert(
    after - before < MiB,
    `${((after - before) / MiB).toFixed(2)} MiB left of ${((held - before) / MiB).toFixed(1)}`,
  );
});

Deno.test("glibc takes the fixed trim and mmap thresholds", () => {
  assert(keepMallocTrimmable(), "mallopt refused M_TRIM_THRESHOLD or M_MMAP_THRESHOLD");
});
