// The run store: one file per run, written atomically, never overwritten;
// loading skips and reports every file that is not a usable Run document.
// Fixture: tests/testdata/run_fio_psync.json, a real `trace --pid` of fio
// (psync 4 KiB random reads of a page-cached 32 MiB file, bpftrace backend).
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { runCli, tmpDir } from "../../_helpers/common.ts";
import {
  loadRuns,
  MAX_RUN_BYTES,
  pruneRuns,
  readStoreFile,
  runDocumentProblem,
  runFileName,
  saveRun,
  UnsafeStoreError,
} from "../../../agent/nightly/store.ts";
import { type RunDocument, targetId } from "../../../schema/mod.ts";
import { readRun } from "../../_helpers/documents.ts";

const FIXTURE = new URL("../../testdata/run_fio_psync.json", import.meta.url);

function fixture(startedAt: string, comm = "fio"): RunDocument {
  const run = readRun(FIXTURE);
  run.meta.started_at = startedAt;
  run.meta.comm = comm;
  return run;
}

Deno.test("saveRun names the file by target and time and leaves no temporary file", async () => {
  await using dir = tmpDir();
  const store = `${dir.path}/store/nested`;
  const run = fixture("2026-11-20T03:00:07.250Z");
  const path = await saveRun(store, run);
  const id = targetId(run.meta);
  assertEquals(path, `${store}/fio-${id}-20261120T030007Z.json`);
  assertEquals([...Deno.readDirSync(store)].map((e) => e.name), [
    `fio-${id}-20261120T030007Z.json`,
  ]);
  assertEquals(JSON.parse(Deno.readTextFileSync(path)), run);
});

Deno.test("saveRun never overwrites: a second run in the same second gets its own file", async () => {
  await using dir = tmpDir();
  const a = fixture("2026-11-20T03:00:07.100Z");
  const b = fixture("2026-11-20T03:00:07.900Z");
  b.meta.pid = 4242;
  const pa = await saveRun(dir.path, a);
  const pb = await saveRun(dir.path, b);
  assert(pa !== pb, "two files");
  assert(pb.endsWith("-2.json"), pb);
  assertEquals(JSON.parse(Deno.readTextFileSync(pa)).meta.pid, a.meta.pid);
  assertEquals(JSON.parse(Deno.readTextFileSync(pb)).meta.pid, 4242);
});

Deno.test("runFileName keeps a hostile process name out of the path", () => {
  const run = fixture("2026-11-20T03:00:00Z", "../../etc/x\n<b>");
  const name = runFileName(run);
  assert(/^[A-Za-z0-9_.-]+$/.test(name) && !name.includes(".."), name);
  assert(!name.startsWith("."), name);
});

Deno.test("targetId differs by command line, not by pid or time", () => {
  const a = fixture("2026-11-20T03:00:00Z");
  const b = fixture("2026-11-21T03:00:00Z");
  b.meta.pid = 1;
  assertEquals(targetId(a.meta), targetId(b.meta));
  assert(targetId(a.meta) !== targetId({ comm: "fio", cmdline: "fio other.fio" }));
});

Deno.test("loadRuns reports and skips corrupt, foreign and unfinished files, oldest run first", async () => {
  await using dir = tmpDir();
  const later = await saveRun(dir.path, fixture("2026-11-21T03:00:00Z"));
  const earlier = await saveRun(dir.path, fixture("2026-11-20T03:00:00Z"));
  const whole = Deno.readTextFileSync(later);
  Deno.writeTextFileSync(`${dir.path}/truncated.json`, whole.slice(0, whole.length / 2));
  Deno.writeTextFileSync(`${dir.path}/bench.json`, JSON.stringify({ schema: "ioscope.bench/1" }));
  Deno.writeTextFileSync(`${dir.path}/future.json`, JSON.stringify({ schema: "ioscope.run/9" }));
  Deno.writeTextFileSync(`${dir.path}/array.json`, "[1,2]");
  Deno.writeTextFileSync(`${dir.path}/notes.txt`, "hello");
  Deno.writeTextFileSync(`${dir.path}/.ioscope-fio-x.json.tmp-123`, "{");
  const noTime = fixture("2026-11-20T03:00:00Z") as unknown as { meta: { started_at: string } };
  noTime.meta.started_at = "yesterday";
  Deno.writeTextFileSync(`${dir.path}/no-time.json`, JSON.stringify(noTime));
  Deno.mkdirSync(`${dir.path}/report`);
  Deno.writeTextFileSync(`${dir.path}/report/index.html`, "<!doctype html>");

  const { runs, problems } = await loadRuns(dir.path);
  assertEquals(runs.map((r) => r.path), [earlier, later]);
  const why = Object.fromEntries(problems.map((p) => [p.file, p.reason]));
  assertEquals(Object.keys(why).sort(), [
    ".ioscope-fio-x.json.tmp-123",
    "array.json",
    "bench.json",
    "future.json",
    "no-time.json",
    "notes.txt",
    "truncated.json",
  ]);
  assert(why["truncated.json"]?.startsWith("corrupt: not valid JSON"), why["truncated.json"]);
  assertEquals(why["bench.json"], "not a Run document (another schema)");
  assert(why["future.json"]?.includes("unsupported version"), why["future.json"]);
  assert(why["no-time.json"]?.includes("started_at"), why["no-time.json"]);
  assert(why[".ioscope-fio-x.json.tmp-123"]?.includes("unfinished write"));
});

