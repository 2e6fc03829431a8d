// The nightly loop on real traces: fio reads a page-cached file four times and
// then the same file with O_DIRECT, each traced with `trace --store`. The
// report of a store whose latest run is the O_DIRECT one flags it; the report
// of a store of four like runs flags nothing. fio's job file reads `direct=`
// from the environment, so every run has the same command line (one target).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, runCli, tmpDir } from "../_helpers/common.ts";
import type { TrendSummary } from "../../schema/mod.ts";

const JOB = (file: string) =>
  `[global]
filename=${file}
size=32M
rw=randread
bs=4k
ioengine=psync
thread
startdelay=2
time_based
runtime=2
rate_iops=50000
invalidate=0
direct=\${IOSCOPE_TEST_DIRECT}

[trend]
`;

async function tracedFio(dir: string, store: string, direct: boolean): Promise<void> {
  // Like runs should be alike: paced and at nice -20, fio keeps a CPU to itself
  // on a 2-CPU host, so its tail is not the tracer's and the test runner's.
  const fio = new Deno.Command("nice", {
    args: ["-n", "-20", "fio", `${dir}/job.fio`, "--output=/dev/null"],
    env: { IOSCOPE_TEST_DIRECT: direct ? "1" : "0" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const trace = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "trace", "--pid", String(fio.pid), "--store", store],
    stdout: "null",
    stderr: "piped",
  }).output();
  const [f, t] = await Promise.all([fio.output(), trace]);
  const dec = new TextDecoder();
  assert(f.success, `fio failed: ${dec.decode(f.stderr)}`);
  assert(t.success, `trace failed: ${dec.decode(t.stderr)}`);
}

async function report(store: string, dir: string, name: string) {
  const r = await runCli([
    "report",
    "--store",
    store,
    "--out",
    `${dir}/${name}/index.html`,
    "--json",
    `${dir}/${name}/summary.json`,
    "--fail-on-regression",
  ]);
  const summary = JSON.parse(Deno.readTextFileSync(`${dir}/${name}/summary.json`)) as TrendSummary;
  return { ...r, summary };
}

Deno.test("report flags an O_DIRECT run after page-cache runs, and nothing in a store of like runs", async () => {
  await using dir = tmpDir();
  const d = dir.path;
  Deno.writeFileSync(`${d}/fio.dat`, new Uint8Array(32 << 20).fill(7));
  Deno.writeTextFileSync(`${d}/job.fio`, JOB(`${d}/fio.dat`));
  const all = `${d}/all`;
  for (const direct of [false, false, false, false, true]) await tracedFio(d, all, direct);

  const files = [...Deno.readDirSync(all)].map((e) => e.name).sort();
  assertEquals(files.length, 5, `five runs stored: ${files}`);
  for (const f of files) assert(/^fio-[0-9a-f]{8}-\d{8}T\d{6}Z(-\d+)?\.json$/.test(f), f);
  const byTime = [...files].sort((a, b) =>
    Date.parse(JSON.parse(Deno.readTextFileSync(`${all}/${a}`)).meta.started_at) -
    Date.parse(JSON.parse(Deno.readTextFileSync(`${all}/${b}`)).meta.started_at)
  );
  const [b1, b2, b3, like, slow] = byTime as [string, string, string, string, string];
  for (const [name, chosen] of [["like", [b1, b2, b3, like]], ["slow", [b1, b2, b3, slow]]]) {
    Deno.mkdirSync(`${d}/${name}-store`);
    for (const f of chosen as string[]) Deno.copyFileSync(`${all}/${f}`, `${d}/${name}-store/${f}`);
  }

  const likeReport = await report(`${d}/like-store`, d, "like");
  const slowReport = await report(`${d}/slow-store`, d, "slow");
  const table = (s: TrendSummary) =>
    s.targets.flatMap((t) =>
      t.metrics.map((m) =>
        `${m.metric}: ${m.verdict} base=${m.baseline} latest=${m.latest} tol=${m.tolerance}`
      )
    ).join("\n");

  assertEquals(likeReport.summary.targets.length, 1, "one target: same comm and command line");
  assertEquals(
    likeReport.summary.regressions,
    [],
    `like runs flagged:\n${table(likeReport.summary)}`,
  );
  assertEquals(likeReport.code, 0, likeReport.stderr);
  assert(likeReport.stdout.includes("No regressions."), likeReport.stdout);

  assertEquals(slowReport.code, 3, `--fail-on-regression exits 3: ${slowReport.stderr}`);
  const flagged = new Map(slowReport.summary.regressions.map((r) => [r.metric, r]));
  for (const metric of ["syscalls.pread64.p50_ns", "syscalls.pread64.p99_ns"]) {
    const r = flagged.get(metric);
    assert(r, `${metric} flagged:\n${table(slowReport.summary)}`);
    assert(r.latest > r.baseline * 3, `${metric}: ${r.latest} vs ${r.baseline}`);
    assert(r.change > 2, `${metric} change ${r.change}`);
    assert(r.target.startsWith("fio ("), r.target);
  }
  assert(slowReport.stdout.includes("pread64 P50"), slowReport.stdout);

  // The trend page links to the latest run's full report, written beside it.
  const page = Deno.readTextFileSync(`${d}/slow/index.html`);
  const target = slowReport.summary.targets[0];
  assert(target?.latest_report, "latest report linked");
  assert(page.includes(`href="${target.latest_report}"`), "index links the latest report");
  const runPage = Deno.readTextFileSync(`${d}/slow/${decodeURIComponent(target.latest_report)}`);
  assert(runPage.includes("Content-Security-Policy") && runPage.includes("pread64"));
});
