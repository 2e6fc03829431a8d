// The terminal's time split lines: shares largest first, slow calls apart,
// devices with their traced requests; nothing where nothing was measured.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { splitShares, timeSplitLines } from "../../../agent/cli/_why_text.ts";
import { summaryText } from "../../../agent/cli/_summary.ts";
import { readRun } from "../../_helpers/documents.ts";
import { renderRunHtml } from "../../../report/mod.ts";
import type { TimeSplit } from "../../../schema/mod.ts";

const split = (cpu: number, runqueue: number, disk: number, other: number): TimeSplit => ({
  cpu_ns: cpu,
  runqueue_ns: runqueue,
  disk_ns: disk,
  other_ns: other,
  faults: 0,
  count: 1,
  total_ns: cpu + runqueue + disk + other,
});

Deno.test("shares are listed largest first, those under 1% left out", () => {
  assertEquals(splitShares(split(5, 3, 92, 0)), "92% disk, 5% CPU, 3% run queue");
  assertEquals(splitShares(split(1, 0, 0, 999)), "100% other sleep");
  assertEquals(splitShares(split(0, 0, 0, 0)), "no time");
});

Deno.test("the summary says where each syscall's time went, for all and for slow calls, and each device's requests", () => {
  // A real bpf Run: fio O_DIRECT psync randread of 4 KiB on vda (recorded here,
  // tests/testdata/README.md).
  const run = readRun(new URL("../../testdata/run_why_fio.json", import.meta.url));
  const text = summaryText(run);
  assert(/pread64: \d+% disk, \d+% CPU, \d+% run queue/.test(text), text);
  assert(/P99 calls \(\d+\): /.test(text), text);
  assert(/vda [\d.k]+ reads .*traced, depth/.test(text), text);
  for (const line of text.split("\n")) assert(line.length <= 80, line);
  const bare = structuredClone(run);
  for (const s of Object.values(bare.syscalls)) s.time_split = null;
  bare.block = null;
  assertEquals(timeSplitLines(bare), []);
});

Deno.test("a device's queue to complete and its unseen completions, on a line below it, in the summary and the report", () => {
  const run = readRun(new URL("../../testdata/run_why_fio.json", import.meta.url));
  const vda = run.block?.devices.vda;
  assert(vda, "the recorded Run has vda");
  const queued = {
    count: 10,
    p50_ns: 2_130_000,
    p99_ns: 4_440_000,
    mean_ns: 2_200_000,
    buckets: [],
  };
  vda.read.queued = queued;
  vda.read.unseen = 3;
  const lines = timeSplitLines(run);
  const at = lines.findIndex((l) => l.startsWith("vda ") && l.includes(" reads "));
  assert(at >= 0, lines.join("\n"));
  assertEquals(
    lines[at + 1],
    "  queue to complete p50 2.13ms, p99 4.44ms; 3 completions unseen, counted",
  );
  delete vda.read.queued;
  assertEquals(timeSplitLines(run)[at + 1], "  3 completions unseen, counted");
  vda.read.unseen = 0;
  assert(!timeSplitLines(run).some((l) => l.includes("unseen")), "none unseen: no line");
  vda.read.queued = queued;
  vda.read.unseen = 3;
  const html = renderRunHtml(run);
  assert(html.includes("queue to complete P50 2.13 ms, P99 4.44 ms"), "the report's note");
  assert(html.includes("3 completions no program saw"), "the report's note");
});
