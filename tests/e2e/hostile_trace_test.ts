// A real trace of a process whose name (prctl PR_SET_NAME) and arguments are
// injection strings: the Run document carries them verbatim, and the report
// (and the HTML the CLI writes with --out) shows them as text and runs nothing.
// Needs root and bpftrace, like the other trace tests.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { renderRunHtml } from "../../report/mod.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { traceRun } from "../_helpers/trace_run.ts";
import { injection, launchBrowser } from "../_helpers/browser.ts";

const NAME = "<svg onload=a>";
const ARGS = [
  "</script><script>alert(1)</script>",
  `"><img src=x onerror=alert(2)>`,
  "'><svg onload=alert(3)>",
  "<!--",
  "<iframe src=javascript:alert(4)>",
];

async function startHostile(): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/_helpers/workloads/hostile_process.ts`, NAME, "8", ...ARGS],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the hostile process ended before it was ready");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return child;
}

Deno.test("a traced process named with injection strings shows them as text and nothing runs", async () => {
  await using dir = tmpDir();
  const child = await startHostile();
  try {
    const { run } = await traceRun(
      ["--pid", String(child.pid), "--duration", "2s", "--out", `${dir.path}/cli.html`],
      `${dir.path}/run.json`,
    );
    assertEquals(run.meta.comm, NAME, "the name the process gave itself");
    for (const a of ARGS) assert(run.meta.cmdline.includes(a), `cmdline has ${a}`);
    assert((run.syscalls.read?.count ?? 0) > 0, "its reads were traced");

    const reportPath = `${dir.path}/report.html`;
    Deno.writeTextFileSync(reportPath, renderRunHtml(run));
    await using browser = await launchBrowser();
    const { page, log } = await browser.open(reportPath);
    assertEquals(await injection(page), { scripts: 4, loaders: [], handlers: [] });
    assertEquals(await page.locator("#cmdline").textContent(), run.meta.cmdline);
    assert((await page.locator("h1").textContent())?.includes(NAME), "name shown as text");
    assertEquals(log, {
      consoleErrors: [],
      pageErrors: [],
      requests: [],
      dialogs: [],
      cspViolations: [],
    });

    // Whatever page the CLI itself writes with --out holds the same text, inert.
    const cli = await browser.open(`${dir.path}/cli.html`, { waitReady: false });
    const inert = await injection(cli.page);
    assertEquals([inert.loaders, inert.handlers], [[], []]);
    const body = (await cli.page.locator("body").textContent()) ?? "";
    assert(body.includes(NAME), "the CLI page shows the name as text");
    assertEquals([cli.log.dialogs, cli.log.pageErrors, cli.log.requests], [[], [], []]);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
  }
});