Deno.test("loadRuns of a missing directory throws NotFound", async () => {
  await using dir = tmpDir();
  let caught: unknown = null;
  try {
    await loadRuns(`${dir.path}/nope`);
  } catch (e: unknown) {
    caught = e;
  }
  assert(caught instanceof Deno.errors.NotFound, String(caught));
});

Deno.test("runDocumentProblem accepts the real fixture", () => {
  assertEquals(runDocumentProblem(JSON.parse(Deno.readTextFileSync(FIXTURE))), null);
});

/** The text of a secret outside the store, as /etc/shadow holds it. */
const SECRET = "root:*:20000:0:99999:7:::SECRET-OUTSIDE-THE-STORE";

Deno.test("report skips a store entry that links to a secret, a FIFO or a huge file, and quotes none of it", async () => {
  await using dir = tmpDir();
  const store = `${dir.path}/store`;
  await saveRun(store, fixture("2026-11-20T03:00:00Z"));
  Deno.writeTextFileSync(`${dir.path}/shadow`, SECRET + "\n", { mode: 0o600 });
  Deno.symlinkSync(`${dir.path}/shadow`, `${store}/zz.json`);
  Deno.writeTextFileSync(`${store}/text.json`, "root:*:SECRET-IN-A-STORE-FILE\n");
  const mkfifo = await new Deno.Command("mkfifo", { args: [`${store}/fifo.json`] }).output();
  assert(mkfifo.success, "mkfifo");
  // A sparse file one byte over the cap: refused by its size, never read.
  const big = Deno.openSync(`${store}/big.json`, { write: true, create: true });
  big.truncateSync(MAX_RUN_BYTES + 1);
  big.close();
  const out = `${dir.path}/out`;
  const r = await runCli([
    "report",
    "--store",
    store,
    "--out",
    `${out}/index.html`,
    "--json",
    `${out}/summary.json`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const files = [`${out}/index.html`, `${out}/summary.json`];
  for (const e of Deno.readDirSync(`${out}/runs`)) files.push(`${out}/runs/${e.name}`);
  assertEquals(files.length, 3, files.join(" "));
  for (const f of files) {
    const text = Deno.readTextFileSync(f);
    assert(!text.includes("SECRET") && !text.includes("root:*"), `${f} quotes a file's contents`);
    // Reports hold command lines and descriptor targets: owner-only.
    assertEquals((Deno.statSync(f).mode ?? 0) & 0o777, 0o600, `${f} mode`);
  }
  assert(!r.stderr.includes("SECRET") && !r.stderr.includes("root:*"), r.stderr);
  const summary = JSON.parse(Deno.readTextFileSync(`${out}/summary.json`));
  const why = Object.fromEntries(
    summary.problems.map((p: { file: string; reason: string }) => [p.file, p.reason]),
  );
  assertEquals(why, {
    "big.json": `too large (${MAX_RUN_BYTES + 1} bytes; at most ${MAX_RUN_BYTES})`,
    "fifo.json": "not a regular file",
    "text.json": "corrupt: not valid JSON",
    "zz.json": "a symlink (not followed)",
  });
  assertEquals(summary.runs, 1);
});

Deno.test("readStoreFile does not follow a link to /proc/kcore, nor read /proc/kcore itself", async () => {
  await using dir = tmpDir();
  Deno.symlinkSync("/proc/kcore", `${dir.path}/k.json`);
  assertEquals(readStoreFile(`${dir.path}/k.json`), "a symlink (not followed)");
  let kcore = false;
  try {
    kcore = Deno.statSync("/proc/kcore").isFile && Deno.uid() === 0;
  } catch {
    // no /proc/kcore on this kernel (CONFIG_PROC_KCORE off)
  }
  if (kcore) {
    // /proc/kcore is a "regular file" as large as the address space.
    const r = readStoreFile("/proc/kcore");
    assert(typeof r === "string" && r.startsWith("too large"), String(r));
  } else {
    console.error("NOT TESTED HERE: /proc/kcore itself (absent, or not root); the link case ran");
  }
  const path = await saveRun(dir.path, fixture("2026-11-20T03:00:00Z"));
  const bytes = readStoreFile(path);
  assert(bytes instanceof Uint8Array, String(bytes));
  assertEquals(new TextDecoder().decode(bytes), Deno.readTextFileSync(path));
});

Deno.test("saveRun makes the store 0700 and its runs 0600, and tightens an old 0755 store", async () => {
  await using dir = tmpDir();
  const store = `${dir.path}/new`;
  const path = await saveRun(store, fixture("2026-11-20T03:00:00Z"));
  assertEquals((Deno.statSync(store).mode ?? 0) & 0o777, 0o700);
  assertEquals((Deno.statSync(path).mode ?? 0) & 0o777, 0o600);
  const old = `${dir.path}/old`;
  Deno.mkdirSync(old);
  Deno.chmodSync(old, 0o755);
  await saveRun(old, fixture("2026-11-20T03:00:00Z"));
  assertEquals((Deno.statSync(old).mode ?? 0) & 0o777, 0o700);
});

Deno.test("a store others can write to is refused: loadRuns, saveRun and report (exit 2, one line)", async () => {
  await using dir = tmpDir();
  const store = `${dir.path}/open`;
  await saveRun(store, fixture("2026-11-20T03:00:00Z"));
  Deno.chmodSync(store, 0o777);
  for (const f of [() => loadRuns(store), () => saveRun(store, fixture("2026-11-21T03:00:00Z"))]) {
    let caught: unknown = null;
    try {
      await f();
    } catch (e: unknown) {
      caught = e;
    }
    assert(caught instanceof UnsafeStoreError, String(caught));
    assert(caught.message.includes("chmod 0700"), caught.message);
  }
  const r = await runCli(["report", "--store", store, "--out", `${dir.path}/i.html`]);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert(r.stderr.includes("can be written by other users"), r.stderr);
  // The mode was left as it is: refusing changes nothing.
  assertEquals((Deno.statSync(store).mode ?? 0) & 0o777, 0o777);
});

Deno.test("pruneRuns keeps the newest N runs of the target and touches nothing else", async () => {
  await using dir = tmpDir();
  const days = ["20", "21", "22", "23", "24"];
  const mine = [];
  for (const d of days) mine.push(await saveRun(dir.path, fixture(`2026-11-${d}T03:00:00Z`)));
  // Two runs in the same second: "-2" is the later.
  mine.push(await saveRun(dir.path, fixture("2026-11-24T03:00:00.500Z")));
  const other = fixture("2026-11-19T03:00:00Z");
  other.meta.cmdline = "fio other.fio";
  const theirs = await saveRun(dir.path, other);
  Deno.writeTextFileSync(`${dir.path}/notes.txt`, "mine");
  const latest = fixture("2026-11-24T03:00:00Z");
  const removed = await pruneRuns(dir.path, latest, 3);
  assertEquals(removed, mine.slice(0, 3).map((p) => p.slice(dir.path.length + 1)));
  const left = [...Deno.readDirSync(dir.path)].map((e) => e.name).sort();
  assertEquals(
    left,
    [
      ...mine.slice(3).map((p) => p.slice(dir.path.length + 1)),
      theirs.slice(dir.path.length + 1),
      "notes.txt",
    ].sort(),
  );
  assertEquals(await pruneRuns(dir.path, latest, 3), []);
});
