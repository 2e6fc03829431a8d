// `trace --interval` and `--json-lines` for real: a steady workload whose read
// P99 is set by a 10 ms timer (tests/_helpers/workloads/timer_reads.ts), traced with
// each backend; every interval's P99 is checked against a separate trace of
// the same workload.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, startWorkload, tmpDir } from "../_helpers/common.ts";
import { tracePid } from "../_helpers/trace_run.ts";
import type { IntervalDocument } from "../../schema/interval.ts";
import { BUCKET_WIDTH } from "../../schema/buckets.ts";

const BACKENDS = ["bpf", "bpftrace", "ftrace"] as const;

/** A bucket's width over its low bound: two readings of one value differ by at most that. */
const BUCKET_ERROR = BUCKET_WIDTH;

for (const backend of BACKENDS) {
  Deno.test(`--json-lines with ${backend}: one interval per second, its P99 agrees with a separate trace`, async () => {
    await using dir = tmpDir();
    await using w = await startWorkload("timer_reads.ts", []);
    await w.go();
    const { run, ...lines } = await tracePid(w.pid, `${dir.path}/run.json`, {
      backend,
      args: ["--interval", "1s", "--json-lines", "--duration", "4.5s"],
    });
    // stdout is JSON lines only (the summary goes to stderr).
    const docs = lines.stdout.trim().split("\n").map((l) => JSON.parse(l) as IntervalDocument);
    assert(docs.length >= 4 && docs.length <= 6, `${docs.length} intervals in 4.5 s`);
    assert(lines.stderr.includes("syscall           calls"), "the summary is on stderr");
    assert(Deno.statSync(`${dir.path}/run.json`).size > 0, "--json is still written");
    const full = docs.filter((d) => !d.final);
    for (const d of docs) {
      assertEquals(d.schema, "ioscope.interval/1");
      assertEquals(d.pids, [w.pid]);
      assertEquals(d.backend, backend);
    }
    // An interval ends at the first snapshot at least 0.75 s in. bpftrace's are
    // timed by its kernel tick (its output once reached the agent 1.276 s after
    // the one before here), a 100 ms timer's tenth firing, which a busy CPU can
    // skip; bpf's and ftrace's are read on the agent's timer, which load delays.
    for (const d of full) {
      assert(d.interval_s >= 0.75 && d.interval_s < 2, `interval ${d.interval_s} s`);
    }
    for (let i = 1; i < docs.length; i++) {
      assert(docs[i]!.t_s > docs[i - 1]!.t_s, "intervals in order");
    }

    // The intervals add up to the whole trace: every read counted once.
    const summed = docs.reduce((s, d) => s + (d.syscalls.read?.calls ?? 0), 0);
    assertEquals(summed, run.syscalls.read?.count, "interval reads sum to the run's reads");
    // Each interval says what the Run says cannot be measured (the --live view
    // shows it from there, without building a Run every second).
    for (const d of docs) {
      assertEquals(d.unsupported, run.meta.unsupported, "an interval's unsupported metrics");
    }

    // A separate trace of the same steady workload.
    const separate = await tracePid(w.pid, `${dir.path}/separate.json`, {
      backend,
      args: ["--duration", "3s"],
    });
    const reference = separate.run.syscalls.read?.p99_ns ?? 0;
    // The timer sets it: about 10 ms (intervals read 9.68-9.82 ms here with bpf, bpftrace, ftrace).
    assert(reference > 8_000_000 && reference < 12_000_000, `reference P99 ${reference} ns`);
    for (const d of full.slice(1)) {
      const p99 = d.syscalls.read?.p99_ns ?? 0;
      const off = Math.abs(p99 - reference) / reference;
      assert(
        off <= BUCKET_ERROR,
        `interval at ${d.t_s} s: read P99 ${p99} ns vs ${reference} ns separately (${
          (off * 100).toFixed(1)
        }% apart)`,
      );
      // The interval's own calls: about a second's (5 000 reads/s).
      const calls = d.syscalls.read?.calls ?? 0;
      assert(calls > 2_000 && calls < 40_000, `${calls} reads in one interval`);
    }
  });
}

Deno.test("--interval 1s prints a compact block per interval, in 80 columns, units on numbers", async () => {
  await using w = await startWorkload("timer_reads.ts", []);
  await w.go();
  const r = await runCli([
    "trace",
    "--pid",
    String(w.pid),
    "--interval",
    "1s",
    "--duration",
    "3.5s",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const out = r.stdout;
  // The blocks and the summary after them.
  for (const line of out.split("\n")) assert(line.length <= 80, `${line.length}: ${line}`);
  const heads = out.split("\n").filter((l) => /^\d+\.\d s \(\d+\.\d s(, last)?\): faults /.test(l));
  assert(heads.length >= 3, `${heads.length} interval blocks:\n${out}`);
  // A read row: calls/s, errors/s, bytes/s, time/s, P50, P99, each with its unit.
  const row = out.split("\n").find((l) => /^ {2}read\s/.test(l));
  assert(row, out);
  assert(
    /^ {2}read\s+[\d.]+k?\/s\s+\d+\/s\s+[\d.]+[KMG]?i?B\/s\s+[\d.]+[num]?s\/s\s+[\d.]+[num]?s\s+[\d.]+[num]?s$/
      .test(row),
    row,
  );
  // With the default backend (bpf) each row is followed by where its calls' time went:
  // timer_reads sleeps on a timerfd, so "other" sleep; from the second interval on
  // (the slow threshold is the previous interval's P99) for its P99 calls too; each
  // block ends with the block layer's line.
  assert(/^ {4}time \d+% other/m.test(out), out);
  assert(/^ {2}read\s.*\n {4}time .*; P99 calls \d+% other/m.test(out), out);
  assert(/^ {2}block /m.test(out), out);
  const splits = out.split("\n").filter((l) => /^ {4}time /.test(l));
  assert(splits.every((l) => !/(^|\s)0%/.test(l)), splits.join("\n"));
  // The summary of the whole trace follows the blocks, as without --interval.
  assert(out.includes("syscall           calls  errs"), out);
});

Deno.test("--interval, --json-lines and --live refuse what cannot work, in one line, exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--interval", "500ms"], /invalid --interval '500ms': use whole seconds/],
    [["--interval", "1.5s"], /invalid --interval '1.5s': use whole seconds/],
    [["--interval", "soon"], /invalid --interval 'soon'/],
    // runCli's stdin and stdout are pipes, not a terminal.
    [
      ["--live"],
      /--live needs a terminal \(stdin and stdout\); piped, use --interval 1s --json-lines/,
    ],
    [["--live", "--json-lines"], /give one of them/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(["trace", "--pid", "1", "--duration", "1s", ...args]);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(want.test(lines[0]!), `${args.join(" ")}: ${r.stderr}`);
  }
});
