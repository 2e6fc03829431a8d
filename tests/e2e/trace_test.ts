// Integration tests: the real CLI, the real bpftrace, real workloads.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { leftovers, ROOT, spawnCli, startWorkload, tmpDir, waitFor } from "../_helpers/common.ts";
import { traceRun } from "../_helpers/trace_run.ts";

Deno.test("trace counts exact calls and bytes of a known workload and ends when it exits", async () => {
  await using dir = tmpDir();
  await using w = await startWorkload("known_io.ts", [dir.path, "1000", "500", "10"]);
  let exitedAt = 0;
  const { run, ...result } = await traceRun(["--pid", String(w.pid)], `${dir.path}/run.json`, {
    during: async () => {
      await w.go();
      await w.child.status;
      exitedAt = performance.now();
    },
  });
  const stopMs = performance.now() - exitedAt;
  assert(stopMs < 2500, `took ${stopMs} ms to end after the target exited`);
  assertEquals(run.schema, "ioscope.run/2");
  assertEquals(run.meta.target_exited, true);
  assertEquals(run.meta.end_reason, "target-exit");
  const pread = run.syscalls.pread64;
  assert(pread, "pread64 traced");
  assertEquals(pread.count, 1002);
  assertEquals(pread.errors, 2);
  assertEquals(pread.bytes, 1000 * 4096);
  assertEquals(run.syscalls.pwrite64?.count, 500);
  assertEquals(run.syscalls.pwrite64?.bytes, 500_000);
  assertEquals(run.syscalls.sendfile64?.count, 10);
  assertEquals(run.copy.zero_copy_bytes, 10 * 65536);
  assert(
    run.copy.copied_bytes >= 1000 * 4096 + 500_000,
    "copying bytes include preads and pwrites",
  );
  const bucketTotal = pread.buckets.reduce((s, b) => s + b[2], 0);
  assertEquals(bucketTotal, 1000, "buckets hold every successful call");
  assertEquals((pread.error_buckets ?? []).reduce((s, b) => s + b[2], 0), 2, "the EBADFs apart");
  assertEquals(pread.errnos, { EBADF: 2 });
  assert(pread.p50_ns > 0 && pread.p50_ns <= pread.p99_ns && pread.p99_ns <= pread.max_ns);
  assert(result.stdout.includes("pread64"), "terminal summary lists pread64");
});

Deno.test("SIGINT and SIGTERM end the trace, write partial results and leave nothing", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await using dir = tmpDir();
    const target = new Deno.Command("python3", {
      args: [
        "-c",
        "import os,time\nfd=os.open('/etc/hostname',0)\nwhile True: os.pread(fd,64,0); time.sleep(0.001)",
      ],
    }).spawn();
    try {
      const { run } = await traceRun(
        ["--pid", String(target.pid), "--out", `${dir.path}/run.html`],
        `${dir.path}/run.json`,
        {
          what: signal,
          during: async (cli) => {
            await new Promise((r) => setTimeout(r, 1500));
            cli.child.kill(signal);
          },
        },
      );
      assertEquals(run.meta.end_reason, "signal");
      assertEquals(run.meta.target_exited, false);
      assert((run.syscalls.pread64?.count ?? 0) > 100, `${signal}: preads seen`);
      assert(Deno.readTextFileSync(`${dir.path}/run.html`).includes("pread64"));
    } finally {
      target.kill("SIGKILL");
      await target.status;
    }
  }
});

Deno.test("a command after -- is traced from its first syscall and ends when it exits", async () => {
  await using dir = tmpDir();
  const file = `${dir.path}/data.bin`;
  Deno.writeFileSync(file, new Uint8Array(100 * 4096).fill(3));
  const { run } = await traceRun(
    ["--", "dd", `if=${file}`, "of=/dev/null", "bs=4096", "count=100"],
    `${dir.path}/run.json`,
  );
  assertEquals(run.meta.target_exited, true);
  assertEquals(run.meta.comm, "dd");
  // dd's 100 reads of the file and 100 writes to /dev/null, plus the loader's reads.
  assert((run.syscalls.read?.bytes ?? 0) >= 100 * 4096, `read bytes ${run.syscalls.read?.bytes}`);
  assert((run.syscalls.write?.count ?? 0) >= 100, `writes ${run.syscalls.write?.count}`);
  assert((run.syscalls.mmap?.count ?? 0) > 0, "the loader's mmaps are seen: traced from the start");
});

Deno.test("--duration ends a trace of a process that goes on running", async () => {
  await using dir = tmpDir();
  const target = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const t0 = performance.now();
    const { run } = await traceRun(
      ["--pid", String(target.pid), "--duration", "1s"],
      `${dir.path}/r.json`,
    );
    assert(performance.now() - t0 < 10_000);
    assertEquals(run.meta.end_reason, "duration");
    assert(
      run.meta.duration_s >= 0.9 && run.meta.duration_s < 2,
      `duration ${run.meta.duration_s}`,
    );
  } finally {
    target.kill("SIGKILL");
    await target.status;
  }
});

Deno.test("--comm traces every process with that name", async () => {
  await using dir = tmpDir();
  const name = `ioscope-t${Deno.pid % 10000}`;
  const script =
    "import os,time\nfd=os.open('/etc/hostname',0)\nwhile True: os.pread(fd,64,0); time.sleep(0.002)";
  const targets = [0, 1].map(() =>
    new Deno.Command("python3", {
      args: ["-c", `import ctypes\nctypes.CDLL(None).prctl(15, b'${name}')\n${script}`],
    })
      .spawn()
  );
  try {
    await waitFor(
      () => targets.every((t) => Deno.readTextFileSync(`/proc/${t.pid}/comm`).trim() === name),
      5000,
      "renamed targets",
    );
    const { run } = await traceRun(["--comm", name, "--duration", "2s"], `${dir.path}/r.json`);
    assertEquals(run.meta.pids.sort(), targets.map((t) => t.pid).sort());
    assertEquals(run.meta.comm, name);
    // Two processes at ~400 preads/s each for about 2 s.
    assert((run.syscalls.pread64?.count ?? 0) > 800, `preads ${run.syscalls.pread64?.count}`);
  } finally {
    for (const t of targets) {
      t.kill("SIGKILL");
      await t.status;
    }
  }
});

