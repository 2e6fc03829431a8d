import { assert, assertEquals } from "../../_helpers/assert.ts";
import { isAlive, readStat, StatFiles } from "../../../agent/trace/proc.ts";

/** `sleep` under a name with spaces and parentheses (its comm), as a copy in a temp dir. */
function oddlyNamedSleep(dir: string): Deno.ChildProcess {
  const path = `${dir}/a) b (c`;
  Deno.copyFileSync("/usr/bin/sleep", path);
  Deno.chmodSync(path, 0o755);
  return new Deno.Command(path, { args: ["30"] }).spawn();
}

Deno.test("a kept-open stat reads what /proc/PID/stat says, a comm with spaces and parentheses too", async () => {
  const dir = Deno.makeTempDirSync();
  const child = oddlyNamedSleep(dir);
  using stats = new StatFiles();
  try {
    // A just-exec'd sleep runs (R) while it loads, faulting, and then sleeps
    // (S) for good: two reads taken while it starts may differ (on a fresh
    // 2-vCPU VM, R then S 4 times in 6). Once it sleeps nothing in its stat
    // changes, so wait for that, then both reads must agree on every field.
    let byPath = readStat(child.pid);
    for (let i = 0; i < 500 && byPath?.state !== "S"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      byPath = readStat(child.pid);
    }
    const kept = stats.read(child.pid);
    assert(byPath && kept);
    assertEquals(byPath.state, "S", "sleep asleep");
    assertEquals(kept.comm, "a) b (c");
    // sleep has no terminal: tpgid is -1, a negative field before minflt.
    assertEquals(kept, byPath);
    assert(kept.minflt > 0, `${kept.minflt}`);
    assert(stats.alive(child.pid, kept));
    // Read again from the same open file: the same process.
    assertEquals(stats.read(child.pid)?.pid, child.pid);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    Deno.removeSync(dir, { recursive: true });
  }
  // Reaped: the open file answers no more, and the PID is gone for good.
  assertEquals(stats.read(child.pid), null);
  assertEquals(stats.alive(child.pid, null), false);
  assertEquals(isAlive(child.pid), false);
});

Deno.test("a kept-open stat of a zombie says it is not alive", async () => {
  // A child of this process that exited and is not reaped yet: state Z, no live thread.
  const child = new Deno.Command("sh", { args: ["-c", "exit 0"] }).spawn();
  using stats = new StatFiles();
  let st = stats.read(child.pid);
  for (let i = 0; i < 200 && st !== null && st.state !== "Z"; i++) {
    await new Promise((r) => setTimeout(r, 5));
    st = stats.read(child.pid);
  }
  // Deno reaps its children when their status is awaited: it may be gone already.
  if (st !== null) {
    assertEquals(st.state, "Z");
    assertEquals(stats.alive(child.pid, st), false);
  }
  await child.status;
  assertEquals(stats.read(child.pid), null);
});

Deno.test("a PID that does not exist reads as gone", () => {
  using stats = new StatFiles();
  // Past pid_max (at most 2^22): never a process.
  assertEquals(stats.read(1 << 23), null);
  assertEquals(stats.read(1 << 23), null);
});
