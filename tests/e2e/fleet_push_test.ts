// ioscope's histograms reach real fleet stores, started by the test on
// loopback: Prometheus 2.42 (Debian) with native histograms scrapes
// `trace --prom` with protobuf and takes `--remote-write` pushes; a loopback
// OTLP receiver of the test's own decodes `--otlp` with the official proto
// definitions (no real OpenTelemetry Collector was tried: none installs here).
// Workload: fio reading a page-cached file with pread64. Pushed:
// histogram_count equals the Run's count of timed calls exactly, and
// histogram_quantile(0.99) is within one bucket of the Run's P99 (one native
// bucket, 4.4%, for a Run with schema-4 buckets; plus one old bucket, 6.25%,
// for a Run with the older log-linear ones, re-bucketed: see
// agent/nightly/_native_histogram.ts).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { leftovers, spawnCli, tmpDir } from "../_helpers/common.ts";
import { readRun } from "../_helpers/documents.ts";
import {
  freePort,
  histogramCount,
  p99Tolerance,
  startFioReader,
  startPrometheus,
} from "../_helpers/prometheus.ts";
import { startOtlpReceiver } from "../_helpers/otlp_receiver.ts";

Deno.test("fio: Prometheus scrapes protobuf and takes remote-write, OTLP decodes; counts exact, P99 within a bucket", async () => {
  await using dir = tmpDir();
  const d = dir.path;
  const agent = `127.0.0.1:${freePort()}`;
  await using prom = await startPrometheus(d, {
    scrape: agent,
    nativeHistograms: true,
    remoteWriteReceiver: true,
  });
  await using otlp = startOtlpReceiver();
  // A bearer token Prometheus does not check: it must reach no output.
  const secret = `tok-${crypto.randomUUID()}`;
  Deno.writeTextFileSync(`${d}/auth`, `bearer ${secret}\n`, { mode: 0o600 });
  Deno.chmodSync(`${d}/auth`, 0o600);
  await using fio = startFioReader(d, 30);
  const cli = spawnCli([
    "trace",
    "--pid",
    String(fio.pid),
    "--duration",
    "8s",
    "--prom",
    agent,
    "--remote-write",
    `${prom.base}/api/v1/write`,
    "--remote-write-auth",
    `${d}/auth`,
    "--otlp",
    otlp.url,
    "--push-interval",
    "1s",
    "--json",
    `${d}/run.json`,
  ]);
  const result = await cli.done;
  assertEquals(result.code, 0, result.stderr);
  const run = readRun(`${d}/run.json`);
  const own = run.syscalls.pread64;
  assert(own && own.count > 10_000, `pread64 traced: ${own?.count}`);
  const timed = own.buckets.reduce((s, b) => s + b[2], 0);
  assertEquals(timed, own.count - own.errors, "the buckets hold the successful calls");

  // Pushed (no job label): the final Run's histogram, exactly.
  const pushed = `ioscope_syscall_duration_seconds{syscall="pread64",target="fio",job=""}`;
  assertEquals(await histogramCount(prom, pushed), timed, "remote-write histogram_count");
  const q = await prom.query(`histogram_quantile(0.99, ${pushed})`);
  const promP99 = Number(q[0]?.value?.[1]) * 1e9;
  const tol = p99Tolerance(run, "pread64");
  console.log(`pread64 P99: Prometheus ${promP99.toFixed(0)} ns, Run ${own.p99_ns} ns, ±${tol}`);
  assert(Math.abs(promP99 - own.p99_ns) <= tol, `P99 ${promP99} vs ${own.p99_ns} (±${tol})`);
  const labels = (await prom.query(pushed))[0]?.metric ?? {};
  assertEquals(
    labels,
    {
      __name__: "ioscope_syscall_duration_seconds",
      backend: run.meta.backend,
      host: run.meta.host,
      syscall: "pread64",
      target: "fio",
    },
    "labels a fleet can afford: no pid",
  );
  const rw = run.meta.exports?.remote_write;
  assert(rw && rw.sent_samples > 0, JSON.stringify(rw));
  assertEquals([rw.unsent_samples, rw.rejected_samples], [0, 0], JSON.stringify(rw));

  // Scraped with protobuf: a native histogram (no classic _bucket series), counts the Run's so far.
  const scrapedSel = `ioscope_syscall_duration_seconds{syscall="pread64",job="ioscope"}`;
  const atEnd = Date.parse(run.meta.started_at) / 1000 + run.meta.duration_s;
  const scraped = await histogramCount(prom, scrapedSel, atEnd);
  assert(scraped > 0 && scraped <= timed, `scraped native count ${scraped} of ${timed}`);
  const classic = await prom.query(`ioscope_syscall_duration_seconds_bucket{job="ioscope"}`, atEnd);
  assertEquals(classic.length, 0, "protobuf scrape: no classic buckets");

  // OTLP: every data point of the last request is the final Run's.
  assert(otlp.requests.length >= 5, `OTLP requests: ${otlp.requests.length}`);
  assert(otlp.contentTypes.every((t) => t === "application/x-protobuf"), otlp.contentTypes.join());
  const last = otlp.requests[otlp.requests.length - 1];
  const rm = last.resourceMetrics[0];
  const attrs = Object.fromEntries(
    // deno-lint-ignore no-explicit-any
    rm.resource.attributes.map((a: any) => [a.key, a.value.stringValue ?? a.value.intValue]),
  );
  assertEquals(attrs["host.name"], run.meta.host);
  assertEquals(attrs["os.version"], run.meta.kernel);
  assertEquals(attrs["process.executable.name"], "fio");
  assertEquals(attrs["process.pid"], undefined, "no pid by default");
  // deno-lint-ignore no-explicit-any
  const metric = rm.scopeMetrics[0].metrics.find((m: any) => m.name === "ioscope.syscall.duration");
  assertEquals(metric.unit, "s");
  const points = metric.exponentialHistogram.dataPoints;
  assertEquals(points.length, Object.keys(run.syscalls).length, "one point per syscall");
  for (const p of points) {
    const name = p.attributes.find((a: { key: string }) => a.key === "syscall").value.stringValue;
    const s = run.syscalls[name];
    assert(s, `${name} in the Run`);
    const n = s.buckets.reduce((a, b) => a + b[2], 0);
    const inBuckets = p.positive.bucketCounts.reduce((a: number, b: number) => a + b, 0);
    assertEquals([p.scale, p.count, inBuckets + p.zeroCount], [4, n, n], `${name} point`);
    assertEquals(metric.exponentialHistogram.aggregationTemporality, 2, "cumulative");
  }
  const ot = run.meta.exports?.otlp;
  assert(ot && ot.sent_samples > 0 && ot.unsent_samples === 0, JSON.stringify(ot));

  // The credentials reach no output.
  const outputs = Deno.readTextFileSync(`${d}/run.json`) + result.stdout + result.stderr;
  assert(!outputs.includes(secret), "the token leaked into an output");
  assert(leftovers(cli.child.pid).length === 0, `left behind: ${leftovers(cli.child.pid)}`);
});
