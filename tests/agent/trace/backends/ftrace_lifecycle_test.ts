// The ftrace backend end to end: exact counts, threads and forks, and the
// host left as found after every end (target exit, duration, SIGINT,
// SIGTERM, even SIGKILL of the agent), with stale instances swept.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { leftovers, spawnCli, startWorkload, tmpDir, waitFor } from "../../../_helpers/common.ts";
import { startTrace, traceRun } from "../../../_helpers/trace_run.ts";
import {
  INSTANCES,
  processStartTime,
  sweepStaleInstances,
} from "../../../../agent/trace/backends/ftrace_instance.ts";
import { exists } from "../../../../agent/exists.ts";

/** A python3 process running `script`, which prints a line when ready and may wait for one. */
async function python(script: string) {
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  const writer = child.stdin.getWriter();
  return {
    pid: child.pid,
    child,
    go: () => writer.write(new TextEncoder().encode("go\n")),
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // exited
      }
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      await writer.close().catch(() => {});
      await child.status;
    },
  };
}

const PREAD_LOOP = [
  "import os,sys,time",
  "fd=os.open('/etc/hostname',0)",
  "print('ready', flush=True)",
  "while True: os.pread(fd,64,0); time.sleep(0.001)",
].join("\n");

Deno.test("ftrace: exact counts and bytes of a known workload, ended within moments of its exit, nothing left", async () => {
  await using dir = tmpDir();
  await using w = await startWorkload("known_io.ts", [dir.path, "1000", "500", "10"]);
  let exitedAt = 0;
  const { run } = await traceRun(
    ["--pid", String(w.pid), "--backend", "ftrace"],
    `${dir.path}/run.json`,
    {
      during: async (cli) => {
        assert(leftovers(cli.child.pid).length > 0, "the instance exists while tracing");
        await w.go();
        await w.child.status;
        exitedAt = performance.now();
      },
    },
  );
  const stopMs = performance.now() - exitedAt;
  assert(stopMs < 2500, `took ${stopMs} ms to end after the target exited`);
  assertEquals(run.meta.backend, "ftrace");
  assertEquals(run.meta.end_reason, "target-exit");
  assertEquals(run.meta.lost_events, 0);
  assertEquals(
    [run.syscalls.pread64?.count, run.syscalls.pread64?.errors, run.syscalls.pread64?.bytes],
    [1002, 2, 1000 * 4096],
  );
  assertEquals([run.syscalls.pwrite64?.count, run.syscalls.pwrite64?.bytes], [500, 500_000]);
  assertEquals([run.syscalls.sendfile64?.count, run.copy.zero_copy_bytes], [10, 10 * 65536]);
  const inBuckets = (b: [number, number, number][] | undefined) =>
    (b ?? []).reduce((s, x) => s + x[2], 0);
  assertEquals(inBuckets(run.syscalls.pread64?.buckets), 1000, "every successful call in a bucket");
  assertEquals(inBuckets(run.syscalls.pread64?.error_buckets), 2, "the 2 EBADF apart");
  assertEquals(run.syscalls.pread64?.errnos, { EBADF: 2 });
  assert(run.faults.total > 0, "page faults counted");
  assert(run.tlb.flushes !== null, "TLB flushes measured");
});

Deno.test("ftrace: threads started during the trace are followed; a forked child process is not the target", async () => {
  await using dir = tmpDir();
  Deno.writeFileSync(`${dir.path}/data`, new Uint8Array(4096));
  await using t = await python([
    "import os,sys,threading",
    `fd=os.open('${dir.path}/data',0)`,
    "print('ready', flush=True); sys.stdin.readline()",
    "def work():",
    "  for _ in range(1000): os.pread(fd,64,0)",
    "ts=[threading.Thread(target=work) for _ in range(3)]",
    "[t.start() for t in ts]; [t.join() for t in ts]",
    "child=os.fork()",
    "if child == 0:",
    "  for _ in range(700): os.pread(fd,64,0)",
    "  os._exit(0)",
    "os.waitpid(child,0)",
  ].join("\n"));
  const { run } = await traceRun(
    ["--pid", String(t.pid), "--backend", "ftrace"],
    `${dir.path}/r.json`,
    { during: () => t.go() },
  );
  assertEquals(run.syscalls.pread64?.count, 3000, "the three new threads' reads, not the child's");
  assertEquals(run.syscalls.pread64?.bytes, 3000 * 64);
});

