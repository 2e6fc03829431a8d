// chart.js is inlined into reports rendered as root: only the vendored,
// hash-pinned copy may be, never a file from a cache another user can write to.
// Fixture: tests/testdata/run_fio_psync.json (see tests/testdata/README.md).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { saveRun } from "../../agent/nightly/store.ts";
import { readRun } from "../_helpers/documents.ts";
import {
  CHART_JS_SHA256,
  CHART_JS_URL,
  CHART_JS_VERSION,
  chartJsSource,
  verifyChartJs,
} from "../../report/chartjs.ts";
import { sha256 } from "../../schema/sha256.ts";

const PLANTED = "window.PLANTED_BY_A_USER=1;";
/** What a planted file looks like: the pinned version's banner, other code. */
const PLANTED_FILE =
  `/*!\n * Chart.js v${CHART_JS_VERSION}\n * https://www.chartjs.org\n */\n${PLANTED}\n`;

function plant(root: string): void {
  const dir = `${root}/npm/registry.npmjs.org/chart.js/${CHART_JS_VERSION}/dist`;
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(`${dir}/chart.umd.js`, PLANTED_FILE);
}

Deno.test("a chart.umd.js planted in DENO_DIR, XDG_CACHE_HOME or HOME never reaches a report", async () => {
  await using dir = tmpDir();
  const home = `${dir.path}/home`;
  // Every place the old loader looked, each with the planted file.
  plant(`${dir.path}/deno-dir`);
  plant(`${dir.path}/xdg/deno`);
  plant(`${home}/.cache/deno`);
  const store = `${dir.path}/store`;
  const run = readRun(new URL("../testdata/run_fio_psync.json", import.meta.url));
  await saveRun(store, run);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "report", "--store", store, "--out", `${dir.path}/i.html`],
    env: {
      DENO_DIR: `${dir.path}/deno-dir`,
      XDG_CACHE_HOME: `${dir.path}/xdg`,
      HOME: home,
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const said = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, said);
  const pages = [`${dir.path}/i.html`];
  for (const e of Deno.readDirSync(`${dir.path}/runs`)) pages.push(`${dir.path}/runs/${e.name}`);
  assertEquals(pages.length, 2, "the trend page and the latest run's report");
  const digest = btoa(String.fromCharCode(...sha256(Deno.readFileSync(CHART_JS_URL))));
  for (const p of pages) {
    const html = Deno.readTextFileSync(p);
    assert(!html.includes(PLANTED), `${p} inlines the planted chart.umd.js`);
    assert(html.includes(chartJsSource()), `${p} inlines the vendored chart.js`);
    // The CSP allows the script by the hash of the pinned bytes.
    assert(html.includes(`sha256-${digest}`), `${p}: no CSP hash of the pinned chart.js`);
  }
});

Deno.test("chart.js bytes other than the pinned file are refused, one changed byte included", () => {
  const good = Deno.readFileSync(CHART_JS_URL);
  assertEquals(typeof verifyChartJs(good), "string");
  const bad = good.slice();
  bad[good.length - 2] = (good[good.length - 2] ?? 0) ^ 1;
  const r = verifyChartJs(bad);
  assert(r instanceof Error && r.message.includes(CHART_JS_SHA256), String(r));
  const planted = verifyChartJs(new TextEncoder().encode(PLANTED_FILE));
  assert(planted instanceof Error, "a file with the right banner and other code is refused");
});

Deno.test("the vendored chart.js is the version deno.json maps chart.js to, with its licence", () => {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  assertEquals(config.imports["chart.js"], `npm:chart.js@${CHART_JS_VERSION}`);
  assert(chartJsSource().slice(0, 40).includes(`Chart.js v${CHART_JS_VERSION}`));
  const licence = Deno.readTextFileSync(new URL("chart.js.LICENSE.md", CHART_JS_URL));
  assert(licence.startsWith("The MIT License"), licence.slice(0, 40));
});
