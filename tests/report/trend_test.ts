// Trend analysis and the noise-aware regression rule, on a real Run (fixture:
// tests/testdata/run_fio_psync.json, see tests/agent/nightly/store_test.ts) with its
// latencies scaled to make the runs of a history.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { type RunDocument, targetId, targetName } from "../../schema/mod.ts";
import { analyzeTrends, judge, median, t99 } from "../../report/trend.ts";
import { readRun } from "../_helpers/documents.ts";

const FIXTURE = new URL("../testdata/run_fio_psync.json", import.meta.url);
const BASE = readRun(FIXTURE);

/** The fixture on day `day`, pread64 latencies times `scale`. */
function runOn(day: number, scale = 1, patch: (r: RunDocument) => void = () => {}): RunDocument {
  const r = structuredClone(BASE);
  r.meta.started_at = new Date(Date.UTC(2026, 10, 1 + day, 3)).toISOString();
  const s = r.syscalls.pread64!;
  for (const k of ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"] as const) {
    s[k] = Math.round(s[k] * scale);
  }
  patch(r);
  return r;
}

function inputs(runs: RunDocument[]) {
  return runs.map((run, i) => ({ file: `run-${i}.json`, run }));
}

const HIGHER = { worse: "higher", scale: "log" } as const;

Deno.test("two identical runs are never flagged, whatever the threshold", () => {
  for (const threshold of [0, 0.01, 0.1]) {
    const s = analyzeTrends(inputs([runOn(0), runOn(1)]), { threshold });
    assertEquals(s.regressions, [], `threshold ${threshold}`);
  }
});

Deno.test("a 10% P99 change between two like runs is not a regression: one baseline run shows no spread", () => {
  const j = judge([4000], 4400, HIGHER, 0.1);
  assertEquals(j.verdict, "ok");
  assert(j.reason.includes("too few"), j.reason);
  // ... but a change of 2x or more is, even then.
  assertEquals(judge([4000], 9000, HIGHER, 0.1).verdict, "regression");
});

Deno.test("the baseline's own spread widens what is allowed", () => {
  const noisy = [2000, 3400, 2500, 3600, 2100, 3000, 2200];
  // +50% over the median is inside this baseline's run-to-run spread...
  assertEquals(judge(noisy, 3900, HIGHER, 0.1).verdict, "ok");
  // ... and far outside a quiet baseline's.
  const quiet = [2950, 3000, 3050, 3010, 2990, 3020, 2980];
  assertEquals(judge(quiet, 3900, HIGHER, 0.1).verdict, "regression");
  // A quiet baseline still tolerates the threshold.
  assertEquals(judge(quiet, 3200, HIGHER, 0.1).verdict, "ok");
});

Deno.test("a latest value no worse than some baseline run is not flagged", () => {
  // MAD is 0 here (three equal values), but one run was already this slow.
  assertEquals(judge([3000, 3000, 3000, 5000], 4000, HIGHER, 0.1).verdict, "ok");
});

Deno.test("lower-is-worse metrics and improvements", () => {
  const ratio = { worse: "lower", scale: "linear", minDelta: 0.02 } as const;
  assertEquals(judge([0.8, 0.81, 0.79], 0.3, ratio, 0.1).verdict, "regression");
  assertEquals(judge([0.8, 0.81, 0.79], 0.78, ratio, 0.1).verdict, "ok");
  assertEquals(judge([3000, 3010, 2990], 1000, HIGHER, 0.1).verdict, "improvement");
});

Deno.test("a clearly slower latest run is flagged, with baseline, latest and change", () => {
  // Five baseline runs: enough to judge a P99.9 too.
  const s = analyzeTrends(
    inputs([runOn(0), runOn(1, 1.05), runOn(2, 0.97), runOn(3, 1.02), runOn(4), runOn(5, 8)]),
  );
  const metrics = s.regressions.map((r) => r.metric).sort();
  assertEquals(metrics, [
    "syscalls.pread64.p50_ns",
    "syscalls.pread64.p999_ns",
    "syscalls.pread64.p99_ns",
  ]);
  const p99 = s.regressions.find((r) => r.metric === "syscalls.pread64.p99_ns")!;
  assertEquals(p99.baseline, BASE.syscalls.pread64!.p99_ns);
  assertEquals(p99.latest, Math.round(BASE.syscalls.pread64!.p99_ns * 8));
  assert(Math.abs(p99.change - 7) < 0.01, `change ${p99.change}`);
  assertEquals(p99.target, targetName(BASE.meta));
  assertEquals(p99.run, "run-5.json");
});

