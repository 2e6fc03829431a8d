// The timeline's `t` is seconds since the probes attached, read from the
// clock when each sample was taken (samples come 1.00-1.05 s apart, later on a
// busy host), not a sample index; its points cover the whole trace, so a 4 s
// trace has points up to 4 s and their calls add up to the Run's.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { leftovers, spawnCli, tmpDir } from "../_helpers/common.ts";
import { TRACE_BACKENDS } from "../_helpers/backends.ts";
import type { RunDocument } from "../../schema/mod.ts";

for (const backend of TRACE_BACKENDS) {
  Deno.test(`${backend}: a 4 s trace has timeline points from 1 s to 4 s, in seconds since attach`, async () => {
    await using dir = tmpDir();
    const target = new Deno.Command("python3", {
      args: [
        "-c",
        "import os,time\nfd=os.open('/etc/hostname',0)\nwhile True: os.pread(fd,64,0); time.sleep(0.0005)",
      ],
    }).spawn();
    try {
      const json = `${dir.path}/run.json`;
      const cli = spawnCli([
        "trace",
        "--pid",
        String(target.pid),
        "--backend",
        backend,
        "--duration",
        "4s",
        "--json",
        json,
      ]);
      const result = await cli.done;
      assertEquals(result.code, 0, result.stderr);
      assertEquals(leftovers(cli.child.pid), []);
      const run: RunDocument = JSON.parse(Deno.readTextFileSync(json));
      const ts = run.timeline.map((p) => p.t);
      const what = `${backend}: t = ${ts.join(", ")} in a ${run.meta.duration_s} s trace`;
      assert(run.timeline.length >= 4, what);
      assert(ts.every((t, i) => i === 0 || t > (ts[i - 1] ?? 0)), `${what}: increasing`);
      assert((ts[0] ?? 0) > 0.5 && (ts[0] ?? 0) <= 1.5, `${what}: the first sample near 1 s`);
      const last = ts[ts.length - 1] ?? 0;
      assert(last >= 3.9 && last <= run.meta.duration_s + 0.001, `${what}: the last at the end`);
      const calls = Object.values(run.syscalls).reduce((s, op) => s + op.count, 0);
      const sampled = run.timeline.reduce((s, p) => s + p.syscalls, 0);
      assertEquals(sampled, calls, `${backend}: the timeline holds every call of the Run`);
    } finally {
      target.kill("SIGKILL");
      await target.status;
    }
  });
}
