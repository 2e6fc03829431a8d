// Bad input: one clear line on stderr, exit status 2, no stack trace, nothing left running.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { leftovers, ROOT, runCli } from "../_helpers/common.ts";

function pidThatDoesNotExist(): number {
  for (let pid = 4_000_000; pid > 3_000_000; pid -= 7919) {
    try {
      Deno.statSync(`/proc/${pid}`);
    } catch {
      return pid;
    }
  }
  throw new Error("no free PID found");
}

const CASES: [string, string[], RegExp][] = [
  ["no target", ["trace"], /no target/],
  ["non-numeric PID", ["trace", "--pid", "abc"], /invalid --pid 'abc'/],
  ["PID 0", ["trace", "--pid", "0"], /invalid --pid '0'/],
  ["negative PID", ["trace", "--pid", "-5"], /--pid/],
  ["unknown PID", ["trace", "--pid", String(pidThatDoesNotExist())], /no such process/],
  ["a --comm that matches nothing", ["trace", "--comm", "no-such-proc-xyz"], /no process is named/],
  ["both --pid and --comm", ["trace", "--pid", "1", "--comm", "init"], /only one target/],
  ["invalid duration", ["trace", "--pid", "1", "--duration", "soon"], /invalid --duration/],
  ["negative duration", ["trace", "--pid", "1", "--duration", "-3s"], /--duration/],
  ["zero duration", ["trace", "--pid", "1", "--duration", "0s"], /more than zero/],
  ["unknown backend", ["trace", "--pid", "1", "--backend", "dtrace"], /unknown backend 'dtrace'/],
  ["unknown flag", ["trace", "--pid", "1", "--frobnicate"], /frobnicate/],
  ["unknown command", ["tarce"], /unknown command 'tarce'/],
  [
    "unwritable --json path",
    ["trace", "--pid", "1", "--json", "/no/such/dir/run.json"],
    /cannot write --json/,
  ],
  ["--out is a directory", ["trace", "--pid", "1", "--out", "/tmp"], /is a directory/],
  ["command not found", ["trace", "--", "no-such-command-xyz"], /command not found/],
  ["empty command", ["trace", "--"], /no command after --/],
  ["bad --prom address", ["trace", "--pid", "1", "--prom", "nowhere"], /invalid --prom/],
  // 600 h is over 2^31 ms: a timer that long would fire at once and end the trace.
  ["a duration past a timer's range", ["trace", "--pid", "1", "--duration", "600h"], /at most 7/],
  ["a store others can write to", ["trace", "--pid", "1", "--store", "/tmp"], /other users/],
  ["--keep 0", ["trace", "--pid", "1", "--store", "/tmp/x", "--keep", "0"], /invalid --keep/],
  ["--keep without --store", ["trace", "--pid", "1", "--keep", "5"], /--keep goes with --store/],
];

for (const [what, args, message] of CASES) {
  Deno.test(`bad input: ${what} is one line on stderr and exit status 2`, async () => {
    const r = await runCli(args);
    assertEquals(r.code, 2, `${what}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, `one line: ${r.stderr}`);
    assert(message.test(r.stderr), `${what}: '${r.stderr.trim()}' does not match ${message}`);
    assert(!/\bat .*\.ts:\d+/.test(r.stderr), "no stack trace");
  });
}

Deno.test("bad input: without root, trace says it needs root (exit 2)", async () => {
  // nobody cannot read root's Deno cache, so give it a copy of the binary's own cache dir.
  const out = await new Deno.Command("setpriv", {
    args: [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      "--",
      Deno.execPath(),
      "run",
      "-A",
      "--no-lock",
      `${ROOT}mod.ts`,
      "trace",
      "--pid",
      "1",
    ],
    env: { DENO_DIR: Deno.makeTempDirSync(), HOME: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 2, err);
  assert(/needs root/.test(err), err);
});

Deno.test("bad input: --backend bpftrace without bpftrace installed says how to fix it (exit 2)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "trace", "--pid", "1", "--backend", "bpftrace"],
    env: { PATH: "/nonexistent" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 2, err);
  assert(/bpftrace is not installed.*apt-get install bpftrace/.test(err), err);
  assertEquals(err.trim().split("\n").length, 1);
});

Deno.test("bad input leaves nothing running", () => {
  assertEquals(leftovers().filter((l) => !l.includes("tracefs")), []);
});
