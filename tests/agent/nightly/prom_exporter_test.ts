// The Prometheus text the exporter serves, from a real Run (fixture:
// tests/testdata/run_fio_psync.json, see store_test.ts): promtool accepts it,
// label values are escaped, buckets are cumulative and exact, and a busy
// port is a usage error (exit 2) with one clear line.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { spawnCli } from "../../_helpers/common.ts";
import { assertHostClean } from "../../_helpers/trace_run.ts";
import {
  cumulativeBuckets,
  escapeLabelValue,
  histogramBoundsNs,
  renderMetrics,
} from "../../../agent/nightly/openmetrics.ts";
import { parseAddress, startExporter } from "../../../agent/nightly/prom_exporter.ts";
import type { RunDocument } from "../../../schema/mod.ts";
import { quantile } from "../../../schema/buckets.ts";
import { readRun } from "../../_helpers/documents.ts";

const FIXTURE = new URL("../../testdata/run_fio_psync.json", import.meta.url);

function fixture(): RunDocument {
  return readRun(FIXTURE);
}

async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** The Prometheus histogram_quantile of cumulative buckets, as Prometheus computes it. */
function promQuantile(q: number, cum: [number, number][]): number {
  const total = cum[cum.length - 1]?.[1] ?? 0;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of cum) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * (rank - prevCount) / (count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

Deno.test("the exposition of a real Run passes promtool check metrics", async () => {
  const run = fixture();
  run.io_uring = {
    READ: { ...run.syscalls.pread64!, async: 3 },
  };
  const text = renderMetrics(run);
  const r = await promtool(text);
  assertEquals(r.code, 0, r.output);
  for (
    const name of [
      "ioscope_syscall_duration_seconds",
      "ioscope_syscall_bytes_total",
      "ioscope_page_faults_total",
      "ioscope_tlb_flushes_total",
      "ioscope_context_switches_total",
      "ioscope_io_uring_op_duration_seconds",
    ]
  ) {
    assert(text.includes(`# TYPE ${name} `), `${name} declared`);
  }
  assert(text.includes('ioscope_page_faults_total{kind="minor",host='), "minor faults");
  assert(text.includes('ioscope_context_switches_total{kind="involuntary"'), "involuntary");
  assert(text.includes('ioscope_io_uring_op_duration_seconds_bucket{op="READ"'), "io_uring op");
});

Deno.test("label values from the target are escaped, and promtool still accepts the text", async () => {
  const run = fixture();
  run.meta.comm = 'x"} 1\nfake_metric{a="\\';
  const text = renderMetrics(run);
  assert(!text.split("\n").some((l) => l.startsWith("fake_metric")), "no injected line");
  assert(text.includes('target="x\\"} 1\\nfake_metric{a=\\"\\\\"'), "escaped");
  const r = await promtool(text);
  assertEquals(r.code, 0, r.output);
  assertEquals(escapeLabelValue("a\\b"), "a\\\\b");
});

Deno.test("an unmeasured metric (null) is left out, not reported as zero", () => {
  const run = fixture();
  run.faults = { minor: null, major: null, total: 0 };
  run.tlb = { ...run.tlb, flushes: null };
  const text = renderMetrics(run);
  assert(!text.includes("ioscope_page_faults_total"), "no faults family");
  assert(!text.includes("ioscope_tlb_flushes_total"), "no tlb family");
});

Deno.test("55 classic buckets, sqrt(2) apart, exact, end at the count; P99 within a factor sqrt(2)", () => {
  const bounds = histogramBoundsNs();
  // Schema 1: 2^(j/2) s for j = -44..10 (238 ns .. 32 s), issue 23's "fewer of them" (109 before).
  assertEquals(bounds.length, 55);
  assertEquals([bounds[0], bounds[44], bounds[54]], [1e9 / 2 ** 22, 1e9, 32e9]);
  for (let i = 1; i < bounds.length; i++) {
    const ratio = (bounds[i] ?? 0) / (bounds[i - 1] ?? 1);
    assert(Math.abs(ratio - Math.SQRT2) < 1e-9, `bucket ${i} is ${ratio}x the one before`);
  }
  const text = renderMetrics(fixture());
  const les = text.split("\n").filter((l) =>
    l.startsWith('ioscope_syscall_duration_seconds_bucket{syscall="pread64"')
  );
  assertEquals(les.length, 56, "55 bounds and +Inf per series");
  let checked = 0;
  for (const [name, s] of Object.entries(fixture().syscalls)) {
    const cum = cumulativeBuckets(s.buckets);
    const total = s.buckets.reduce((a, b) => a + b[2], 0);
    assertEquals(cum[cum.length - 1], [Infinity, total], `${name} +Inf bucket`);
    for (let i = 1; i < cum.length; i++) {
      assert((cum[i]?.[1] ?? 0) >= (cum[i - 1]?.[1] ?? 0), `${name} is cumulative`);
    }
    // Every fine bucket lies wholly under one bound: each cumulative count is exact.
    for (const [le, n] of cum) {
      if (le === Infinity) continue;
      const exact = s.buckets.filter((b) => b[1] <= le).reduce((a, b) => a + b[2], 0);
      assertEquals(n, exact, `${name} count at le=${le}`);
    }
    if (total >= 1000) {
      // Both lie in the coarse bucket that holds the rank, whose edges are sqrt(2) apart
      // (55 text buckets, issue 23; the old 25% fitted 109 buckets 2^(1/4) apart).
      const ours = quantile(s.buckets, 0.99);
      const theirs = promQuantile(0.99, cum);
      const ratio = Math.max(theirs, ours) / Math.min(theirs, ours);
      assert(ratio <= Math.SQRT2, `${name}: ${theirs} vs ${ours}, ${ratio}x`);
      checked++;
    }
  }
  assert(checked > 0, "a syscall with 1000 calls or more in the fixture");
});

Deno.test("the exporter serves /metrics, 404 elsewhere, and refreshes from current()", async () => {
  const run = fixture();
  let calls = 0;
  const exporter = await startExporter("127.0.0.1:0", () => {
    calls++;
    return run;
  });
  try {
    assert(/^127\.0\.0\.1:\d+$/.test(exporter.address), exporter.address);
    const r = await fetch(`http://${exporter.address}/metrics`);
    assertEquals(r.status, 200);
    assert(r.headers.get("content-type")?.startsWith("text/plain; version=0.0.4"));
    assert((await r.text()).includes("ioscope_syscall_duration_seconds_bucket"));
    const missing = await fetch(`http://${exporter.address}/nope`);
    await missing.body?.cancel();
    assertEquals(missing.status, 404);
    await new Promise((r) => setTimeout(r, 1100));
    await (await fetch(`http://${exporter.address}/metrics`)).text();
    assertEquals(calls, 2, "rendered again after a second");
  } finally {
    await exporter.close();
    await exporter.close();
  }
});

Deno.test("before the probes attach, /metrics is 503 with Retry-After, then the data", async () => {
  const run = fixture();
  let attached = false;
  const exporter = await startExporter("127.0.0.1:0", () => attached ? run : null);
  try {
    const early = await fetch(`http://${exporter.address}/metrics`);
    assertEquals(early.status, 503);
    assertEquals(early.headers.get("retry-after"), "1");
    assert((await early.text()).startsWith("attaching"));
    attached = true;
    const r = await fetch(`http://${exporter.address}/metrics`);
    assertEquals(r.status, 200);
    assert((await r.text()).includes("ioscope_syscall_duration_seconds_bucket"));
  } finally {
    await exporter.close();
  }
});

Deno.test("parseAddress defaults to loopback and refuses bad ports", () => {
  assertEquals(parseAddress(":9464"), { hostname: "127.0.0.1", port: 9464 });
  assertEquals(parseAddress("0.0.0.0:80"), { hostname: "0.0.0.0", port: 80 });
  let threw = false;
  try {
    parseAddress("127.0.0.1:70000");
  } catch {
    threw = true;
  }
  assert(threw, "port 70000 refused");
});

Deno.test("trace --prom on a busy port exits 2 with one clear line and leaves nothing behind", async () => {
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (busy.addr as Deno.NetAddr).port;
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  let agentPid = 0;
  try {
    const cli = spawnCli([
      "trace",
      "--pid",
      String(sleeper.pid),
      "--duration",
      "5s",
      "--prom",
      `127.0.0.1:${port}`,
    ]);
    agentPid = cli.child.pid;
    const r = await cli.done;
    assertEquals(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("Tracing "));
    assertEquals(lines.length, 1, r.stderr);
    assert(/cannot serve metrics on 127\.0\.0\.1:\d+: the port is in use/.test(lines[0] ?? ""));
  } finally {
    busy.close();
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
  await assertHostClean(agentPid);
});
