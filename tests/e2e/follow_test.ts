// Following processes created during the trace: `--comm NAME` takes in the
// processes of that name forked or exec'd after it started, `--pid --follow`
// the target's children; and a process that exits leaves the traced set, so a
// later process that is given its PID is not counted as the target's.
// Each on every backend, with a real forking process (perl) and its reads.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { startTrace } from "../_helpers/trace_run.ts";
import { TRACE_BACKENDS } from "../_helpers/backends.ts";
import {
  FORKER_PL,
  FORKER_READ_BYTES,
  readAsPid,
  shmFile,
  startLineProcess,
} from "../_helpers/forker.ts";
import type { RunDocument } from "../../schema/mod.ts";

/** read(2) calls and bytes in a Run. */
function reads(run: RunDocument): { count: number; bytes: number } {
  const r = run.syscalls.read;
  return { count: r?.count ?? 0, bytes: r?.bytes ?? 0 };
}

for (const backend of TRACE_BACKENDS) {
  Deno.test(`${backend}: --comm follows processes of that name forked and exec'd during the trace`, async () => {
    await using dir = tmpDir();
    using file = shmFile();
    // A name no other process on the host has: the exec'd file's name.
    const name = `iosf${crypto.randomUUID().slice(0, 8)}`;
    const perl = `${dir.path}/${name}`;
    Deno.copyFileSync("/usr/bin/perl", perl);
    Deno.chmodSync(perl, 0o755);
    await using parent = await startLineProcess(perl, [FORKER_PL, file.path, "3", "100"]);
    const json = `${dir.path}/run.json`;
    const trace = await startTrace(["--comm", name, "--backend", backend], json, { what: backend });
    // Forked: three children of the named process, 100 reads each.
    await parent.send("go");
    assert((await parent.nextLine()).startsWith("done"), "the forker's children ran");
    // Exec'd: a shell (another name) that becomes the named program, and forks two more.
    await using late = await startLineProcess("sh", [
      "-c",
      `exec "$0" "$@"`,
      perl,
      FORKER_PL,
      file.path,
      "2",
      "100",
    ]);
    // The ftrace backend adds an exec'd process to the kernel's PID list when it
    // reads the exec record (within 10 ms): what it forks before is missed.
    await new Promise((r) => setTimeout(r, 500));
    await late.send("go");
    assert((await late.nextLine()).startsWith("done"), "the exec'd forker's children ran");
    const run = (await trace.end("SIGINT")).run;
    const r = reads(run);
    // 500 reads by the five children; besides them only the parents' reads of
    // their stdin and the exec'd perl's start (its modules: 34 reads here).
    assert(
      r.count >= 500 && r.count <= 500 + 80,
      `${backend}: ${r.count} read calls; the children made 500`,
    );
    assert(r.bytes >= 500 * FORKER_READ_BYTES, `${backend}: ${r.bytes} bytes read`);
  });

  Deno.test(`${backend}: --comm traces a process that execs the name from its first milliseconds`, async () => {
    await using dir = tmpDir();
    using file = shmFile();
    const name = `iose${crypto.randomUUID().slice(0, 8)}`;
    const perl = `${dir.path}/${name}`;
    Deno.copyFileSync("/usr/bin/perl", perl);
    Deno.chmodSync(perl, 0o755);
    // --comm wants a process of that name at the start.
    await using _anchor = await startLineProcess(perl, [
      "-e",
      "$| = 1; print qq(ready\n); sleep 600",
    ]);
    const json = `${dir.path}/run.json`;
    const trace = await startTrace(["--comm", name, "--backend", backend], json, { what: backend });
    // Exec'd by name, it reads at once: 300 reads, one a millisecond.
    const reader = new Deno.Command(perl, {
      args: [
        "-e",
        "open(my $f, '<', $ARGV[0]) or die; my $b; " +
        "for (1 .. 300) { sysread($f, $b, 64); select(undef, undef, undef, 0.001) }",
        file.path,
      ],
    }).spawn();
    assertEquals((await reader.status).code, 0);
    const run = (await trace.end("SIGINT")).run;
    const r = reads(run);
    // bpf and bpftrace add it in the kernel at exec: all 300, and the dynamic
    // loader's few reads (307 in all here). ftrace adds it when it reads the
    // exec record: read with the 100 ms pass it counted 224 and 229; its exec
    // instance is now read every 10 ms: 303-307.
    assert(
      r.count >= 270 && r.count <= 300 + 20,
      `${backend}: ${r.count} read calls; the exec'd process made 300 from its start`,
    );
  });

  Deno.test(`${backend}: --comm: a process that execs another program leaves the trace`, async () => {
    await using dir = tmpDir();
    using file = shmFile();
    const name = `iosx${crypto.randomUUID().slice(0, 8)}`;
    const sh = `${dir.path}/${name}`;
    Deno.copyFileSync("/bin/dash", sh);
    Deno.chmodSync(sh, 0o755);
    // A shell by that name: traced from the start. On "go" it reads 50 times
    // (dash's read builtin: one read(2) a byte... so a line of 49 bytes and its
    // newline), then execs perl (another name), which reads 300 times.
    const line = "x".repeat(49);
    Deno.writeTextFileSync(`${dir.path}/line`, line + "\n");
    const script = `echo ready; read go; read -r l < "$1"; ` +
      `exec perl -e 'open(my $f, "<", $ARGV[0]) or die; my $b; sysread($f, $b, 64) for 1 .. 300' "$2"`;
    await using shell = await startLineProcess(sh, [
      "-c",
      script,
      sh,
      `${dir.path}/line`,
      file.path,
    ]);
    const json = `${dir.path}/run.json`;
    const trace = await startTrace(["--comm", name, "--backend", backend], json, { what: backend });
    await shell.send("go");
    assertEquals((await shell.child.status).code, 0);
    const run = (await trace.end("SIGINT")).run;
    const r = reads(run);
    // The shell's reads of "go" and of the line (a read(2) per byte: 50 and
    // 3), not perl's 300 nor the loader's reads of perl's libraries.
    assert(
      r.count >= 50 && r.count < 100,
      `${backend}: ${r.count} read calls; the named shell made about 53, perl after its exec 300`,
    );
  });

  Deno.test(`${backend}: --comm follows a process renamed to that name during the trace`, async () => {
    await using dir = tmpDir();
    using file = shmFile();
    const name = `iosr${crypto.randomUUID().slice(0, 8)}`;
    // --comm wants a process of that name at the start: a sleep by that name.
    const sleep = `${dir.path}/${name}`;
    Deno.copyFileSync("/usr/bin/sleep", sleep);
    Deno.chmodSync(sleep, 0o755);
    await using _anchor = await startLineProcess("sh", ["-c", `echo ready; exec "$0" 600`, sleep]);
    // Named "perl" when the trace starts: not the target yet. On "go" it
    // renames itself (FORKER_RENAME), waits 0.5 s (the ftrace backend adds the
    // renamed process within 10 ms), then forks three children that
    // keep the name and read 100 times each.
    Deno.env.set("FORKER_RENAME", name);
    let started;
    try {
      started = startLineProcess("perl", [FORKER_PL, file.path, "3", "100"]);
    } finally {
      Deno.env.delete("FORKER_RENAME");
    }
    await using forker = await started;
    const json = `${dir.path}/run.json`;
    const trace = await startTrace(["--comm", name, "--backend", backend], json, { what: backend });
    await forker.send("go");
    assert((await forker.nextLine()).startsWith("done"), "the renamed forker's children ran");
    const run = (await trace.end("SIGINT")).run;
    const r = reads(run);
    // Before: 0 reads on bpftrace and ftrace (a rename was not followed).
    // The children's 300, and the parent's reads of its stdin line.
    assert(
      r.count >= 300 && r.count <= 300 + 10,
      `${backend}: ${r.count} read calls; the renamed process's children made 300`,
    );
  });

  Deno.test(`${backend}: --pid --follow counts the children, and not a later process given an exited child's PID`, async () => {
    await using dir = tmpDir();
    using file = shmFile();
    await using parent = await startLineProcess("perl", [FORKER_PL, file.path, "4", "25"]);
    const json = `${dir.path}/run.json`;
    const trace = await startTrace(
      ["--pid", String(parent.pid), "--follow", "--backend", backend],
      json,
      {
        what: backend,
      },
    );
    await parent.send("go");
    const done = await parent.nextLine();
    const children = done.split(" ").slice(1).map(Number);
    assertEquals(children.length, 4, done);
    // The children have exited and been reaped: their PIDs are free. A process
    // that is not the target's, given one of them, makes 300 reads.
    const reused = await readAsPid(children.reverse(), file.path, 300);
    const run = (await trace.end("SIGINT")).run;
    const r = reads(run);
    assert(
      r.count >= 100 && r.count <= 100 + 10,
      `${backend}: ${r.count} read calls; the children made 100, the process given PID ${reused} 300`,
    );
    assertEquals(r.bytes - (r.bytes % FORKER_READ_BYTES), 100 * FORKER_READ_BYTES, backend);
  });
}
