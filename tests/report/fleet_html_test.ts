// `report --fleet DIR,DIR --out FILE.html` in a real browser (Debian's
// headless Chromium): two stores from two hosts (the recorded fixture
// tests/testdata/run_fio_psync.json, and a copy under a hostile host name
// whose pread64 calls are 4x faster, with a hostile target and syscall name)
// give one page: a table per target, each host's P99 as a bar, the merged
// histogram; every name shows as text and nothing injected runs.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, runCli, tmpDir } from "../_helpers/common.ts";
import { canvases, injection, inPage, launchBrowser } from "../_helpers/browser.ts";
import { HOSTILE, readRun } from "../_helpers/documents.ts";
import { saveRun } from "../../agent/nightly/store.ts";
import type { FleetDocument } from "../../schema/mod.ts";

const FIXTURE = new URL("../testdata/run_fio_psync.json", import.meta.url);
const HOST = `host-b${HOSTILE.name}</td></tr></table><script>alert(9)</script>`;

Deno.test("report --fleet --out draws each target's table, each host's P99 and the merged histogram; hostile names stay text", async () => {
  await using dir = tmpDir();
  const a = readRun(FIXTURE);
  const b = readRun(FIXTURE);
  b.meta.host = HOST;
  const pb = b.syscalls.pread64;
  assert(pb, "pread64 in the fixture");
  pb.buckets = pb.buckets.map(([lo, hi, n]) => [Math.floor(lo / 4), Math.ceil(hi / 4), n]);
  b.syscalls[HOSTILE.name] = structuredClone(pb);
  const c = readRun(FIXTURE);
  c.meta.host = HOST;
  c.meta.comm = HOSTILE.comm;
  for (const [i, run] of [a, b, c].entries()) {
    Deno.mkdirSync(`${dir.path}/${i}`, { mode: 0o700 });
    await saveRun(`${dir.path}/${i}`, run);
  }
  const html = `${dir.path}/fleet.html`;
  const r = await runCli([
    "report",
    "--fleet",
    `${dir.path}/0,${dir.path}/1,${dir.path}/2`,
    "--out",
    html,
    "--json",
    `${dir.path}/fleet.json`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stderr.includes(`Wrote ${html}`), r.stderr);
  const doc = JSON.parse(Deno.readTextFileSync(`${dir.path}/fleet.json`)) as FleetDocument;
  const row = doc.rows.find((x) => x.target === "fio" && x.syscall === "pread64");
  assert(row?.buckets, "the merged histogram in the document");
  // The merged histogram holds every timed call of both hosts.
  assertEquals(row.buckets.reduce((n, q) => n + q[2], 0), row.count);
  Deno.mkdirSync(`${ROOT}out`, { recursive: true });
  Deno.copyFileSync(html, `${ROOT}out/report-fleet.html`);

  await using browser = await launchBrowser();
  const { page, log } = await browser.open(html);
  assertEquals(log.consoleErrors, [], "console errors");
  assertEquals(log.pageErrors, [], "uncaught errors");
  assertEquals(log.requests, [], "network requests");
  assertEquals(log.dialogs, [], "dialogs");
  assertEquals(log.cspViolations, [], "CSP violations");
  // chart.js, the units, the page script, and the JSON data block: nothing else.
  assertEquals(await injection(page), { scripts: 4, loaders: [], handlers: [] });
  // One section per target, the hostile one's name as its heading's text.
  const heads = await inPage<string[]>(
    page,
    `Array.from(document.querySelectorAll("section.fleet-target h2")).map((h) => h.textContent)`,
  );
  assertEquals(heads.sort(), [HOSTILE.comm, "fio"].sort());
  // The hostile host and syscall are table text; pread64's row lists both hosts' P99s.
  const cells = await inPage<string[]>(
    page,
    `Array.from(document.querySelectorAll("section.fleet-target td")).map((td) => td.textContent)`,
  );
  assert(cells.includes(HOSTILE.name), "a hostile syscall name is a cell's text");
  assert(cells.some((t) => t.includes(HOST)), "a hostile host name is a cell's text");
  // Each host's P99 is a bar (fastest first), its name a label drawn on the canvas.
  const fio = await inPage<string>(
    page,
    `Array.from(document.querySelectorAll("section.fleet-target"))
      .find((s) => s.querySelector("h2").textContent === "fio")
      .querySelector("canvas").id.replace(/-hosts$/, "")`,
  );
  const chart = await inPage<{ labels: string[]; data: number[] }>(
    page,
    `(() => { const c = Chart.getChart(document.getElementById("${fio}-hosts"));
      return { labels: c.data.labels, data: c.data.datasets[0].data }; })()`,
  );
  assertEquals(chart.labels, [HOST, a.meta.host]);
  assertEquals(chart.data, [row.p99_by_host[HOST], row.p99_by_host[a.meta.host]]);
  const drawn = await canvases(page);
  assertEquals(drawn.length, 2 * doc.rows.length, "two charts per target and syscall");
  for (const id of [`${fio}-hosts`, `${fio}-merged`]) {
    const cv = drawn.find((x) => x.id === id);
    assert(cv, `${id}: ${drawn.map((x) => x.id).join(", ")}`);
    assert(cv.painted / (cv.width * cv.height) > 0.02 && cv.colors >= 3, `${id} looks blank`);
  }
  await page.screenshot({ path: `${ROOT}out/report-fleet.png`, fullPage: true });
  await page.close();
});

Deno.test("report --fleet --out refuses a directory in one line, exit 2", async () => {
  await using dir = tmpDir();
  Deno.mkdirSync(`${dir.path}/a`, { mode: 0o700 });
  await saveRun(`${dir.path}/a`, readRun(FIXTURE));
  const r = await runCli(["report", "--fleet", `${dir.path}/a`, "--out", dir.path]);
  assertEquals(r.code, 2, r.stderr);
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert(r.stderr.includes("is a directory"), r.stderr);
});
