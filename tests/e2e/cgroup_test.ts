/**
 * `--cgroup DIR` traces every process in a cgroup v2 directory, those that
 * join during the trace too, and nothing outside it; `--pid` takes a host PID
 * of a process in another PID namespace and the Run says so. The test mounts
 * its own cgroup2 (this host kind mounts cgroup v1 controllers), makes a child
 * cgroup, and removes and unmounts both on every end.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { traceRun } from "../_helpers/trace_run.ts";
import { startPython } from "../_helpers/python.ts";

function run(cmd: string, ...args: string[]): void {
  const out = new Deno.Command(cmd, { args, stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A cgroup2 mount of our own with one child cgroup, removed on dispose. */
function cgroup2(): { dir: string } & AsyncDisposable {
  const mnt = Deno.makeTempDirSync({ prefix: "ioscope-cg2-" });
  run("mount", "-t", "cgroup2", "none", mnt);
  const dir = `${mnt}/ioscope-test-${Deno.pid}`;
  Deno.mkdirSync(dir);
  return {
    dir,
    async [Symbol.asyncDispose]() {
      // Move whatever is left back to the root, then remove the child and unmount.
      for (const pid of Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n").filter(Boolean)) {
        try {
          Deno.writeTextFileSync(`${mnt}/cgroup.procs`, pid);
        } catch {
          // exited meanwhile
        }
      }
      for (let i = 0; i < 50; i++) {
        try {
          Deno.removeSync(dir);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      run("umount", mnt);
      Deno.removeSync(mnt);
    },
  };
}

for (const backend of ["bpf", "bpftrace", "ftrace"]) {
  Deno.test(`--cgroup traces members and joiners, not outsiders (${backend})`, async () => {
    await using cg = cgroup2();
    await using dir = tmpDir();
    // Each waits for SIGUSR1, then does K preads of /dev/zero.
    await using member = startPython("many_tasks.py", ["threads", "2", "300", "1"]);
    await using joiner = startPython("many_tasks.py", ["threads", "3", "200", "1"]);
    await using outsider = startPython("many_tasks.py", ["threads", "1", "500", "1"]);
    for (const w of [member, joiner, outsider]) await w.waitFor("ready");
    Deno.writeTextFileSync(`${cg.dir}/cgroup.procs`, String(member.pid));
    const { run: doc } = await traceRun(
      ["--cgroup", cg.dir, "--backend", backend, "--duration", "6s"],
      `${dir.path}/run.json`,
      {
        what: backend,
        during: async (cli) => {
          assert(cli.stderr().includes(`cgroup ${cg.dir}`), cli.stderr());
          // The joiner enters the cgroup after the probes attached.
          Deno.writeTextFileSync(`${cg.dir}/cgroup.procs`, String(joiner.pid));
          await new Promise((r) => setTimeout(r, 600)); // ftrace polls cgroup.procs every 250 ms
          for (const w of [member, joiner, outsider]) Deno.kill(w.pid, "SIGUSR1");
          for (const w of [member, joiner, outsider]) await w.waitFor("done");
        },
      },
    );
    // 300 from the member and 200 from the joiner; the outsider's 500 are not counted.
    assertEquals(doc.syscalls.pread64?.count, 500, JSON.stringify(doc.syscalls.pread64));
    assertEquals(doc.meta.cgroup?.path, cg.dir);
    assertEquals(doc.meta.cgroup?.id, Deno.statSync(cg.dir).ino);
    assertEquals(doc.meta.end_reason, "duration");
  });
}

Deno.test("--pid takes the host PID of a process in another PID namespace", async () => {
  await using dir = tmpDir();
  await using ns = startPython("many_tasks.py", ["threads", "1", "100", "1"], {
    wrap: ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
  });
  await ns.waitFor("ready");
  // unshare forks: python is its child, PID 1 in the new namespace.
  const hostPid = Number(
    Deno.readTextFileSync(`/proc/${ns.pid}/task/${ns.pid}/children`).trim().split(" ")[0],
  );
  assert(hostPid > 1, `python's host PID (${hostPid})`);
  const { run: doc, ...result } = await traceRun(
    ["--pid", String(hostPid), "--duration", "3s"],
    `${dir.path}/run.json`,
    {
      during: async () => {
        Deno.kill(hostPid, "SIGUSR1");
        await ns.waitFor("done");
      },
    },
  );
  assertEquals(doc.syscalls.pread64?.count, 100);
  assertEquals(doc.meta.pid_namespace?.pid_in_namespace, 1);
  assert((doc.meta.pid_namespace?.inode ?? 0) > 0);
  assert(
    result.stdout.includes(`pid ${hostPid} is pid 1 in another PID namespace`),
    result.stdout,
  );
});
