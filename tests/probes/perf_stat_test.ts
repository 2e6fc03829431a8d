// perf stat CSV parsing and the counters' part of the Run, from real output
// on this VM (no hardware PMU; see tests/testdata/README.md).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { parsePerfStatCsv, PERF_COUNTERS } from "../../probes/perf_stat.ts";
import { countersResult } from "../../agent/trace/perf.ts";

const csv = Deno.readTextFileSync(new URL("../testdata/perf_stat_vm.csv", import.meta.url));

Deno.test("perf stat CSV: software counts, and <not supported> as no value", () => {
  const m = parsePerfStatCsv(csv);
  assertEquals(m.get("context-switches")?.status, "counted");
  assert((m.get("context-switches")?.value ?? 0) > 0, "the reader switched");
  assertEquals(m.get("task-clock")?.value !== null, true);
  assertEquals(m.get("dTLB-load-misses"), {
    event: "dTLB-load-misses",
    value: null,
    status: "not-supported",
    runningPct: 0,
  });
  assertEquals(m.size, PERF_COUNTERS.length, "one line per counter");
});

Deno.test("unsupported hardware counters are null with a reason, never 0", () => {
  const r = countersResult(csv, false);
  for (
    const key of [
      "dtlb_loads",
      "dtlb_load_misses",
      "itlb_loads",
      "itlb_load_misses",
      "cycles",
      "instructions",
    ]
  ) {
    assertEquals(r.perf?.[key], null, key);
    const u = r.unsupported.find((x) => x.metric === `perf.${key}`);
    assert(u && /no hardware PMU/.test(u.reason), `${key} listed with its reason`);
  }
  assertEquals(r.dtlbLoadMisses, null);
  assertEquals(r.itlbLoadMisses, null);
  assert(
    r.unsupported.some((u) => u.metric === "tlb.dtlb_load_misses"),
    "tlb.dtlb_load_misses listed",
  );
  assertEquals(typeof r.perf?.context_switches, "number");
  assertEquals(r.perf?.page_faults, 0, "a counted zero stays 0");
});

Deno.test("modifiers and PMU prefixes are stripped; <not counted> software is 0, hardware null", () => {
  const m = parsePerfStatCsv("5,,cpu_core/cycles/,100,50.00,,\n7,,instructions:u,100,100.00,,\n");
  assertEquals(m.get("cycles")?.value, 5);
  assertEquals(m.get("instructions")?.value, 7);
  const r = countersResult(
    "<not counted>,,page-faults,0,100.00,,\n<not counted>,,cycles,0,100.00,,\n",
    true,
  );
  assertEquals(r.perf?.page_faults, 0);
  assertEquals(r.perf?.cycles, null);
  assert(r.unsupported.some((u) => u.metric === "perf.cycles" && /not counted/.test(u.reason)));
});
