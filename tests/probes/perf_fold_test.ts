// Folding perf script output (recorded from a process re-reading a cached
// file; see tests/testdata/README.md) into flame graph stacks.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { foldPerfScript } from "../../probes/perf_fold.ts";

const text = Deno.readTextFileSync(new URL("../testdata/perf_script_read.txt", import.meta.url));

Deno.test("every sample is folded once, outermost frame first, kernel frames marked", () => {
  const f = foldPerfScript(text);
  const headers = text.split("\n").filter((l) => l !== "" && !/^\s/.test(l)).length;
  assertEquals(f.samples, headers);
  assertEquals(f.folded.reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0), headers);
  const read = f.folded.find((l) => l.includes(";vfs_read_[k]"));
  assert(read, "the kernel's read path is in the stacks");
  assert(read.startsWith("python3;"), "stacks start with the command name");
  const frames = read.slice(0, read.lastIndexOf(" ")).split(";");
  assert(
    frames.indexOf("entry_SYSCALL_64_after_hwframe_[k]") < frames.indexOf("vfs_read_[k]"),
    "syscall entry is outside vfs_read",
  );
});

Deno.test("frames cannot break the folded format", () => {
  const f = foldPerfScript(
    "we;ird name 12 \n\t7f00 sym;bol (/lib/x.so)\n\t0 [unknown] (/opt/app)\n\n",
  );
  assertEquals(f.folded, ["we:ird name;[app];sym:bol 1"]);
});
