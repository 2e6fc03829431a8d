/**
 * Outputs written as root: each one (`--json`, `--out`, `--store`) is tried
 * on its own; one that fails (a full disk, a read-only one) costs only
 * itself, with exit status 1 and one line naming it and why. A symlink
 * planted at an output's path is replaced, never written through.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { IOSCOPE_CMD, killOnDispose, runCli, spawnCli, tmpDir } from "../_helpers/common.ts";

function sh(cmd: string, ...args: string[]): void {
  const out = new Deno.Command(cmd, { args, stderr: "piped" }).outputSync();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A 64 KiB tmpfs, filled to the last block, unmounted on dispose. */
function fullTmpfs(parent: string): { path: string } & AsyncDisposable {
  const path = `${parent}/full`;
  Deno.mkdirSync(path);
  sh("mount", "-t", "tmpfs", "-o", "size=64k", "none", path);
  try {
    Deno.writeFileSync(`${path}/filler`, new Uint8Array(1 << 20));
  } catch {
    // ENOSPC: now it is full
  }
  return {
    path,
    [Symbol.asyncDispose]() {
      sh("umount", path);
      return Promise.resolve();
    },
  };
}

function sleeper(): Deno.ChildProcess & AsyncDisposable {
  return killOnDispose(new Deno.Command("sleep", { args: ["30"] }).spawn());
}

Deno.test("a full disk costs only the output on it: exit 1, one line, the others written", async () => {
  await using dir = tmpDir();
  await using full = fullTmpfs(dir.path);
  await using target = sleeper();
  const r = await runCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "1s",
    "--json",
    `${full.path}/run.json`,
    "--out",
    `${dir.path}/report.html`,
    "--store",
    `${dir.path}/store`,
  ]);
  assertEquals(r.code, 1, r.stderr);
  const failures = r.stderr.split("\n").filter((l) => l.includes("could not write"));
  assertEquals(failures, [
    `ioscope trace: could not write --json ${full.path}/run.json: no space left on device (ENOSPC)`,
  ]);
  assert(Deno.statSync(`${dir.path}/report.html`).size > 10_000, "the report was written");
  assertEquals([...Deno.readDirSync(`${dir.path}/store`)].length, 1, "the run was stored");
  assertEquals(
    [...Deno.readDirSync(full.path)].map((e) => e.name),
    ["filler"],
    "no temporary file left on the full disk",
  );
  assert(r.stdout.includes("pid "), "the summary was printed");
});

