// The HTML report's timeline gains each second's P99 per syscall: a real
// trace of the timer-paced workload (read P99 about 10 ms every second), its
// Run document's timeline, and the chart drawn in Chromium from it.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { startWorkload, tmpDir } from "../_helpers/common.ts";
import { traceRun } from "../_helpers/trace_run.ts";
import { canvases, launchBrowser } from "../_helpers/browser.ts";
import { BUCKET_WIDTH } from "../../schema/buckets.ts";

Deno.test("a trace's timeline holds each second's read P99, and the report draws it", async () => {
  await using dir = tmpDir();
  await using w = await startWorkload("timer_reads.ts", []);
  await w.go();
  const { run } = await traceRun(
    ["--pid", String(w.pid), "--duration", "4.5s", "--out", `${dir.path}/run.html`],
    `${dir.path}/run.json`,
  );
  const seconds = run.timeline.filter((p) => p.p99_ns?.read !== undefined);
  assert(seconds.length >= 3, `${seconds.length} seconds with a read P99`);
  // Each second's own P99: the timer's 10 ms (the whole run's P99 is the same steady value).
  for (const p of seconds) {
    const v = p.p99_ns!.read!;
    assert(v > 8_000_000 && v < 12_000_000, `second ${p.t}: read P99 ${v} ns`);
  }
  const whole = run.syscalls.read!.p99_ns;
  const mid = seconds[1]!.p99_ns!.read!;
  assert(
    Math.abs(mid - whole) / whole <= BUCKET_WIDTH,
    `a second's P99 ${mid} vs the run's ${whole}`,
  );

  const html = Deno.readTextFileSync(`${dir.path}/run.html`);
  const data = JSON.parse(
    /<script type="application\/json"[^>]*>([\s\S]*?)<\/script>/.exec(html)![1]!,
  );
  const chart = data.charts.find((c: { id: string }) => c.id === "timeline-p99");
  assert(chart, "a timeline-p99 chart");
  const read = chart.datasets.find((d: { label: string }) => d.label === "read");
  assertEquals(
    read.data.filter((pt: { y: number | null }) => pt.y !== null).map((pt: { y: number }) => pt.y),
    seconds.map((p) => p.p99_ns!.read),
  );
  await using browser = await launchBrowser();
  const { page } = await browser.open(`${dir.path}/run.html`);
  const drawn = (await canvases(page)).find((c) => c.id === "chart-timeline-p99");
  assert(drawn && drawn.painted / (drawn.width * drawn.height) > 0.01, JSON.stringify(drawn));
  await page.close();
});
