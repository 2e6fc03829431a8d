// Faults on the push path, against real receivers on loopback: Prometheus
// (Debian's 2.42, remote-write receiver, native histograms) killed (SIGKILL)
// and restarted on the same port and data mid-trace loses nothing that fits
// the queue: the pushed gauge has a sample every push interval across the
// outage, and the Run counts nothing unsent. A receiver that accepts
// connections and never answers: the trace runs its duration, says so once,
// and the Run counts the samples unsent. Bad input exits 2 before the trace.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { leftovers, runCli, spawnCli, tmpDir } from "../_helpers/common.ts";
import { readRun } from "../_helpers/documents.ts";
import { startDeadReceiver, startPrometheus, startShellLoop } from "../_helpers/prometheus.ts";

Deno.test("remote-write receiver killed and restarted mid-trace: nothing lost", async () => {
  await using dir = tmpDir();
  const d = dir.path;
  let prom = await startPrometheus(d, { nativeHistograms: true, remoteWriteReceiver: true });
  const port = prom.port;
  await using target = startShellLoop(0.05);
  const cli = spawnCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "12s",
    "--remote-write",
    `${prom.base}/api/v1/write`,
    "--push-interval",
    "1s",
    "--json",
    `${d}/run.json`,
  ]);
  try {
    await cli.waitForStderr("Tracing pid");
    await new Promise((r) => setTimeout(r, 3000));
    prom.child.kill("SIGKILL");
    await prom[Symbol.asyncDispose]();
    await new Promise((r) => setTimeout(r, 3000));
    prom = await startPrometheus(d, { nativeHistograms: true, remoteWriteReceiver: true, port });
    const result = await cli.done;
    assertEquals(result.code, 0, result.stderr);
    const run = readRun(`${d}/run.json`);
    const rw = run.meta.exports?.remote_write;
    assert(rw, "remote_write stats in the Run");
    assertEquals([rw.unsent_samples, rw.rejected_samples], [0, 0], JSON.stringify(rw));
    assert(rw.retries >= 1, `the outage was retried: ${JSON.stringify(rw)}`);
    assertEquals(
      (result.stderr.match(/does not take samples now/g) ?? []).length,
      1,
      `said once: ${result.stderr}`,
    );
    // One sample per push, 1 s apart, the outage's included.
    const samples = await prom.queryRange(
      `ioscope_trace_duration_seconds{target="sh"}`,
      Date.now() / 1000,
    );
    const times = samples.map(([t]) => t);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t));
    assert(samples.length >= 11, `${samples.length} pushes kept: ${JSON.stringify(samples)}`);
    assert(Math.max(...gaps) <= 1.6, `a gap of ${Math.max(...gaps)} s: ${JSON.stringify(times)}`);
  } finally {
    await prom[Symbol.asyncDispose]();
  }
  assert(leftovers(cli.child.pid).length === 0, `left behind: ${leftovers(cli.child.pid)}`);
});

Deno.test("a receiver that never answers: the trace runs its time, unsent samples counted", async () => {
  await using dir = tmpDir();
  await using dead = startDeadReceiver();
  await using target = startShellLoop(0.05);
  const t0 = performance.now();
  const result = await runCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "4s",
    "--remote-write",
    `${dead.base}/api/v1/write`,
    "--push-interval",
    "1s",
    "--json",
    `${dir.path}/run.json`,
  ]);
  const wallS = (performance.now() - t0) / 1000;
  assertEquals(result.code, 0, result.stderr);
  const run = readRun(`${dir.path}/run.json`);
  assert(Math.abs(run.meta.duration_s - 4) < 0.5, `traced ${run.meta.duration_s} s`);
  const rw = run.meta.exports?.remote_write;
  assert(rw && rw.sent_samples === 0 && rw.unsent_samples > 0, JSON.stringify(rw));
  // The wait for the receiver after the trace is bounded (5 s), the trace itself untouched.
  assert(wallS < 4 + 5 + 8, `took ${wallS} s in all`);
});

Deno.test("bad push input: one line, exit 2, before the trace", async () => {
  await using dir = tmpDir();
  const auth = `${dir.path}/auth`;
  Deno.writeTextFileSync(auth, "bearer x\n");
  Deno.chmodSync(auth, 0o644);
  const cases: [string[], RegExp][] = [
    [["--remote-write", "not a url"], /invalid --remote-write 'not a url'/],
    [["--remote-write", "http://u:p@127.0.0.1:9/w"], /no credentials in the URL/],
    [["--otlp", "ftp://127.0.0.1/v1/metrics"], /--otlp: the URL must be http/],
    [
      ["--remote-write", "http://127.0.0.1:9/w", "--remote-write-auth", auth],
      /readable by others \(mode 644\): chmod 600 it/,
    ],
    [
      ["--remote-write", "http://127.0.0.1:9/w", "--remote-write-auth", `${auth}.none`],
      /cannot read --remote-write-auth .*: no such file/,
    ],
    [["--remote-write-auth", auth], /--remote-write-auth goes with --remote-write URL/],
  ];
  for (const [flags, want] of cases) {
    const r = await runCli(["trace", "--pid", String(Deno.pid), "--duration", "1s", ...flags]);
    assertEquals(r.code, 2, `${flags.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(want.test(r.stderr), `${flags.join(" ")}: ${r.stderr}`);
    assert(!r.stderr.includes("Tracing"), "refused before the trace");
  }
});
