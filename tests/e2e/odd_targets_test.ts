/**
 * Targets production has: a process whose main thread exited while its other
 * threads work, a command that daemonizes, a command run as another user.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, tmpDir } from "../_helpers/common.ts";
import { tracePid, traceRun } from "../_helpers/trace_run.ts";
import { PYTHON, startPython, WORKLOADS } from "../_helpers/python.ts";

for (const backend of ["bpf", "bpftrace", "ftrace"]) {
  Deno.test(`a process whose main thread exited is traced to its end (${backend})`, async () => {
    await using dir = tmpDir();
    // The main thread exits at once (a zombie leader); a thread does 200 preadv on "go".
    await using target = startPython("odd_targets.py", ["leader-exit", "200"]);
    await target.waitFor("ready");
    for (let i = 0; i < 100; i++) {
      const st = Deno.readTextFileSync(`/proc/${target.pid}/stat`);
      if (st.slice(st.lastIndexOf(")") + 2).startsWith("Z")) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const stat = Deno.readTextFileSync(`/proc/${target.pid}/stat`);
    assert(stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z"), "the leader is a zombie");
    const { run: doc } = await tracePid(target.pid, `${dir.path}/run.json`, {
      backend,
      args: ["--duration", "20s"],
      during: () => target.send("go"),
    });
    assertEquals(doc.syscalls.preadv2?.count, 200);
    // It ended when the last thread exited, not at the start (the leader was already gone).
    assertEquals(doc.meta.end_reason, "target-exit");
    assert(doc.meta.duration_s > 1.5, `traced ${doc.meta.duration_s} s`);
    assert(doc.meta.cmdline.includes("odd_targets.py"), doc.meta.cmdline);
  });
}

Deno.test("trace -- CMD follows a daemonizing command's daemon to its end", async () => {
  await using dir = tmpDir();
  const { run: doc } = await traceRun(
    ["--duration", "20s", "--", PYTHON, `${WORKLOADS}odd_targets.py`, "daemon", "200"],
    `${dir.path}/run.json`,
  );
  // The launcher exits at once; the daemon's 200 preadv2 come 1 to 3 s later.
  assertEquals(doc.syscalls.preadv2?.count, 200);
  assertEquals(doc.meta.end_reason, "target-exit");
  assert(doc.meta.duration_s > 2.5 && doc.meta.duration_s < 15, `${doc.meta.duration_s} s`);
});

Deno.test("trace --user NAME -- CMD runs the command as that user", async () => {
  await using dir = tmpDir();
  for (const flag of ["--user", "-u"]) {
    const { run: doc, ...r } = await traceRun(
      [
        flag,
        "nobody",
        "--",
        "sh",
        "-c",
        'echo "uid=$(id -u) gid=$(id -g) home=$HOME user=$USER"; head -c 4096 /dev/zero >/dev/null',
      ],
      `${dir.path}/run.json`,
      { what: flag },
    );
    assert(r.stdout.includes("uid=65534 gid=65534 home=/nonexistent user=nobody"), r.stdout);
    assert((doc.syscalls.read?.bytes ?? 0) >= 4096, JSON.stringify(doc.syscalls.read));
  }
  const bad = await runCli(["trace", "--user", "no-such-user-x", "--", "true"]);
  assertEquals(bad.code, 2);
  assertEquals(
    bad.stderr.trim(),
    "ioscope trace: unknown user 'no-such-user-x' (see getent passwd)",
  );
  const noCommand = await runCli(["trace", "--user", "nobody", "--pid", "1"]);
  assertEquals(noCommand.code, 2);
  assert(noCommand.stderr.includes("--user applies to a command"), noCommand.stderr);
});

Deno.test("unknown options get one line naming the nearest known one", async () => {
  const r = await runCli(["trace", "--durration", "1s", "--pid", "1"]);
  assertEquals(r.code, 2);
  assertEquals(
    r.stderr,
    "ioscope trace: unknown option '--durration'; the nearest is '--duration' (see --help)\n",
  );
  const report = await runCli(["report", "--stor", "/tmp"]);
  assertEquals(report.code, 2);
  assertEquals(report.stderr.split("\n").length, 2, report.stderr);
  assert(report.stderr.includes("the nearest is '--store'"), report.stderr);
  // A value that looks like an option is a value.
  const value = await runCli(["trace", "--comm", "--no-such-process-x"]);
  assertEquals(value.code, 2);
  assert(!value.stderr.includes("unknown option"), value.stderr);
  // Options after -- belong to the command.
  const after = await runCli(["trace", "--duration", "1s", "--", "true", "--frobnicate"]);
  assertEquals(after.code, 0, after.stderr);
});
