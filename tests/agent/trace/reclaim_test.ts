/**
 * What a trace does once a minute (_reclaim.ts): garbage that reached V8's old
 * generation is gone after it, without --expose-gc (`deno test` runs without).
 * Loading the modules that make that possible waits for the first reclaim: a
 * trace's module graph holds no node: module.
 */

import { assert } from "../../_helpers/assert.ts";
import {
  fullCollector,
  keepMallocTrimmable,
  reclaimMemory,
} from "../../../agent/trace/_reclaim.ts";

const MiB = 2 ** 20;

Deno.test("reclaimMemory frees garbage promoted to the old generation", async () => {
  assert((await fullCollector()) !== null, "no full collection without --expose-gc");
  assert(await reclaimMemory(), "reclaimMemory ran no collection");
  const before = Deno.memoryUsage().heapUsed;
  // Objects that outlive two scavenges are promoted, as a trace's timeline points
  // and reads are; dropped, they are garbage the next full collection frees.
  const holder: { kept: { i: number; s: string }[] | null } = { kept: [] };
  for (let i = 0; i < 200_000; i++) holder.kept?.push({ i, s: `point ${i}` });
  await reclaimMemory();
  const held = Deno.memoryUsage().heapUsed;
  assert(held - before > 8 * MiB, `${((held - before) / MiB).toFixed(1)} MiB held`);
  holder.kept = null;
  await reclaimMemory();
  const after = Deno.memoryUsage().heapUsed;
  assert(
    after - before < MiB,
    `${((after - before) / MiB).toFixed(2)} MiB left of ${((held - before) / MiB).toFixed(1)}`,
  );
});

Deno.test("glibc takes the fixed trim and mmap thresholds", () => {
  assert(keepMallocTrimmable(), "mallopt refused M_TRIM_THRESHOLD or M_MMAP_THRESHOLD");
});

Deno.test("ioscope's static module graph imports no Node module (35-40 ms at start-up)", async () => {
  // mod.ts is what `ioscope trace` loads. Dynamic imports are followed only
  // when they run: a script that could import node:v8 and node:vm started as
  // fast as an empty one (76-97 vs 79-86 ms), one importing them statically
  // in 111-144 ms (2026-12-02).
  const root = new URL("../../../mod.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    stdout: "piped",
  }).output();
  type Dep = { code?: { specifier: string }; isDynamic?: boolean };
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: Dep[] }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>([root]);
  const node = new Set<string>();
  const todo = [root];
  while (todo.length) {
    for (const d of bySpecifier.get(todo.pop()!)?.dependencies ?? []) {
      const to = d.code?.specifier;
      if (!to || d.isDynamic || seen.has(to)) continue;
      seen.add(to);
      if (to.startsWith("node:")) node.add(to);
      else todo.push(to);
    }
  }
  assert(seen.size > 50, `${seen.size} modules reached: not ioscope's graph`);
  assert(node.size === 0, `node: modules imported statically: ${[...node].join(", ")}`);
});
