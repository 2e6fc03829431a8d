// The run store: one file per run, written atomically, never overwritten;
// loading skips and reports every file that is not a usable Run document.
// Fixture: tests/testdata/run_fio_psync.json, a real `trace --pid` of fio
// (psync 4 KiB random reads of a page-cached 32 MiB file, bpftrace backend).
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { tmpDir } from "../../_helpers/common.ts";
import {
  loadRuns,
  runDocumentProblem,
  runFileName,
  saveRun,
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
  assert(why["bench.json"]?.includes('schema "ioscope.bench/1"'), why["bench.json"]);
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
