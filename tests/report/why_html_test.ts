// The report's "Where the time went" section in a real browser (Debian's
// headless Chromium): a real bpf Run (tests/testdata/run_why_fio.json) draws
// the stacked time split and each block device's histogram, offline, with no
// error; a Run without the split leaves the section out.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { renderRunHtml } from "../../report/mod.ts";
import { whySection } from "../../report/_why_html.ts";
import type { ChartSpec } from "../../report/_page_blocks.ts";
import { ROOT } from "../_helpers/common.ts";
import { canvases, launchBrowser } from "../_helpers/browser.ts";
import { demoRun, readRun } from "../_helpers/documents.ts";

const OUT = `${ROOT}out`;

// The fio Run (disk-bound) and PostgreSQL under pgbench (run queue and disk):
// the two pictures README and docs/why.md show.
const PICTURES = [
  { fixture: "run_why_fio.json", png: "why-report.png" },
  { fixture: "run_why_pgbench.json", png: "why-report-pgbench.png" },
];

for (const { fixture, png } of PICTURES) {
  Deno.test(`the time split's section draws its stacked bars and block histograms in a browser (${fixture})`, async () => {
    const run = readRun(new URL(`../testdata/${fixture}`, import.meta.url));
    const html = renderRunHtml(run);
    assert(html.includes('id="why"'), "the section");
    Deno.mkdirSync(OUT, { recursive: true });
    const path = `${OUT}/report-${png.replace(".png", ".html")}`;
    Deno.writeTextFileSync(path, html);
    await using browser = await launchBrowser();
    const { page, log } = await browser.open(path);
    assertEquals(log.consoleErrors, [], "console errors");
    assertEquals(log.pageErrors, [], "uncaught errors");
    assertEquals(log.requests, [], "network requests");
    assertEquals(log.cspViolations, [], "CSP violations");
    const drawn = await canvases(page);
    const ids = drawn.map((c) => c.id);
    assert(ids.includes("chart-time-split"), `canvases: ${ids.join(", ")}`);
    assert(ids.some((id) => id.startsWith("chart-block-")), `canvases: ${ids.join(", ")}`);
    for (
      const c of drawn.filter((c) => c.id === "chart-time-split" || c.id.startsWith("chart-block-"))
    ) {
      assert(c.painted / (c.width * c.height) > 0.02 && c.colors >= 3, `${c.id} looks blank`);
    }
    const box = await page.locator("#why").boundingBox();
    assert(box, "the section is laid out");
    const shot = Deno.env.get("IOSCOPE_DOCS_SCREENSHOT") === "1"
      ? `${ROOT}docs/${png}`
      : `${OUT}/report-${png}`;
    await page.screenshot({
      path: shot,
      fullPage: true,
      clip: { x: 0, y: box.y, width: 1280, height: Math.ceil(box.height) },
    });
  });
}

Deno.test("each stacked bar adds up to the whole of its calls' time (fractions, as the percent axis formats)", () => {
  const charts: ChartSpec[] = [];
  whySection(readRun(new URL("../testdata/run_why_fio.json", import.meta.url)), charts);
  const split = charts.find((c) => c.id === "time-split");
  assert(split, "the chart");
  const labels = split.labels ?? [];
  assert(labels.length >= 2);
  labels.forEach((label, i) => {
    const sum = split.datasets.reduce((n, d) => n + Number(d.data[i]), 0);
    assert(Math.abs(sum - 1) <= 0.01, `${label}: ${sum}`);
  });
});

Deno.test("a Run without the time split has no such section", () => {
  const html = renderRunHtml(demoRun());
  assert(!html.includes('id="why"'));
});
