// The agent's PATH lookup runs as root: the current directory, which a shell
// searches for an empty PATH entry, may be another user's.
import { assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { findCommand } from "../../agent/find_command.ts";

Deno.test("findCommand skips an empty or relative PATH entry: the current directory is not searched", async () => {
  await using dir = tmpDir();
  const planted = `${dir.path}/ioscope-planted-tool`;
  Deno.writeTextFileSync(planted, "#!/bin/sh\necho planted\n", { mode: 0o755 });
  const cwd = Deno.cwd();
  const path = Deno.env.get("PATH");
  try {
    Deno.chdir(dir.path);
    for (const p of [":/usr/bin", "/usr/bin:", "/usr/bin::/bin", ".:/usr/bin", "bin:/usr/bin"]) {
      Deno.env.set("PATH", p);
      assertEquals(findCommand("ioscope-planted-tool"), null, `PATH=${p}`);
    }
    // An absolute entry is searched, as before.
    Deno.env.set("PATH", `/usr/bin:${dir.path}/`);
    assertEquals(findCommand("ioscope-planted-tool"), planted);
    assertEquals(findCommand("sh"), "/usr/bin/sh");
  } finally {
    Deno.chdir(cwd);
    if (path === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", path);
  }
});
