// The report's Descriptors section: present with the Run's `fds`, absent
// without, and a traced process's path is escaped (it is untrusted text).
import { assert } from "../_helpers/assert.ts";
import { descriptorsSection } from "../../report/_descriptors.ts";
import { renderRunHtml } from "../../report/mod.ts";
import type { RunDocument } from "../../schema/mod.ts";

const RUN = JSON.parse(
  Deno.readTextFileSync(new URL("../testdata/run_fio_psync.json", import.meta.url)),
) as RunDocument;

Deno.test("descriptors section lists the fds, escapes their paths, and is absent without them", async () => {
  assert(descriptorsSection(RUN) === false, "no fds, no section");
  const run: RunDocument = {
    ...RUN,
    fds: [{
      pid: 7,
      fd: 3,
      kind: "file",
      target: "/tmp/<script>alert(1)</script>",
      count: 10,
      errors: 0,
      bytes: 40960,
      total_ns: 1000,
      calls: { pread64: 10 },
    }],
  };
  const html = await renderRunHtml(run);
  assert(html.includes('id="descriptors"'), "section present");
  assert(!html.includes("<script>alert(1)"), "path escaped");
  assert(html.includes("&lt;script&gt;alert(1)"), "path shown escaped");
});
