// --perf and --flamegraph through the CLI on real workloads, with the real perf.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { killOnDispose, spawnCli, tmpDir } from "../../_helpers/common.ts";
import { traceRun } from "../../_helpers/trace_run.ts";
import type { RunDocument } from "../../../schema/mod.ts";
import { hasCpuPmu, PERF_DATA_ROOT } from "../../../agent/trace/perf.ts";

/** perf processes still watching a PID (none may outlive the trace). */
function perfFor(pid: number): string[] {
  const found: string[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).split("\0");
      if (argv.some((a) => a.endsWith("perf")) && argv.includes(String(pid))) {
        found.push(argv.join(" "));
      }
    } catch {
      // gone
    }
  }
  return found;
}

/** A python3 process running `script` until killed. */
function python(script: string): Deno.ChildProcess & AsyncDisposable {
  return killOnDispose(new Deno.Command("python3", { args: ["-c", script] }).spawn());
}

const HW = [
  "dtlb_loads",
  "dtlb_load_misses",
  "itlb_loads",
  "itlb_load_misses",
  "cycles",
  "instructions",
];

/** `trace --pid PID --duration 2s FLAG --json`, after the target has run a moment; leaves nothing. */
async function traceFor2s(pid: number, flag: string, dir: string): Promise<RunDocument> {
  await new Promise((r) => setTimeout(r, 300));
  // perf and bpftrace reaped, nothing left in tracefs: traceRun checks.
  return (await traceRun(["--pid", String(pid), "--duration", "2s", flag], `${dir}/r.json`)).run;
}

Deno.test("--perf counts the target's faults and switches; counters the host lacks are null with a reason, never 0", async () => {
  await using dir = tmpDir();
  // Maps and touches 2000 fresh pages a round: about 2000 minor faults each.
  await using target = python([
    "import mmap,time",
    "while True:",
    "  m=mmap.mmap(-1, 2000*4096)",
    "  for i in range(0, 2000*4096, 4096): m[i]=1",
    "  m.close(); time.sleep(0.05)",
  ].join("\n"));
  const run = await traceFor2s(target.pid, "--perf", dir.path);
  const perf = run.perf;
  assert(perf, "run.perf present");
  const faults = perf.page_faults ?? 0;
  assert(faults > 10_000, `page faults ${faults}: ~2000 per round for ~2 s`);
  // Three counters, enabled and read one after another: a fault may fall between.
  const split = (perf.minor_faults ?? 0) + (perf.major_faults ?? 0);
  assert(Math.abs(split - faults) <= 3, `minor + major ${split} vs all ${faults}`);
  assert(
    typeof perf.context_switches === "number" && perf.context_switches > 10,
    "switches counted (it sleeps)",
  );
  assert(typeof perf.cpu_migrations === "number", "migrations counted");
  // The tracepoint's count over the same seconds (perf starts a moment later).
  assert(
    faults <= run.faults.total * 1.05 && faults >= run.faults.total * 0.6,
    `perf ${faults} vs tracepoint ${run.faults.total}`,
  );
  const pmu = hasCpuPmu();
  for (const key of HW) {
    const v = perf[key];
    const listed = run.meta.unsupported.find((u) => u.metric === `perf.${key}`);
    if (pmu && v !== null) {
      assert(typeof v === "number", `${key} counted`);
    } else {
      assertEquals(v, null, `${key} is null, not 0`);
      assert(listed && listed.reason.length > 10, `${key} listed as unsupported with a reason`);
    }
  }
  if (perf.dtlb_load_misses === null) {
    assertEquals(run.tlb.dtlb_load_misses, null);
    assert(
      run.meta.unsupported.some((u) => u.metric === "tlb.dtlb_load_misses"),
      "tlb.dtlb_load_misses listed",
    );
  }
  assertEquals(perfFor(target.pid), []);
});