Deno.test("ftrace: --duration, SIGINT and SIGTERM end the trace with results and leave nothing", async () => {
  await using t = await python(PREAD_LOOP);
  for (const how of ["duration", "SIGINT", "SIGTERM"] as const) {
    await using dir = tmpDir();
    const trace = await startTrace(
      [
        "--pid",
        String(t.pid),
        "--backend",
        "ftrace",
        ...(how === "duration" ? ["--duration", "1500ms"] : []),
      ],
      `${dir.path}/r.json`,
      { what: how },
    );
    if (how !== "duration") await new Promise((r) => setTimeout(r, 1500));
    const { run } = await trace.end(how === "duration" ? undefined : how);
    assertEquals(run.meta.end_reason, how === "duration" ? "duration" : "signal", how);
    assertEquals(run.meta.target_exited, false, how);
    assert((run.syscalls.pread64?.count ?? 0) > 100, `${how}: preads seen`);
  }
});

Deno.test("ftrace: an agent killed with SIGKILL leaves nothing: its watchdog removes the instances", async () => {
  await using t = await python(PREAD_LOOP);
  const cli = spawnCli(["trace", "--pid", String(t.pid), "--backend", "ftrace"]);
  await cli.waitForStderr("Tracing pid");
  const agent = cli.child.pid;
  assertEquals(leftovers(agent).filter((l) => l.startsWith("tracefs")).length, 2, "two instances");
  cli.child.kill("SIGKILL");
  await cli.done;
  await waitFor(() => leftovers(agent).length === 0, 5000, `cleanup: ${leftovers(agent)}`);
});

Deno.test("stale instances of dead agents are swept, events disabled; a live agent's are kept", async () => {
  const dead = new Deno.Command("true").spawn();
  await dead.status;
  const stale = `${INSTANCES}/ioscope-${dead.pid}-12345`;
  const reused = `${INSTANCES}/ioscope-1-999999999-uring`; // PID 1 lives, but started at another time
  const live = `${INSTANCES}/ioscope-${Deno.pid}-${processStartTime(Deno.pid)}`;
  try {
    for (const dir of [stale, reused, live]) {
      Deno.mkdirSync(dir);
      Deno.writeTextFileSync(`${dir}/set_event_pid`, String(dead.pid));
      Deno.writeTextFileSync(`${dir}/events/sched/sched_switch/enable`, "1");
    }
    const removed = sweepStaleInstances();
    assert(removed.includes(stale.replace(/.*\//, "")), `stale removed: ${removed}`);
    assert(removed.includes(reused.replace(/.*\//, "")), `reused-PID removed: ${removed}`);
    assert(!exists(stale) && !exists(reused), "gone");
    assert(exists(live), "this process's instance is kept");
    // Through the CLI: a trace with the ftrace backend sweeps first.
    Deno.mkdirSync(stale);
    await using target = await python(PREAD_LOOP);
    const cli = spawnCli([
      "trace",
      "--pid",
      String(target.pid),
      "--backend",
      "ftrace",
      "--duration",
      "300ms",
    ]);
    assertEquals((await cli.done).code, 0);
    assert(!exists(stale), "swept by the next trace");
  } finally {
    for (const dir of [stale, reused, live]) {
      try {
        Deno.writeTextFileSync(`${dir}/events/enable`, "0");
        Deno.removeSync(dir);
      } catch {
        // not there
      }
    }
  }
});
