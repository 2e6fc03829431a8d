// A run killed with SIGKILL together with its watchdog (the OOM killer, or
// `systemctl kill` of a unit's cgroup) leaves its tracefs instances
// recording; the next run sweeps them, whatever its backend, and keeps an
// instance that is alive: one whose owner runs, or one somebody holds open.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { killOnDispose, leftovers, spawnCli, waitFor } from "../_helpers/common.ts";
import { assertHostClean } from "../_helpers/trace_run.ts";
import { INSTANCES, sweepStaleInstances } from "../../agent/trace/backends/ftrace_instance.ts";

/** A process that reads in a loop until killed. */
function reader(): Deno.ChildProcess & AsyncDisposable {
  const child = new Deno.Command("sh", {
    args: ["-c", "while :; do head -c 64 /etc/hostname >/dev/null; sleep 0.01; done"],
    stdout: "null",
  }).spawn();
  return killOnDispose(child);
}

/** The processes whose command line carries the agent's marker (its watchdog). */
function markedBy(agent: number): number[] {
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(`ioscope-agent=${agent}\n`)) {
        found.push(Number(e.name));
      }
    } catch {
      // gone
    }
  }
  return found;
}

function instancesOf(agent: number): string[] {
  return leftovers(agent).filter((l) => l.startsWith("tracefs instance"));
}

Deno.test("a bpf run sweeps the instances of an ftrace run killed with its watchdog", async () => {
  await using target = reader();
  const killed = spawnCli(["trace", "--pid", String(target.pid), "--backend", "ftrace"]);
  await killed.waitForStderr("Tracing pid");
  const agent = killed.child.pid;
  const watchdogs = markedBy(agent);
  assertEquals(watchdogs.length, 1, "the ftrace run's watchdog");
  // The whole unit dies at once: the watchdog first, so it cannot clean up.
  for (const pid of watchdogs) Deno.kill(pid, "SIGKILL");
  killed.child.kill("SIGKILL");
  await killed.done;
  const left = instancesOf(agent);
  assertEquals(left.length, 2, "the killed run left its two instances");
  const main = left.map((l) => l.replace("tracefs instance ", "")).find((n) =>
    !n.endsWith("uring")
  );
  assertEquals(
    Deno.readTextFileSync(`${INSTANCES}/${main}/tracing_on`).trim(),
    "1",
    "and left them recording",
  );

  const next = spawnCli([
    "trace",
    "--pid",
    String(target.pid),
    "--backend",
    "bpf",
    "--duration",
    "300ms",
  ]);
  const r = await next.done;
  assertEquals(r.code, 0, r.stderr);
  assertEquals(instancesOf(agent), [], "swept by the bpf run");
  await assertHostClean(next.child.pid, "the bpf run left nothing of its own");
});

Deno.test("the sweep keeps a live run's instances, and a dead owner's instance that is held open", async () => {
  await using target = reader();
  const live = spawnCli(["trace", "--pid", String(target.pid), "--backend", "ftrace"]);
  const dead = new Deno.Command("true").spawn();
  await dead.status;
  const held = `${INSTANCES}/ioscope-${dead.pid}-12345`;
  const stale = `${INSTANCES}/ioscope-${dead.pid}-12346`;
  let file: Deno.FsFile | null = null;
  try {
    await live.waitForStderr("Tracing pid");
    Deno.mkdirSync(held);
    Deno.mkdirSync(stale);
    Deno.writeTextFileSync(`${stale}/events/sched/sched_switch/enable`, "1");
    // A reader of the instance: a live run in another PID namespace looks like this.
    file = Deno.openSync(`${held}/per_cpu/cpu0/trace_pipe_raw`);
    const removed = sweepStaleInstances();
    assertEquals(removed, [stale.replace(/.*\//, "")], "only the stale one is removed");
    assert(Deno.statSync(held).isDirectory, "the held instance is kept");
    assertEquals(instancesOf(live.child.pid).length, 2, "the live run's instances are kept");
    live.child.kill("SIGINT");
    assertEquals((await live.done).code, 0);
    await waitFor(() => leftovers(live.child.pid).length === 0, 5000, "the live run's cleanup");
  } finally {
    file?.close();
    for (const dir of [held, stale]) {
      try {
        Deno.removeSync(dir);
      } catch {
        // not there
      }
    }
    try {
      live.child.kill("SIGKILL");
    } catch {
      // exited
    }
    await live.done;
  }
});