Deno.test("a P99.9 is shown but not judged until there are 5 baseline runs", () => {
  const s = analyzeTrends(inputs([runOn(0), runOn(1, 1.05), runOn(2, 0.97), runOn(3, 8)]));
  const metrics = s.regressions.map((r) => r.metric).sort();
  assertEquals(metrics, ["syscalls.pread64.p50_ns", "syscalls.pread64.p99_ns"]);
  const p999 = s.targets[0]!.metrics.find((m) => m.metric === "syscalls.pread64.p999_ns")!;
  assertEquals(p999.verdict, "not-judged");
  assert(p999.reason.includes("5 baseline runs"), p999.reason);
  assertEquals(p999.values.length, 4, "still charted");
});

Deno.test("a percentile with too few calls above it is shown but not judged", () => {
  const few = (r: RunDocument) => {
    r.syscalls.pread64!.count = 5000; // 5 calls above P99.9: too few
  };
  const s = analyzeTrends(
    inputs([
      runOn(0, 1, few),
      runOn(1, 1, few),
      runOn(2, 1, few),
      runOn(3, 1, (r) => {
        few(r);
        r.syscalls.pread64!.p999_ns *= 10;
      }),
    ]),
  );
  const m = s.targets[0]!.metrics.find((x) => x.metric === "syscalls.pread64.p999_ns")!;
  assertEquals(m.verdict, "too-few-calls");
  assertEquals(s.regressions, []);
});

Deno.test("runs group by process name and command line; the baseline window is the runs before the latest", () => {
  const other = (r: RunDocument) => {
    r.meta.cmdline = "fio other.fio";
  };
  const runs = [runOn(0), runOn(1, 1, other), runOn(2), runOn(3, 1, other), runOn(4)];
  const s = analyzeTrends(inputs(runs), { baselineRuns: 1 });
  assertEquals(s.targets.length, 2);
  assertEquals(s.targets.map((t) => t.runs.length).sort(), [2, 3]);
  const first = s.targets.find((t) => t.cmdline === BASE.meta.cmdline)!;
  assertEquals(first.latest_file, "run-4.json");
  assert(first.metrics.every((m) => m.baseline_runs <= 1));
  assertEquals(first.metrics[0]?.values.length, 3, "every run charted");
});

Deno.test("bytes/s and involuntary switches are charted but never flagged", () => {
  const busy = (r: RunDocument) => {
    r.copy.copied_bytes /= 10;
    r.sched.involuntary *= 50;
  };
  const s = analyzeTrends(inputs([runOn(0), runOn(1), runOn(2), runOn(3, 1, busy)]));
  assertEquals(s.regressions, []);
  const bytes = s.targets[0]!.metrics.find((m) => m.metric === "bytes_per_s")!;
  assertEquals(bytes.judged, false);
  assertEquals(bytes.verdict, "not-judged");
});

Deno.test("helpers: median and the t quantiles", () => {
  assertEquals(median([5, 1, 3]), 3);
  assertEquals(median([4, 1, 3, 2]), 2.5);
  assertEquals(t99(2), 6.965);
  assertEquals(t99(11), 2.764);
  assert(t99(1000) < 2.4);
});

Deno.test("a count rate from few events is not flagged for a change that chance explains", () => {
  const faults = (perS: number) => (r: RunDocument) => {
    r.meta.duration_s = 2;
    r.faults.total = perS * 2;
  };
  const judged = (latestPerS: number, basePerS: number) => {
    const runs = [0, 1, 2, 3].map((d) => runOn(d, 1, faults(d === 3 ? latestPerS : basePerS)));
    return analyzeTrends(inputs(runs)).targets[0]!.metrics.find((m) =>
      m.metric === "faults_per_s"
    )!;
  };
  // 40 faults per run, then 60: +50%, but Poisson noise on 40 events is about that.
  const few = judged(30, 20);
  assertEquals(few.verdict, "ok", few.reason);
  assert(few.reason.includes("sampling noise of one run"), few.reason);
  // The same +50% on 40 000 faults per run is no accident.
  assertEquals(judged(30_000, 20_000).verdict, "regression");
});

Deno.test("the trend summary's target id is the store's, in its file names", async () => {
  const run: RunDocument = JSON.parse(await Deno.readTextFile(FIXTURE));
  const s = analyzeTrends([{ file: "a.json", run }]);
  assertEquals(s.targets[0]?.id, targetId(run.meta));
  // SHA-256 of "fio\0fio job.fio", first 8 hex digits: the id stores have always used.
  assertEquals(targetId({ comm: "fio", cmdline: "fio job.fio" }), "4e96e267");
});
