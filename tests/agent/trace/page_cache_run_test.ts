// The Run's page_cache from a snapshot (agent/trace/_page_cache_run.ts): the
// kernel's (device, inode) named by the path the descriptor view resolved,
// the bytes read through it, the hit ratio only where it means something;
// then its terminal lines and HTML table (the path is the traced process's:
// escaped).
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { buildRun } from "../../../agent/trace/run_builder.ts";
import { kernelDev, pageSize } from "../../../agent/trace/_page_cache_run.ts";
import { pageCacheLines } from "../../../agent/cli/_page_cache_text.ts";
import { renderRunHtml } from "../../../report/run.ts";
import { emptySnapshot, type FdTotals } from "../../../probes/snapshot.ts";
import type { FdInfo } from "../../../agent/trace/_copy_split.ts";
import { readRun, runOptionsOf } from "../../_helpers/documents.ts";

const META = readRun(new URL("../../testdata/run_demo.json", import.meta.url)).meta;
const MIB = 1 << 20;

function fd(pid: number, n: number, calls: Record<string, number>): FdTotals {
  const bytes = Object.values(calls).reduce((a, b) => a + b, 0);
  return {
    pid,
    fd: n,
    count: 1,
    errors: 0,
    bytes,
    total_ns: 1,
    calls: new Map(Object.keys(calls).map((c) => [c, 1])),
    callBytes: new Map(Object.entries(calls)),
  };
}

Deno.test("page cache: st_dev as user space numbers it becomes the kernel's s_dev", () => {
  assertEquals(kernelDev(0xfe00), 254 << 20, "254:0, vda here (stat -c %d gives 65024)");
  assertEquals(kernelDev(0x0803), (8 << 20) | 3, "8:3");
  // glibc's encoding of minor 256 and up: its high bits above bit 20
  assertEquals(kernelDev((259 << 8) | (0x12 << 20) | 0x34), (259 << 20) | 0x1234);
  assertEquals(pageSize(), 4096, "x86_64");
});

Deno.test("page cache: files named by the descriptors' paths, read bytes summed, a hit ratio only for files only read", () => {
  const snapshot = emptySnapshot();
  const vda = 254 << 20;
  const files = [
    { dev: vda, ino: 11, pages: 512 }, // read 4 MiB through two descriptors: 2 MiB added
    { dev: vda, ino: 12, pages: 256 }, // read and written
    { dev: vda, ino: 13, pages: 64 }, // no descriptor of it (mapped, or closed early)
    ...Array.from({ length: 25 }, (_, i) => ({ dev: vda, ino: 100 + i, pages: 1 })),
  ];
  snapshot.pageCache = { files, lostPages: 3 }; // 3 pages of files the map had no room for
  snapshot.fds.set("7:3", fd(7, 3, { read: 3 * MIB }));
  snapshot.fds.set("8:4", fd(8, 4, { pread64: MIB }));
  snapshot.fds.set("7:5", fd(7, 5, { read: MIB, write: MIB }));
  const file = (target: string, ino: number): FdInfo => ({
    kind: "file",
    target,
    writeOnly: false,
    stat: { dev: 0xfe00, ino },
  });
  const fds = new Map<string, FdInfo>([
    ["7:3", file("/data/<b>a</b>.db", 11)],
    ["8:4", file("/data/<b>a</b>.db", 11)],
    ["7:5", file("/data/log", 12)],
  ]);
  const run = buildRun(snapshot, { ...runOptionsOf(META), fds });
  const pc = run.page_cache;
  assert(pc, "measured");
  assertEquals(pc.page_size, 4096);
  assertEquals(pc.pages_added, 512 + 256 + 64 + 25 + 3, "the lost pages too");
  assertEquals(pc.files.length, 20);
  assertEquals([pc.other_files, pc.other_pages, pc.lost_pages], [8, 8, 3]);
  assertEquals(pc.files[0], {
    target: "/data/<b>a</b>.db",
    dev: "254:0",
    ino: 11,
    pages_added: 512,
    bytes_added: 2 * MIB,
    read_bytes: 4 * MIB,
    written_bytes: 0,
    hit_ratio: 0.5,
  });
  assertEquals(pc.files[1]?.hit_ratio, null, "written too: a write's new pages are no misses");
  assertEquals(pc.files[1]?.written_bytes, MIB);
  assertEquals([pc.files[2]?.target, pc.files[2]?.read_bytes, pc.files[2]?.hit_ratio], [
    "",
    null,
    null,
  ]);
  assert(!run.meta.unsupported.some((u) => u.metric === "page_cache"));

  const lines = pageCacheLines(run);
  assertEquals(lines.slice(1), [
    "page cache: 860 pages added (3.36MiB: misses and readahead) in 28 files",
    "  /data/<b>a</b>.db: 512 pages, read 4.0MiB, hit ratio 50%",
    "  /data/log: 256 pages, read 1.0MiB",
    "  dev 254:0 inode 13: 64 pages",
    "  3 pages of files past the 16384 counted by name",
  ]);
  assert(lines.every((l) => l.length <= 80));

  const html = renderRunHtml(run);
  assert(html.includes('id="page-cache-table"'), "the table");
  assert(html.includes("/data/&lt;b&gt;a&lt;/b&gt;.db") && !html.includes("<b>a</b>"), "escaped");
  assert(html.indexOf('id="fd-table"') < html.indexOf('id="page-cache-table"'), "beside");
  assert(html.includes("3 of them in files past the 16384 counted by name"), "the lost pages");
});

Deno.test("page cache: a run of another backend has none, and says why", () => {
  const run = buildRun(emptySnapshot(), runOptionsOf(META));
  assertEquals(run.page_cache, null);
  assertEquals(pageCacheLines(run), []);
  assert(!renderRunHtml(run).includes("page-cache-table"));
});
