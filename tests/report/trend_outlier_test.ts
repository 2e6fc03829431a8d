// One noisy baseline run must not hide a tail regression for good: from five
// baseline runs on, the latest run must be worse than every one but the worst.
// Figures: readv P99s (us) of tests/e2e/report_trend_tail_test.ts on this
// host, one baseline run hit by host noise (2195 us), then a 1.75x slower
// dependency (753 us), which the rule let through before ("no worse than the
// worst baseline run").
import { assertEquals } from "../_helpers/assert.ts";
import { judge } from "../../report/trend.ts";

const HIGHER = { worse: "higher", scale: "log", floor: 20_000 } as const;
const BASE = [423_718, 418_884, 442_155, 430_080, 2_195_456, 423_564];

Deno.test("a 1.75x P99 is flagged though one of six baseline runs was noisier still", () => {
  assertEquals(judge(BASE, 752_902, HIGHER, 0.1).verdict, "regression");
});

Deno.test("a like run is not flagged beside a noisy baseline run", () => {
  assertEquals(judge(BASE, 445_000, HIGHER, 0.1).verdict, "ok");
});

Deno.test("with four baseline runs one already as slow still excuses the latest", () => {
  assertEquals(
    judge([3000, 3000, 3000, 5000], 4000, { worse: "higher", scale: "log" }, 0.1).verdict,
    "ok",
  );
});
