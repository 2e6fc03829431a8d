// `ioscope doctor` prints what `bpftrace --version` and `perf --version` say:
// whatever PATH found, so their text is treated as untrusted.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { ROOT, tmpDir } from "../../_helpers/common.ts";
import { isTerminalSafe } from "../../../agent/cli/terminal_safe.ts";

Deno.test("doctor shows a bpftrace or perf version text with escapes and C1 controls defused", async () => {
  await using dir = tmpDir();
  // Tools that answer --version with a title change, a clear screen (C1 CSI),
  // a right-to-left override and a second line.
  const said = "v9.9.9\\033]0;pwned\\007\\302\\2332J\\342\\200\\256\\nsecond line";
  for (const tool of ["bpftrace", "perf"]) {
    Deno.writeTextFileSync(
      `${dir.path}/${tool}`,
      `#!/bin/sh\nprintf '${tool} ${said}\\n'\n`,
      { mode: 0o755 },
    );
  }
  for (const args of [["doctor"], ["doctor", "--json"]]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}mod.ts`, ...args],
      env: { PATH: `${dir.path}:/usr/bin:/bin`, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const bad = text.split("\n").filter((l) => !isTerminalSafe(l) || /\\u00[89]|\\u202e/.test(l));
    assertEquals(bad, [], "lines a terminal would act on");
    assert(!text.includes("second line"), "only the first line of a version text");
    assert(text.includes("bpftrace v9.9.9?]0;pwned"), text);
    assert(text.includes("perf v9.9.9?]0;pwned"), text);
  }
});