Deno.test("--flamegraph of a process that reads a cached file shows the kernel's read path", async () => {
  await using dir = tmpDir();
  const file = `${dir.path}/data`;
  Deno.writeFileSync(file, new Uint8Array(8 << 20).fill(9));
  await using target = python([
    "import os",
    `fd=os.open('${file}',0)`,
    "while True:",
    "  os.read(fd, 1<<20) or os.lseek(fd, 0, 0)",
  ].join("\n"));
  const run = await traceFor2s(target.pid, "--flamegraph", dir.path);
  const fg = run.flamegraph;
  assert(fg, "run.flamegraph present");
  // 99 Hz for ~2 s on a CPU-bound target (less when the host is busy).
  assert(fg.samples > 50, `${fg.samples} samples`);
  let total = 0;
  for (const line of fg.folded) {
    const m = /^(\S.*) (\d+)$/.exec(line);
    assert(m, `folded line: ${line}`);
    total += Number(m[2]);
  }
  assertEquals(total, fg.samples, "counts add up to the samples");
  const read = fg.folded.filter((l) => /;(ksys_read|vfs_read)_\[k\]/.test(l));
  const share = read.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0) / fg.samples;
  assert(share > 0.5, `the read path holds ${Math.round(share * 100)}% of samples`);
  assert(
    read.some((l) => l.includes("filemap_read_[k]") || l.includes("copy")),
    "the page cache copy is seen",
  );
  assertEquals(perfFor(target.pid), []);
});

Deno.test("--flamegraph folds perf script's output as it comes: 240 MB of samples in under 120 MB", async () => {
  await using dir = tmpDir();
  // A perf whose `script` prints 2,000,000 three-frame samples (240 MB).
  const perf = `${dir.path}/perf`;
  Deno.writeTextFileSync(
    perf,
    "#!/bin/sh\nawk 'BEGIN { for (i = 0; i < 2000000; i++) printf \"worker %d \\n" +
      "\\tffffffff816d5e14 vfs_read+0x24 ([kernel.kallsyms])\\n" +
      "\\t7f0012345678 read (/usr/lib/x86_64-linux-gnu/libc.so.6)\\n\\n\", i % 7 }'\n",
    { mode: 0o755 },
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_fold_big.ts", import.meta.url).pathname, perf],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  assertEquals(r.samples, 2_000_000);
  // Read whole, as before, half of this (1,000,000 samples, 120 MB) peaked at
  // 846 MB resident; folded as it comes, 88 MB (`deno run -A
  // tests/agent/trace/_fold_big.ts PERF [buffered]`, with 1,000,000 samples).
  assert(r.peakKb < 120 * 1024, `peak ${Math.round(r.peakKb / 1024)} MiB resident`);
});

Deno.test("--flamegraph's recording of an agent killed with -9 is removed by the next trace", async () => {
  assertEquals(Deno.uid(), 0, "needs root");
  await using dir = tmpDir();
  await using target = python("import time\nwhile True: sum(range(10000)); time.sleep(0.001)");
  const before = new Set(perfDirs());
  const cli = spawnCli(["trace", "--pid", String(target.pid), "--flamegraph"]);
  await cli.waitForStderr("Ctrl-C", 30_000);
  const mine = perfDirs().filter((d) => !before.has(d) && d.startsWith(`perf-${cli.child.pid}-`));
  assertEquals(mine.length, 1, `the agent's recording under ${PERF_DATA_ROOT}: ${perfDirs()}`);
  cli.child.kill("SIGKILL");
  await cli.done;
  // perf ends with its agent (parent-death signal); what it wrote stays.
  for (let i = 0; i < 100 && perfFor(target.pid).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert(
    perfDirs().includes(mine[0] ?? ""),
    "kill -9 leaves the recording (nothing can remove it)",
  );
  // The next trace, of any kind, removes it.
  await traceFor2s(target.pid, "--perf", dir.path);
  assert(!perfDirs().includes(mine[0] ?? ""), `${mine[0]} is left after the next trace`);
});

/** The recordings under PERF_DATA_ROOT. */
function perfDirs(): string[] {
  try {
    return [...Deno.readDirSync(PERF_DATA_ROOT)].map((e) => e.name);
  } catch {
    return [];
  }
}
