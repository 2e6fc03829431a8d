// A real Prometheus (Debian's package) scrapes `trace --prom` on loopback
// while fio reads a page-cached file; Prometheus' histogram_quantile(0.99)
// over the agent's classic buckets (schema 1: 55 edges, sqrt(2) apart) lies
// in the same coarse bucket as the Run's own P99, within a factor sqrt(2), the
// agent's /metrics moves on at least every 2 seconds, and every scraped
// counter value is one of the trace's snapshots, at most ~2 s old.
// The bound was 25% while the text format had 109 schema-2 buckets (2^(1/4)
// apart); issue 23 asked for fewer, and with 55 edges sqrt(2) apart a text
// scraper's quantile is only known within one of them. Measured against this
// Prometheus 2.42 (2026-12-06): 1158 vs 1019 ns and 1317 vs 1144 ns (1.14x,
// 1.15x). The native-histogram tests keep one 4.4% bucket.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { spawnCli, tmpDir } from "../_helpers/common.ts";
import { assertHostClean } from "../_helpers/trace_run.ts";
import { readRun } from "../_helpers/documents.ts";
import { freePort, startFioReader, startPrometheus } from "../_helpers/prometheus.ts";

Deno.test("Prometheus scrapes trace --prom: histogram_quantile(0.99) within a factor sqrt(2) of the Run's P99", async () => {
  await using dir = tmpDir();
  const d = dir.path;
  const agentPort = freePort();
  const agent = `127.0.0.1:${agentPort}`;
  await using prom = await startPrometheus(d, { scrape: agent });

  await using fio = startFioReader(d, 30);
  const cli = spawnCli([
    "trace",
    "--pid",
    String(fio.pid),
    // 12 s of 1 s scrapes: on a loaded host Prometheus scraped only 3 times in 8 s once.
    "--duration",
    "12s",
    "--prom",
    agent,
    "--json",
    `${d}/run.json`,
  ]);
  const agentPid = cli.child.pid;
  await cli.waitForStderr(`Serving metrics at http://${agent}/metrics`);
  // It serves from before the probes attach (503 until then); data flows after.
  await cli.waitForStderr("Tracing pid");

  // The agent's own /metrics: the pread64 count moves on at least every 2 s.
  const changes: number[] = [];
  let last = "";
  const pollUntil = Date.now() + 5000;
  while (Date.now() < pollUntil) {
    const text = await (await fetch(`http://${agent}/metrics`)).text();
    const line = text.split("\n").find((l) =>
      l.startsWith('ioscope_syscall_duration_seconds_count{syscall="pread64"')
    ) ?? "";
    if (line !== last) {
      changes.push(Date.now());
      last = line;
    }
    await new Promise((r) =>
      setTimeout(r, 100)
    );
  }
  const gaps = changes.slice(1).map((t, i) => t - (changes[i] ?? t));
  assert(changes.length >= 3, `/metrics changed ${changes.length} times in 5 s`);
  assert(Math.max(...gaps) <= 2100, `/metrics went ${Math.max(...gaps)} ms without a refresh`);

  const result = await cli.done;
  const end = Date.now() / 1000;
  assert(result.code === 0, `trace failed: ${result.stderr}`);
  const run = readRun(`${d}/run.json`);
  const own = run.syscalls.pread64;
  assert(own && own.count > 10_000, `pread64 traced: ${own?.count}`);

  // Just before the trace ended (after it, the target is gone and its series go stale).
  const at = end - 0.5;
  const scrapes = await prom.query(`count_over_time(up{job="ioscope"}[30s])`, at);
  const up = await prom.query(`sum_over_time(up{job="ioscope"}[30s])`, at);
  assert(
    Number(up[0]?.value?.[1]) >= 4,
    `successful scrapes: ${JSON.stringify(up)} of ${JSON.stringify(scrapes)}`,
  );
  const q = await prom.query(
    `histogram_quantile(0.99, ioscope_syscall_duration_seconds_bucket{syscall="pread64",target="fio"})`,
    at,
  );
  const promP99 = Number(q[0]?.value?.[1]) * 1e9;
  assert(Number.isFinite(promP99), `histogram_quantile answered: ${JSON.stringify(q)}`);
  console.log(`pread64 P99: Prometheus ${Math.round(promP99)} ns, the Run ${own.p99_ns} ns`);
  // Both lie in the classic bucket that holds rank 0.99 n, whose edges are sqrt(2) apart.
  const ratio = Math.max(promP99, own.p99_ns) / Math.min(promP99, own.p99_ns);
  assert(ratio <= Math.SQRT2, `Prometheus P99 vs the Run's P99: ${ratio}x`);
  const classic = await prom.query(
    `count(ioscope_syscall_duration_seconds_bucket{syscall="pread64",target="fio"})`,
    at,
  );
  assertEquals(Number(classic[0]?.value?.[1]), 56, "55 classic buckets and +Inf");

  // The other families are there, with the Run's values (counters, not rates).
  // Every scrape of a counter is the value of one of the backend's
  // snapshots, and a fresh one: the timeline's points are those snapshots
  // (t, dt: seconds since attach, from the clock), so the cumulative bytes
  // at each point's end are the values /metrics can have served, and the
  // one a scrape got ended at most ~2 s before it (the exporter's 1 s
  // cache, the backend's 1 s snapshots). Before, a scrape only had to be
  // 25-100% of the final value.
  const series = await prom.queryRange(`ioscope_syscall_bytes_total{syscall="pread64"}`, end);
  assert(series.length >= 4, `pread64 bytes scraped ${series.length} times`);
  const attachedS = Date.parse(run.meta.started_at) / 1000;
  let cumulative = 0;
  const served = run.timeline.map((p) => {
    cumulative += p.bytes;
    return { at: attachedS + p.t + (p.dt ?? 1), bytes: cumulative };
  });
  for (const [ts, value] of series) {
    const v = Number(value);
    if (v === 0) continue; // before the first snapshot
    // fio's only bytes here are its preads (a few bytes of other calls at most).
    const match = served.find((p) => Math.abs(p.bytes - v) <= Math.max(4096, p.bytes * 0.001));
    assert(match, `a scrape of ${v} bytes at ${ts} is no snapshot's: ${JSON.stringify(served)}`);
    const age = ts - match.at;
    assert(age >= -0.3 && age <= 3.5, `a scrape at ${ts} served a snapshot ${age} s old`);
  }
  const scraped = Number(series[series.length - 1]?.[1]);
  assert(scraped <= own.bytes, `pread64 bytes: last scrape ${scraped}, the Run's ${own.bytes}`);
  for (
    const family of [
      `ioscope_context_switches_total{kind="voluntary"}`,
      `ioscope_context_switches_total{kind="involuntary"}`,
      "ioscope_page_faults_total",
      "ioscope_tlb_flushes_total",
    ]
  ) {
    const r = await prom.query(family, at);
    assert(r.length > 0, `${family} scraped`);
  }
  const labels =
    (await prom.query(`ioscope_syscall_duration_seconds_count{syscall="pread64"}`, at))[0]
      ?.metric;
  // No per-PID label by default (--metrics-pid adds one): a fleet store affords these.
  assert(
    labels?.target === "fio" && labels.backend === run.meta.backend && labels.pid === undefined &&
      labels.host === run.meta.host,
    JSON.stringify(labels),
  );
  await assertHostClean(agentPid);
});
