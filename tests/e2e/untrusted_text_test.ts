/**
 * Text from disk and from traced processes never reaches the terminal with
 * an escape sequence or a control character in it: a store planted with
 * hostile files (names, corrupt JSON quoting its contents, fields holding
 * escapes) is reported with every such character defused.
 */

import { assert, assertEquals } from "../_helpers/assert.ts";
import { runCli, tmpDir } from "../_helpers/common.ts";
import { tracePid } from "../_helpers/trace_run.ts";
import { isTerminalSafe } from "../../agent/cli/terminal_safe.ts";

const ESC = "\x1b";
/** A title change, a screen clear, a C1 CSI, a bell, a text-direction override. */
const HOSTILE = `${ESC}]0;pwned${ESC}\\${ESC}[2J\u009b31m\x07\u202e`;

/** A process that renames itself (comm, at most 15 bytes) and sleeps 30 s. */
async function renamedProcess(comm: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      "import sys,time; open('/proc/self/comm','w').write(sys.argv[1]); time.sleep(30)",
      comm,
    ],
  }).spawn();
  await new Promise((r) => setTimeout(r, 500));
  return child;
}

/** Every line of output, with its unsafe characters shown, for a failure message. */
function unsafeLines(text: string): string[] {
  return text.split("\n").filter((l) => !isTerminalSafe(l)).map((l) => JSON.stringify(l));
}

Deno.test("report on a planted store prints no escape sequence or control character", async () => {
  await using dir = tmpDir();
  const store = `${dir.path}/store`;
  Deno.mkdirSync(store);
  const run = JSON.parse(
    Deno.readTextFileSync(new URL("../testdata/run_demo.json", import.meta.url)),
  );
  // A valid run whose process name and command line carry escapes.
  run.meta.comm = `evil${HOSTILE}`;
  run.meta.cmdline = `evil ${HOSTILE}`;
  Deno.writeTextFileSync(`${store}/good-00000000-20261201T000000Z.json`, JSON.stringify(run));
  // Corrupt JSON: the parser's message quotes the file's bytes.
  Deno.writeTextFileSync(`${store}/corrupt.json`, `{"schema": "ioscope.run/1", ${HOSTILE}`);
  // A foreign schema and a malformed syscall, their names quoted in the reasons.
  Deno.writeTextFileSync(`${store}/foreign.json`, JSON.stringify({ schema: `x${HOSTILE}` }));
  const bad = structuredClone(run);
  bad.syscalls = { [`read${HOSTILE}`]: { count: "many" } };
  Deno.writeTextFileSync(`${store}/bad-syscall.json`, JSON.stringify(bad));
  // File names themselves.
  Deno.writeTextFileSync(`${store}/name${HOSTILE}.json`, "{}");
  Deno.writeTextFileSync(`${store}/.ioscope-${HOSTILE}.tmp`, "");

  const r = await runCli([
    "report",
    "--store",
    store,
    "--out",
    `${dir.path}/site/index.html`,
    "--json",
    `${dir.path}/summary.json`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  const skipped = r.stderr.split("\n").filter((l) => l.startsWith("skipped "));
  assertEquals(skipped.length, 5, r.stderr);
  assertEquals(unsafeLines(r.stdout), []);
  assertEquals(unsafeLines(r.stderr), []);
  // The reasons still say what was wrong, and quote nothing a file holds
  // (a store entry may be anything: only its name, defused, is shown).
  assert(skipped.some((l) => l.includes("corrupt.json: corrupt: not valid JSON")), r.stderr);
  assert(
    skipped.some((l) =>
      l.includes("bad-syscall.json: corrupt Run document: a syscall's figures are malformed")
    ),
    r.stderr,
  );
  assert(skipped.some((l) => l.includes("foreign.json: not a Run document (another schema)")));
  const reasons = skipped.map((l) => l.slice(l.indexOf(": ") + 2));
  assert(reasons.every((l) => !l.includes("pwned")), r.stderr);
});

Deno.test("trace of a process with a hostile name prints it defused", async () => {
  await using dir = tmpDir();
  // A process renames itself (comm is 15 bytes) with escapes in it.
  const child = await renamedProcess(`\x1b[31m\x07\u009b2J`);
  try {
    const r = await tracePid(child.pid, `${dir.path}/run.json`, { args: ["--duration", "1s"] });
    assertEquals(unsafeLines(r.stdout), []);
    assertEquals(unsafeLines(r.stderr), []);
    assert(r.stderr.includes("(?[31m??2J)"), r.stderr);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("--json-lines writes a process name's C1 controls and direction marks as \\u escapes", async () => {
  // A C1 CSI (U+009B: "clear screen" with 2J), a right-to-left override and
  // a line separator: JSON.stringify leaves them raw, a terminal acts on them.
  await using dir = tmpDir();
  const name = "x\u009b2J\u202e\u2028";
  const child = await renamedProcess(name);
  try {
    const r = await tracePid(child.pid, `${dir.path}/run.json`, {
      args: [
        "--duration",
        "2.5s",
        "--interval",
        "1s",
        "--json-lines",
        "--out",
        `${dir.path}/run.html`,
      ],
    });
    // The Run (command lines, descriptor targets) and its report: owner-only.
    for (const f of ["run.json", "run.html"]) {
      assertEquals((Deno.statSync(`${dir.path}/${f}`).mode ?? 0) & 0o777, 0o600, f);
    }
    const lines = r.stdout.trim().split("\n");
    assert(lines.length >= 2, r.stdout);
    assertEquals(unsafeLines(r.stdout), []);
    for (const l of lines) {
      assert(l.includes("\\u009b2J\\u202e\\u2028"), l);
      // The same value: only its spelling changed.
      assertEquals(JSON.parse(l).comm, name);
    }
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});