Deno.test("threads created during the trace are traced", async () => {
  await using dir = tmpDir();
  const script = [
    "import os,sys,threading,time",
    "fd=os.open('/etc/hostname',0)",
    "print('ready', flush=True); sys.stdin.readline()",
    "def work():",
    "  for _ in range(3000): os.pread(fd,64,0)",
    "ts=[threading.Thread(target=work) for _ in range(4)]",
    "[t.start() for t in ts]; [t.join() for t in ts]",
  ].join("\n");
  const target = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const reader = target.stdout.getReader();
  await reader.read();
  const { run } = await traceRun(["--pid", String(target.pid)], `${dir.path}/r.json`, {
    during: async () => {
      const writer = target.stdin.getWriter();
      await writer.write(new TextEncoder().encode("go\n"));
      await writer.close();
      await target.status;
      reader.releaseLock();
      await target.stdout.cancel();
    },
  });
  assertEquals(run.syscalls.pread64?.count, 12_000);
});

Deno.test("an agent killed with SIGKILL leaves no bpftrace behind and the next run works", async () => {
  const target = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const cli = spawnCli(["trace", "--pid", String(target.pid)]);
    await cli.waitForStderr("Tracing pid");
    cli.child.kill("SIGKILL");
    await cli.done;
    await waitFor(
      () => leftovers(cli.child.pid).length === 0,
      5000,
      "bpftrace to end after its agent died",
    );
    await using dir = tmpDir();
    const { run } = await traceRun(
      ["--pid", String(target.pid), "--duration", "500ms"],
      `${dir.path}/r.json`,
    );
    assertEquals(run.schema, "ioscope.run/2");
  } finally {
    target.kill("SIGKILL");
    await target.status;
  }
});

Deno.test("every probe program compiles (bpftrace --emit-elf, a dry run)", async () => {
  await using dir = tmpDir();
  for (const entry of Deno.readDirSync(`${ROOT}probes`)) {
    if (!entry.name.endsWith(".bt")) continue;
    // io_uring.bt runs appended to io_syscalls.bt (one BEGIN, one END, the window).
    let file = `${ROOT}probes/${entry.name}`;
    if (entry.name === "io_uring.bt") {
      file = `${dir.path}/with_syscalls.bt`;
      Deno.writeTextFileSync(
        file,
        Deno.readTextFileSync(`${ROOT}probes/io_syscalls.bt`) + "\n" +
          Deno.readTextFileSync(`${ROOT}probes/io_uring.bt`),
      );
    }
    const out = await new Deno.Command("bpftrace", {
      args: ["--emit-elf", `${dir.path}/${entry.name}.elf`, file, "1"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr).split("\n").filter((l) =>
      l && !l.includes("RLIMIT_MEMLOCK")
    );
    assert(out.success, `${entry.name}: ${err.join(" ")}`);
    assert(
      Deno.statSync(`${dir.path}/${entry.name}.elf`).size > 0,
      `${entry.name}: no ELF written`,
    );
  }
});

Deno.test("on a host without tracefs mounted, trace mounts it and unmounts it after", async () => {
  const mounted = () => {
    try {
      Deno.statSync("/sys/kernel/tracing/events");
      return true;
    } catch {
      return false;
    }
  };
  const umount = await new Deno.Command("umount", {
    args: ["/sys/kernel/tracing"],
    stderr: "piped",
  }).output();
  assert(
    umount.success,
    `could not unmount tracefs for the test: ${new TextDecoder().decode(umount.stderr)}`,
  );
  const target = new Deno.Command("sleep", { args: ["10"] }).spawn();
  try {
    assert(!mounted(), "tracefs unmounted before the trace");
    await using dir = tmpDir();
    await traceRun(["--pid", String(target.pid), "--duration", "500ms"], `${dir.path}/r.json`);
    assert(!mounted(), "tracefs is unmounted again, as it was found");
  } finally {
    target.kill("SIGKILL");
    await target.status;
    if (!mounted()) {
      await new Deno.Command("mount", { args: ["-t", "tracefs", "nodev", "/sys/kernel/tracing"] })
        .output();
    }
  }
});

Deno.test("trace -- COMMAND follows the processes it forks, with both backends", async () => {
  for (const backend of ["bpftrace", "ftrace"]) {
    await using dir = tmpDir();
    // sh forks two pythons; python makes no pwrite64 calls of its own.
    const py = (n: number) =>
      `python3 -c "import os; fd = os.open('${dir.path}/f', os.O_WRONLY | os.O_CREAT); ` +
      `[os.pwrite(fd, b'x' * 100, 0) for _ in range(${n})]"`;
    const { run } = await traceRun(
      ["--backend", backend, "--", "sh", "-c", `${py(300)}; ${py(200)}; true`],
      `${dir.path}/run.json`,
      { what: backend },
    );
    assertEquals(run.syscalls.pwrite64?.count, 500, `${backend}: both children's pwrite64 calls`);
    assertEquals(run.syscalls.pwrite64?.bytes, 50_000, backend);
    assertEquals(run.meta.lost_events, 0, backend);
  }
});
