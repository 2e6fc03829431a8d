// The timeline's `t` (when a point starts) and `dt` (how long it covers) are
// seconds since the probes attached, read from the clock when each sample was
// taken (samples come 1.00-1.05 s apart, later on a busy host), not a sample
// index; its points cover the whole trace, so a 4 s trace has points over
// 0-4 s (before: t = 0, 1, 2 in a 4.0 s trace) and their calls add up to the Run's.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { tracePid } from "../_helpers/trace_run.ts";
import { TRACE_BACKENDS } from "../_helpers/backends.ts";

for (const backend of TRACE_BACKENDS) {
  Deno.test(`${backend}: a 4 s trace has timeline points covering 0-4 s, in seconds since attach`, async () => {
    await using dir = tmpDir();
    const target = new Deno.Command("python3", {
      args: [
        "-c",
        "import os,time\nfd=os.open('/etc/hostname',0)\nwhile True: os.pread(fd,64,0); time.sleep(0.0005)",
      ],
    }).spawn();
    try {
      const { run } = await tracePid(target.pid, `${dir.path}/run.json`, {
        backend,
        args: ["--duration", "4s"],
      });
      const points = run.timeline.map((p) => [p.t, p.dt ?? 1] as const);
      const what = `${backend}: [t, dt] = ${
        JSON.stringify(points)
      } in a ${run.meta.duration_s} s trace`;
      assert(run.timeline.length >= 4, what);
      assertEquals(points[0]?.[0], 0, `${what}: the first point starts at attach`);
      // Each point starts where the one before ended: they cover the window.
      for (let i = 1; i < points.length; i++) {
        const [t0, dt0] = points[i - 1] ?? [0, 0];
        assert(Math.abs((points[i]?.[0] ?? 0) - (t0 + dt0)) < 0.0015, `${what}: point ${i}`);
        assert(dt0 > 0.5 && dt0 < 1.6, `${what}: a sample about a second after the one before`);
      }
      const [lastT, lastDt] = points[points.length - 1] ?? [0, 0];
      assert(
        Math.abs(lastT + lastDt - run.meta.duration_s) < 0.0015,
        `${what}: the last point ends with the trace`,
      );
      const calls = Object.values(run.syscalls).reduce((s, op) => s + op.count, 0);
      const sampled = run.timeline.reduce((s, p) => s + p.syscalls, 0);
      assertEquals(sampled, calls, `${backend}: the timeline holds every call of the Run`);
    } finally {
      target.kill("SIGKILL");
      await target.status;
    }
  });
}
