// The pure helpers behind the report: flame graph trees, histogram series (formats: tests/schema/units_test.ts).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { flameTree } from "../../report/_flamegraph.ts";
import { histogramSeries, percentileMarkers } from "../../report/_histogram.ts";
import { demoRun } from "../_helpers/documents.ts";

Deno.test("flameTree merges stacks, counts samples and marks kernel frames", () => {
  const t = flameTree([
    "app;main;read;entry_SYSCALL_64_[k];vfs_read_[k] 5",
    "app;main;read;entry_SYSCALL_64_[k] 2",
    "app;main;compute 3",
    "  ",
    "garbage without a count",
    "app;x 0",
  ]);
  assertEquals(t.samples, 10);
  assertEquals(t.badLines, 1);
  const app = t.root.c?.[0];
  assertEquals(app?.n, "app");
  assertEquals(app?.v, 10);
  const main = app?.c?.[0];
  assertEquals(main?.c?.map((c) => [c.n, c.v]), [["compute", 3], ["read", 7]]);
  const entry = main?.c?.[1]?.c?.[0];
  assertEquals(entry, { n: "entry_SYSCALL_64", v: 7, k: 1, c: [{ n: "vfs_read", v: 5, k: 1 }] });
});

Deno.test("flameTree keeps frame names with spaces and markup verbatim, as data", () => {
  const t = flameTree(["a b;<img src=x onerror=alert(1)>;std::vector<int>::push_back 4"]);
  assertEquals(t.root.c?.[0]?.n, "a b");
  assertEquals(t.root.c?.[0]?.c?.[0]?.n, "<img src=x onerror=alert(1)>");
  assertEquals(t.root.c?.[0]?.c?.[0]?.c?.[0]?.n, "std::vector<int>::push_back");
});

Deno.test("flameTree prunes frames below the minimum share and says how many", () => {
  const t = flameTree(["a;b 9999", "a;c;d 1"], { minFraction: 0.001 });
  assertEquals(t.root.c?.[0]?.c?.map((c) => c.n), ["b"]);
  assertEquals(t.pruned, 2);
  assertEquals(t.root.c?.[0]?.v, 10_000, "pruned samples stay in the caller");
});

Deno.test("flameTree of the recorded perf samples has kernel frames under user frames", () => {
  const fg = demoRun().flamegraph;
  assert(fg, "the fixture has a flame graph");
  const t = flameTree(fg.folded);
  assertEquals(t.samples, fg.samples);
  assertEquals(t.badLines, 0);
  let kernel = 0;
  const walk = (n: { k?: 1; c?: unknown[] }) => {
    if (n.k) kernel++;
    for (const c of (n.c ?? []) as { k?: 1; c?: unknown[] }[]) walk(c);
  };
  walk(t.root);
  assert(kernel > 10, `${kernel} kernel frames`);
});

Deno.test("histogramSeries draws steps, breaks at gaps, and can normalise", () => {
  const s = histogramSeries([[2048, 2176, 4], [1024, 1088, 2], [1088, 1152, 6]]);
  assertEquals(s, [
    { x: 1024, y: 2 },
    { x: 1088, y: 2 },
    { x: 1088, y: 6 },
    { x: 1152, y: 6 },
    { x: 1600, y: null },
    { x: 2048, y: 4 },
    { x: 2176, y: 4 },
  ]);
  const n = histogramSeries([[16, 17, 1], [17, 18, 3]], { normalize: true });
  assertEquals(n.map((p) => p.y), [0.25, 0.25, 0.75, 0.75]);
  const zero = histogramSeries([[0, 1, 5]]);
  assertEquals(zero[0]?.x, 0.5, "a [0, 1) bucket starts above zero on a log axis");
  assertEquals(histogramSeries([[5, 4, 1], [1, 2, 0]]), [], "malformed or empty buckets dropped");
});

Deno.test("percentileMarkers skips missing ones", () => {
  assertEquals(
    percentileMarkers({ p50_ns: 1, p90_ns: 0, p99_ns: 5, p999_ns: 9, max_ns: 10 }).map((m) =>
      m.label
    ),
    ["P50", "P99", "P99.9", "max"],
  );
});
