// An error that nothing catches (here thrown from a timer while the trace
// runs) still ends the trace through its one way out: the Run is written,
// the exit status is 1 with one line naming the error, and nothing is left
// behind. On main before the fix, the process died at once: no Run, and an
// ftrace run's instances left to its watchdog.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { killOnDispose, ROOT, tmpDir } from "../_helpers/common.ts";
import { assertHostClean } from "../_helpers/trace_run.ts";
import { readRun } from "../_helpers/documents.ts";

Deno.test("an uncaught error ends the trace, writes the Run, exits 1, leaves nothing", async () => {
  await using dir = tmpDir();
  await using target = killOnDispose(new Deno.Command("sleep", { args: ["30"] }).spawn());
  for (const backend of ["bpf", "ftrace"]) {
    const json = `${dir.path}/${backend}.json`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}tests/e2e/_throw_during_trace.ts`,
        "1500",
        "trace",
        `--pid=${target.pid}`,
        `--backend=${backend}`,
        "--duration=20s",
        `--json=${json}`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const t0 = performance.now();
    const out = await child.output();
    const ms = performance.now() - t0;
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 1, stderr);
    assert(ms < 10_000, `${backend}: ended at the error, not at --duration: ${ms} ms`);
    assert(
      stderr.includes(
        "ioscope trace: the trace ended early on an unexpected error: planted failure\n",
      ),
      stderr,
    );
    assert(!stderr.includes("    at "), `no stack trace: ${stderr}`);
    assertEquals(readRun(json).meta.backend, backend);
    await assertHostClean(child.pid, backend);
  }
});
