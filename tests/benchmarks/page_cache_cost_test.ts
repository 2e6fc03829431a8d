// The page-cache cost benchmark (benchmarks/page_cache_cost.ts), one short
// round for real: with ext4's defaults (large folios from kernel 6.16) and
// mounted data=journal (4 KiB pages), the module counts exactly the file's
// 65536 pages per pass, in fewer runs than pages where folios are large and
// one run per page where they are not; the benchmark leaves no loop device,
// image or mount behind.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/common.ts";

function ours(): string[] {
  const loops = new Deno.Command("losetup", { args: ["--list", "--noheadings", "-O", "BACK-FILE"] })
    .outputSync();
  const mounts = Deno.readTextFileSync("/proc/mounts");
  return [
    ...new TextDecoder().decode(loops.stdout).split("\n").filter((l) =>
      l.includes("ioscope-pcbench-")
    ),
    ...[...Deno.readDirSync("/dev/shm")].map((e) => e.name).filter((n) =>
      n.startsWith("ioscope-pcbench-")
    ),
    ...mounts.split("\n").filter((l) => l.includes("ioscope-pcbench-")),
  ];
}

Deno.test("page-cache cost: one round on both mounts counts the file's pages, a run per folio, and cleans up", () => {
  const out = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}benchmarks/page_cache_cost.ts`, "--rounds", "1", "--passes", "1"],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  const text = new TextDecoder().decode(out.stdout);
  assert(out.success, `${text}${new TextDecoder().decode(out.stderr)}`);
  const runs = [
    ...text.matchAll(/ios_pagecache: (\d+) runs per 256 MiB pass, (\d+) pages counted/g),
  ]
    .map((m) => [Number(m[1]), Number(m[2])]);
  assertEquals(runs.length, 2, text);
  const [[foliosRuns, foliosPages], [pageRuns, pagePages]] = runs as [
    [number, number],
    [number, number],
  ];
  assertEquals([foliosPages, pagePages], [65536, 65536], `every page of the 256 MiB file: ${text}`);
  // ext4 adds large folios from 6.16 (a run per folio); before, a run per page.
  const [major = 0, minor = 0] = Deno.osRelease().split(".").map(Number);
  if (major > 6 || (major === 6 && minor >= 16)) {
    assert(foliosRuns < foliosPages / 4, `large folios: fewer runs than pages: ${text}`);
  } else assertEquals(foliosRuns, foliosPages, `no large folios before 6.16: ${text}`);
  assertEquals(pageRuns, 65536, `data=journal: a run per page: ${text}`);
  assert(
    /without the module: \d+ MiB\/s/.test(text) && /with the module: +\d+ MiB\/s/.test(text),
    text,
  );
  assertEquals(ours(), [], "no loop device, image or mount left");
});
