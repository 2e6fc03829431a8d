// Issue 23's second workload: nginx (Debian's nginx-light, one worker,
// sendfile on, a 16 KiB file: benchmarks/nginx.ts) under wrk, traced with
// `--comm nginx`, scraped with protobuf by a real Prometheus 2.42 (native
// histograms) and pushed to the same Prometheus with `--remote-write`. For
// every syscall nginx made: the pushed histogram_count equals the Run's count
// of timed calls exactly and histogram_quantile(0.99) is within one native
// bucket of the Run's P99; the last scrape, taken after wrk ended while nginx
// sat idle, holds the same counts.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { leftovers, spawnCli, tmpDir } from "../_helpers/common.ts";
import { readRun } from "../_helpers/documents.ts";
import { freePort, histogramCount, p99Tolerance, startPrometheus } from "../_helpers/prometheus.ts";
import { startNginx, wrkRequestsPerSecond } from "../../benchmarks/nginx.ts";

const TRACE_S = 10;
const WRK_S = 4;

Deno.test("nginx under wrk: pushed and scraped counts exact, P99 within a native bucket", async () => {
  await using dir = tmpDir();
  await using www = tmpDir(); // its own: nginx's worker runs as www-data
  const d = dir.path;
  const agent = `127.0.0.1:${freePort()}`;
  await using prom = await startPrometheus(d, {
    scrape: agent,
    nativeHistograms: true,
    remoteWriteReceiver: true,
  });
  await using nginx = await startNginx(www.path);
  const masterPid = Number(Deno.readTextFileSync(`${www.path}/nginx.pid`).trim());
  const cli = spawnCli([
    "trace",
    "--comm",
    "nginx",
    "--duration",
    `${TRACE_S}s`,
    "--prom",
    agent,
    "--remote-write",
    `${prom.base}/api/v1/write`,
    "--push-interval",
    "1s",
    "--json",
    `${d}/run.json`,
  ]);
  await cli.waitForStderr("Tracing");
  const rps = await wrkRequestsPerSecond(nginx.url, WRK_S);
  const result = await cli.done;
  assertEquals(result.code, 0, result.stderr);
  const run = readRun(`${d}/run.json`);
  // Our nginx and nothing else: another nginx on the host would be in these figures.
  assertEquals(
    [...run.meta.pids].sort((a, b) => a - b),
    [masterPid, nginx.workerPid].sort((a, b) => a - b),
    "the traced processes are this test's nginx",
  );
  const served = rps * WRK_S;
  const counts = Object.entries(run.syscalls).map(([n, s]) => `${n} ${s.count}`).join(", ");
  console.log(`wrk ${rps.toFixed(0)} req/s for ${WRK_S} s; the Run: ${counts}`);
  // A request is a recvfrom, a writev (the head) and a sendfile64 (the file), measured here:
  // "recvfrom 313787, sendfile64 313770, writev 313770" for wrk's 306054 (76514 req/s x 4 s).
  for (const name of ["recvfrom", "writev", "sendfile64"]) {
    const n = run.syscalls[name]?.count ?? 0;
    assert(n >= served * 0.9, `${name}: ${n} calls for ${Math.round(served)} requests`);
  }

  const atEnd = Date.parse(run.meta.started_at) / 1000 + run.meta.duration_s;
  const rows: string[] = [];
  for (const [name, s] of Object.entries(run.syscalls).sort((a, b) => b[1].count - a[1].count)) {
    const timed = s.buckets.reduce((a, b) => a + b[2], 0);
    if (timed === 0) continue; // every call failed: no histogram
    const pushed = `ioscope_syscall_duration_seconds{syscall="${name}",target="nginx",job=""}`;
    const pushedCount = await histogramCount(prom, pushed);
    const q = await prom.query(`histogram_quantile(0.99, ${pushed})`);
    const pushedP99 = Number(q[0]?.value?.[1]) * 1e9;
    // Scraped just before the trace ended: wrk had stopped for seconds by then.
    const scraped = `ioscope_syscall_duration_seconds{syscall="${name}",job="ioscope"}`;
    const scrapedCount = await histogramCount(prom, scraped, atEnd - 0.5);
    const tol = p99Tolerance(run, name);
    rows.push(
      `${name}: ${timed} timed, pushed ${pushedCount} scraped ${scrapedCount}; ` +
        `P99 Run ${s.p99_ns} ns, Prometheus ${pushedP99.toFixed(0)} ns (±${tol})`,
    );
    assertEquals(pushedCount, timed, `${name}: remote-write histogram_count`);
    assert(
      Math.abs(pushedP99 - s.p99_ns) <= tol,
      `${name}: P99 ${pushedP99} vs ${s.p99_ns} (±${tol})`,
    );
    assertEquals(scrapedCount, timed, `${name}: scraped histogram_count after the load`);
  }
  console.log(rows.join("\n"));
  assert(rows.length >= 3, `syscalls compared: ${rows.length}`);
  const rw = run.meta.exports?.remote_write;
  assert(rw && rw.sent_samples > 0, JSON.stringify(rw));
  assertEquals([rw.unsent_samples, rw.rejected_samples], [0, 0], JSON.stringify(rw));
  assert(leftovers(cli.child.pid).length === 0, `left behind: ${leftovers(cli.child.pid)}`);
});
