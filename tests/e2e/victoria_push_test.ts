// VictoriaMetrics (Debian's victoria-metrics 1.79.5) as a second
// remote-write receiver, started on loopback. What it takes, measured here:
// float samples, yes; native histogram samples are accepted (HTTP 204) and
// dropped without a word (a query finds no series), so ioscope's
// `--remote-write-classic` also sends classic `le` buckets, which it keeps:
// `_count` equals the Run's count of timed calls.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, tmpDir } from "../_helpers/common.ts";
import { readRun } from "../_helpers/documents.ts";
import { freePort, startShellLoop } from "../_helpers/prometheus.ts";

async function startVictoria(dir: string) {
  const port = freePort();
  const child = new Deno.Command("victoria-metrics", {
    args: [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dir}/vm`,
      // Recent samples are left out of queries for 30 s by default.
      "-search.latencyOffset=0s",
      "-search.disableCache",
      "-loggerLevel=ERROR",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/health`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error("victoria-metrics did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    async query(
      expr: string,
    ): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
      const body = await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`))
        .json();
      if (body.status !== "success") throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
      return body.data.result;
    },
    async [Symbol.asyncDispose]() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

Deno.test("VictoriaMetrics keeps the pushed counters and classic buckets, drops native histograms", async () => {
  await using dir = tmpDir();
  await using vm = await startVictoria(dir.path);
  await using target = startShellLoop(0.02);
  const result = await runCli([
    "trace",
    "--pid",
    String(target.pid),
    "--follow",
    "--duration",
    "3s",
    "--remote-write",
    `${vm.base}/api/v1/write`,
    "--remote-write-classic",
    "--push-interval",
    "1s",
    "--json",
    `${dir.path}/run.json`,
  ]);
  assertEquals(result.code, 0, result.stderr);
  const run = readRun(`${dir.path}/run.json`);
  const [name, s] = Object.entries(run.syscalls).sort((a, b) => b[1].count - a[1].count)[0] ??
    [];
  assert(name && s, "a syscall traced");
  await (await fetch(`${vm.base}/internal/force_flush`)).body?.cancel();
  const sel = `{syscall="${name}",target="sh"}`;
  const timed = s.buckets.reduce((a, b) => a + b[2], 0);
  // The last rows become searchable within a few seconds of arriving (force_flush is not enough).
  let count = await vm.query(`ioscope_syscall_duration_seconds_count${sel}`);
  for (let i = 0; i < 50 && Number(count[0]?.value[1]) !== timed; i++) {
    await new Promise((r) => setTimeout(r, 200));
    count = await vm.query(`ioscope_syscall_duration_seconds_count${sel}`);
  }
  assertEquals(Number(count[0]?.value[1]), timed, "classic _count");
  const bytes = await vm.query(`ioscope_syscall_bytes_total${sel}`);
  assertEquals(Number(bytes[0]?.value[1]), s.bytes, "a counter, as the Run has it");
  const buckets = await vm.query(`ioscope_syscall_duration_seconds_bucket${sel}`);
  assertEquals(buckets.length, 56, "classic buckets kept: 55 and +Inf");
  const native = await vm.query(`ioscope_syscall_duration_seconds${sel}`);
  assertEquals(native.length, 0, "native histogram samples: dropped by VictoriaMetrics 1.79");
  const rw = run.meta.exports?.remote_write;
  assert(rw && rw.unsent_samples === 0 && rw.rejected_samples === 0, JSON.stringify(rw));
});
