// The trend page in Debian's headless Chromium: charts drawn, no errors, no
// CSP violations, no requests; hostile process names and command lines from
// the store shown as text, never run. Also `ioscope report`'s bad input.
// Fixture: tests/testdata/run_fio_psync.json (see tests/agent/nightly/store_test.ts).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, tmpDir } from "../_helpers/common.ts";
import { canvases, launchBrowser } from "../_helpers/browser.ts";
import { saveRun } from "../../agent/nightly/store.ts";
import type { RunDocument } from "../../schema/mod.ts";
import { readRun } from "../_helpers/documents.ts";

const FIXTURE = new URL("../testdata/run_fio_psync.json", import.meta.url);
const HOSTILE_COMM = `<img id=pwn src=x onerror="alert(1)">`;
const HOSTILE_CMD = `sh -c '</script><script>alert(2)</script><!--'`;

async function store(dir: string, days: number, patch: (r: RunDocument, day: number) => void) {
  for (let day = 0; day < days; day++) {
    const r = readRun(FIXTURE);
    r.meta.started_at = new Date(Date.UTC(2026, 10, 1 + day, 3)).toISOString();
    patch(r, day);
    await saveRun(dir, r);
  }
}

Deno.test("the trend page draws its charts under its CSP and shows hostile names as text", async () => {
  await using dir = tmpDir();
  const s = `${dir.path}/store`;
  await store(s, 5, (r, day) => {
    if (day === 4) r.syscalls.pread64!.p99_ns *= 6;
  });
  await store(s, 3, (r) => {
    r.meta.comm = HOSTILE_COMM;
    r.meta.cmdline = HOSTILE_CMD;
  });
  Deno.writeTextFileSync(`${s}/<b>bad<i>.json`, "{");
  const out = `${dir.path}/site/index.html`;
  const r = await runCli(["report", "--store", s, "--out", out]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stderr.includes("skipped <b>bad<i>.json: corrupt"), r.stderr);
  assert(r.stdout.includes("pread64 P99"), r.stdout);

  await using browser = await launchBrowser();
  const { page, log } = await browser.open(out);
  assertEquals(log.pageErrors, []);
  assertEquals(log.consoleErrors, []);
  assertEquals(log.cspViolations, []);
  assertEquals(log.requests, []);
  assertEquals(log.dialogs, []);
  const drawn = await canvases(page);
  assert(drawn.length >= 8, `${drawn.length} charts`);
  for (const c of drawn) assert(c.painted > 1000 && c.colors > 3, `${c.id} drawn: ${c.painted}`);
  // Page-side code as strings: the test is type-checked without the DOM library.
  assertEquals(await page.evaluate(`document.querySelector("#pwn") === null`), true);
  const text = await page.evaluate<string>(`document.body.innerText`);
  assert(text.includes(HOSTILE_CMD), "the hostile command line shown as text");
  assert(text.includes(HOSTILE_COMM), "the hostile name shown as text");
  assert(text.includes("<b>bad<i>.json"), "the skipped file named");
  // Each target links to its latest run's full report, which exists.
  const links = await page.evaluate<string[]>(
    `Array.from(document.querySelectorAll("a"), (a) => a.getAttribute("href") || "")
      .filter((h) => h.startsWith("runs/"))`,
  );
  assertEquals(links.length, 2);
  for (const l of links) {
    assert(Deno.statSync(`${dir.path}/site/${decodeURIComponent(l)}`).isFile, l);
  }
  const ready = await page.evaluate<string>(`document.body.dataset.ready`);
  assertEquals(Number(ready), drawn.length);
});

Deno.test("ioscope report: bad input exits 2 with one line; an empty store is a report of nothing", async () => {
  await using dir = tmpDir();
  const cases: [string[], RegExp][] = [
    [["report"], /no store: give --store DIR/],
    [["report", "--store", `${dir.path}/nope`], /does not exist/],
    [["report", "--store", dir.path, "--threshold", "ten"], /invalid --threshold 'ten'/],
    [["report", "--store", dir.path, "--threshold", "-5%"], /--threshold/],
    [["report", "--store", dir.path, "--baseline", "0"], /invalid --baseline '0'/],
    [["report", "--store", dir.path, "--out", "/tmp"], /is a directory/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(want.test(lines[0] ?? ""), `${args.join(" ")}: ${r.stderr}`);
  }
  Deno.mkdirSync(`${dir.path}/empty`);
  const r = await runCli([
    "report",
    "--store",
    `${dir.path}/empty`,
    "--out",
    `${dir.path}/out/index.html`,
    "--json",
    `${dir.path}/out/summary.json`,
    "--fail-on-regression",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const summary = JSON.parse(Deno.readTextFileSync(`${dir.path}/out/summary.json`));
  assertEquals(summary.regressions, []);
  assertEquals(summary.runs, 0);
  assert(Deno.readTextFileSync(`${dir.path}/out/index.html`).includes("No runs in the store yet"));
});