Deno.test("a directory root may not write to (EACCES): refused at the start, or costs only its output", async () => {
  // Root writes anywhere with CAP_DAC_OVERRIDE; without it (dropped from the
  // bounding set, so the agent never has it) a directory of mode 0555 refuses
  // root as it refuses anyone: EACCES, as on an NFS export that squashes root.
  await using dir = tmpDir();
  const locked = `${dir.path}/locked`;
  Deno.mkdirSync(locked);
  await using target = sleeper();
  const agent = (duration: string) =>
    new Deno.Command("setpriv", {
      args: [
        "--bounding-set=-dac_override,-dac_read_search",
        "--",
        ...IOSCOPE_CMD,
        "trace",
        "--pid",
        String(target.pid),
        "--duration",
        duration,
        "--json",
        `${locked}/run.json`,
        "--out",
        `${dir.path}/report.html`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const text = new TextDecoder();

  // Not writable when the trace starts: one line, exit 2, nothing traced.
  Deno.chmodSync(locked, 0o555);
  const early = await agent("1s").output();
  assertEquals(early.code, 2);
  assertEquals(
    text.decode(early.stderr).trim(),
    `ioscope trace: cannot write --json ${locked}/run.json: its directory is not writable`,
  );

  // Made so during the trace: the write fails with EACCES, the report is written.
  Deno.chmodSync(locked, 0o755);
  const late = agent("2s");
  let stderr = "";
  const reading = (async () => {
    for await (const chunk of late.stderr) stderr += text.decode(chunk, { stream: true });
  })();
  const stdout = late.stdout.pipeTo(new WritableStream());
  const deadline = Date.now() + 30_000;
  while (!stderr.includes("Tracing ") && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  Deno.chmodSync(locked, 0o555);
  const status = await late.status;
  await Promise.all([reading, stdout]);
  assertEquals(status.code, 1, stderr);
  const failures = stderr.split("\n").filter((l) => l.includes("could not write"));
  assertEquals(failures, [
    `ioscope trace: could not write --json ${locked}/run.json: permission denied (EACCES)`,
  ]);
  assert(Deno.statSync(`${dir.path}/report.html`).size > 10_000, "the report was written");
  assertEquals([...Deno.readDirSync(locked)], [], "nothing left in the locked directory");
});

Deno.test("several outputs failing: one line each, in the order given", async () => {
  await using dir = tmpDir();
  await using full = fullTmpfs(dir.path);
  await using target = sleeper();
  const cli = spawnCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "2s",
    "--json",
    `${dir.path}/run.json`,
    "--out",
    `${full.path}/report.html`,
    "--store",
    `${full.path}/store`,
  ]);
  // Read-only once the arguments were checked and the probes attached.
  await cli.waitForStderr("Tracing ");
  sh("mount", "-o", "remount,ro", full.path);
  const r = await cli.done;
  assertEquals(r.code, 1, r.stderr);
  const failures = r.stderr.split("\n").filter((l) => l.includes("could not write"));
  assertEquals(failures.length, 2, r.stderr);
  assert(failures[0]?.includes(`--out ${full.path}/report.html: read-only file system (EROFS)`));
  assert(failures[1]?.includes(`--store ${full.path}/store: read-only file system (EROFS)`));
  assert(JSON.parse(Deno.readTextFileSync(`${dir.path}/run.json`)).schema === "ioscope.run/2");
});

Deno.test("a symlink planted at an output's path is replaced, its target untouched", async () => {
  await using dir = tmpDir();
  await using target = sleeper();
  const victim = `${dir.path}/passwd`;
  Deno.writeTextFileSync(victim, "root:x:0:0\n");
  Deno.symlinkSync(victim, `${dir.path}/run.json`);
  Deno.symlinkSync(victim, `${dir.path}/report.html`);
  const r = await runCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "1s",
    "--json",
    `${dir.path}/run.json`,
    "--out",
    `${dir.path}/report.html`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(Deno.readTextFileSync(victim), "root:x:0:0\n");
  assert(Deno.lstatSync(`${dir.path}/run.json`).isFile);
  assert(Deno.lstatSync(`${dir.path}/report.html`).isFile);
  assertEquals(
    [...Deno.readDirSync(dir.path)].filter((e) => e.name.startsWith(".ioscope-")),
    [],
    "no temporary or probe file left",
  );
});

Deno.test("report: a failing --json does not cost the trend page", async () => {
  await using dir = tmpDir();
  await using full = fullTmpfs(dir.path);
  await using target = sleeper();
  const traced = await runCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "1s",
    "--store",
    `${dir.path}/store`,
  ]);
  assertEquals(traced.code, 0, traced.stderr);
  const r = await runCli([
    "report",
    "--store",
    `${dir.path}/store`,
    "--out",
    `${dir.path}/site/index.html`,
    "--json",
    `${full.path}/summary.json`,
  ]);
  assertEquals(r.code, 1, r.stderr);
  assertEquals(r.stderr.split("\n").filter((l) => l.includes("could not write")), [
    `ioscope report: could not write --json ${full.path}/summary.json: no space left on device (ENOSPC)`,
  ]);
  assert(Deno.statSync(`${dir.path}/site/index.html`).size > 10_000);
  assertEquals([...Deno.readDirSync(`${dir.path}/site/runs`)].length, 1);
});

Deno.test("the summary on a full disk (stdout redirected there) costs only itself", async () => {
  await using dir = tmpDir();
  await using full = fullTmpfs(dir.path);
  await using target = sleeper();
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      'out="$1"; shift; exec "$@" > "$out"',
      "sh",
      `${full.path}/summary.txt`,
      ...IOSCOPE_CMD,
      "trace",
      "--pid",
      String(target.pid),
      "--duration",
      "1s",
      "--json",
      `${dir.path}/run.json`,
    ],
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, stderr);
  assertEquals(stderr.split("\n").filter((l) => l.includes("could not write")), [
    "ioscope trace: could not write the summary (stdout): no space left on device (ENOSPC)",
  ]);
  assert(JSON.parse(Deno.readTextFileSync(`${dir.path}/run.json`)).schema === "ioscope.run/2");
});
