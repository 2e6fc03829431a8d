/**
 * A day-long trace stays small: 24 hours of one-second samples (with each
 * second's per-syscall P99, as the session records them) go through the real
 * Timeline, run builder and HTML renderer, and the report stays under 5 MiB.
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";
import { Timeline } from "../../../agent/trace/timeline.ts";
import { buildRun } from "../../../agent/trace/run_builder.ts";
import { emptySnapshot } from "../../../probes/snapshot.ts";
import { renderRunHtml } from "../../../report/mod.ts";
import type { RunDocument } from "../../../schema/mod.ts";
import { runOptionsOf } from "../../_helpers/documents.ts";

const DAY_S = 86_400;
const MiB = 1 << 20;

function dayLongRun(): RunDocument {
  const demo = JSON.parse(
    Deno.readTextFileSync(new URL("../../testdata/run_demo.json", import.meta.url)),
  ) as RunDocument;
  const timeline = new Timeline();
  const names = ["read", "write", "pread64", "pwrite64", "sendfile64", "recvfrom", "fsync", "mmap"];
  for (let t = 0; t < DAY_S; t++) {
    const p99_ns: Record<string, number> = {};
    for (const [i, name] of names.entries()) {
      p99_ns[name] = 1000 + ((t * 7919 + i * 104729) % 90_000);
    }
    timeline.push({
      t,
      dt: 1,
      syscalls: 50_000 + (t % 977),
      bytes: 200_000_000 + (t % 8191) * 4096,
      faults: t % 61,
      p99_ns,
    });
  }
  const run = buildRun(emptySnapshot(), {
    ...runOptionsOf(demo.meta),
    durationMs: DAY_S * 1000,
    timeline: timeline.points(),
  });
  // The day's syscalls, histograms and findings: the demo run's (a real one).
  return { ...demo, meta: run.meta, timeline: run.timeline };
}

Deno.test("a 24-hour trace's report stays under 5 MiB", () => {
  const run = dayLongRun();
  const json = JSON.stringify(run, null, 2);
  const html = renderRunHtml(run);
  const perSecond = run.timeline.filter((p) => (p.dt ?? 1) < 2).length;
  const coarse = run.timeline.filter((p) => (p.dt ?? 1) >= 2);
  assert(perSecond >= 3600 && perSecond < 3660, `${perSecond} one-second points`);
  assertEquals(coarse.length, (DAY_S - perSecond) / 60);
  assert(html.length < 5 * MiB, `report ${(html.length / MiB).toFixed(2)} MiB`);
  assert(json.length < 5 * MiB, `JSON ${(json.length / MiB).toFixed(2)} MiB`);
  // Without the coarse points, the same day would hold 86 400 points.
  assert(run.timeline.length < DAY_S / 17, `${run.timeline.length} points`);
  console.log(
    `24 h: ${run.timeline.length} timeline points, JSON ${(json.length / MiB).toFixed(2)} MiB, ` +
      `report ${(html.length / MiB).toFixed(2)} MiB`,
  );
});
