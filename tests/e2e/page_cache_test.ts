// Page-cache misses per file (the bpf backend's filemap module), against
// the kernel's own account of the file's pages: a file written with
// O_DIRECT is not in the page cache (fincore says 0 pages resident), a
// workload (tests/_helpers/workloads/page_cache_reader.py) reads it whole
// twice through one descriptor, and fincore, run right after, says how many
// pages are resident. Every resident page was added by that read: the Run's
// pages added equal fincore's, and the file's pages. A file on tmpfs
// (/dev/shm) read and written adds nothing: its pages are the cache
// (measured: 0 pages added for it, 2026-12-06, kernel 6.18).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { traceWorkload } from "../_helpers/trace_run.ts";
import { startLineWorkload } from "../_helpers/line_workload.ts";
import { PAGE_CACHE_MAX_FILES } from "../../schema/mod.ts";

const SIZE = 8 << 20;

function sh(cmd: string): string {
  const out = new Deno.Command("sh", { args: ["-c", cmd] }).outputSync();
  assert(out.success, `${cmd}: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test("bpf: page-cache misses per file equal the pages fincore finds resident after a cold read; tmpfs adds none", async () => {
  await using dir = tmpDir();
  const cold = Deno.makeTempFileSync({ dir: "/var/tmp", prefix: "ioscope-pagecache-" });
  const shm = Deno.makeTempFileSync({ dir: "/dev/shm", prefix: "ioscope-pagecache-" });
  try {
    assertEquals(sh(`df --output=fstype ${cold} | tail -1`).trim(), "ext4", "a disk filesystem");
    sh(`dd if=/dev/urandom of=${cold} bs=1M count=${SIZE >> 20} oflag=direct status=none`);
    sh(`dd if=/dev/urandom of=${shm} bs=1M count=1 status=none`);
    assertEquals(sh(`fincore -b -n -o RES ${cold}`).trim(), "0", "written O_DIRECT: not cached");
    const w = await startLineWorkload("python3", [
      `${ROOT}tests/_helpers/workloads/page_cache_reader.py`,
      cold,
      shm,
    ]);
    const { run, stdout, text } = await traceWorkload(w, `${dir.path}/run.json`, {
      backend: "bpf",
    });
    const [, pages, resident] = /fincore (\d+) (\d+)/.exec(text) ?? [];
    const pc = run.page_cache;
    assert(pc, JSON.stringify(run.meta.unsupported));
    const f = pc.files.find((x) => x.target === cold);
    assert(f, `the cold file in ${JSON.stringify(pc.files)}`);
    assertEquals(Number(pages), SIZE / pc.page_size, "fincore's page count");
    assertEquals(Number(resident), SIZE, "fincore: every page resident right after the reads");
    assertEquals(f.pages_added * pc.page_size, Number(resident), "pages added = fincore's");
    assertEquals(f.bytes_added, SIZE);
    assertEquals(f.read_bytes, 2 * SIZE, "read twice through the descriptor");
    assertEquals(f.written_bytes, 0);
    assertEquals(f.hit_ratio, 0.5, "the second read found every page cached");
    const { ino } = Deno.statSync(cold);
    assertEquals(f.ino, ino);
    assert(!pc.files.some((x) => x.target === shm), `tmpfs adds none: ${JSON.stringify(pc.files)}`);
    assert(!run.meta.unsupported.some((u) => u.metric === "page_cache"));
    assert(stdout.includes("page cache: ") && stdout.includes("hit ratio 50%"), stdout);
  } finally {
    Deno.removeSync(cold);
    Deno.removeSync(shm);
  }
});

// Past the map's capacity: a process writes one page to each of 16,384 +
// 300 new files (each write adds the page: pages added = files written, plus
// the directory's and inode tables' blocks, which the block device's cache
// adds, in one more "file"). The map counts 16,384 files by name; the pages
// of the rest are counted as lost, not dropped.
Deno.test("bpf: page-cache pages of files past the map's capacity are counted as lost", async () => {
  await using dir = tmpDir();
  const many = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "ioscope-pagecache-many-" });
  const files = PAGE_CACHE_MAX_FILES + 300;
  try {
    const w = await startLineWorkload("python3", [
      `${ROOT}tests/_helpers/workloads/many_files_writer.py`,
      many,
      String(files),
    ]);
    const { run } = await traceWorkload(w, `${dir.path}/run.json`, { backend: "bpf" });
    const pc = run.page_cache;
    assert(pc, JSON.stringify(run.meta.unsupported));
    const summary = JSON.stringify({ ...pc, files: pc.files.length });
    console.log(`${files} files written: ${summary}`);
    assertEquals(
      pc.files.length + pc.other_files,
      PAGE_CACHE_MAX_FILES,
      `the map full: ${summary}`,
    );
    assert(pc.pages_added >= files, `a page per file written at least: ${summary}`);
    // Every file past the capacity had its page; without the lost count
    // they were dropped (pages_added fell short of the files written).
    assert((pc.lost_pages ?? 0) >= files - PAGE_CACHE_MAX_FILES, `lost pages: ${summary}`);
    const named = pc.files.reduce((t, f) => t + f.pages_added, 0) + pc.other_pages;
    assertEquals(pc.pages_added, named + (pc.lost_pages ?? 0), summary);
  } finally {
    Deno.removeSync(many, { recursive: true });
  }
});

for (const backend of ["bpftrace", "ftrace"] as const) {
  Deno.test(`${backend}: page_cache is null with its reason, never 0`, async () => {
    await using dir = tmpDir();
    const shm = Deno.makeTempFileSync({ dir: "/dev/shm", prefix: "ioscope-pagecache-" });
    try {
      const w = await startLineWorkload("python3", [
        `${ROOT}tests/_helpers/workloads/page_cache_reader.py`,
        shm,
        shm,
      ]);
      const { run } = await traceWorkload(w, `${dir.path}/run.json`, { backend });
      assertEquals(run.page_cache, null);
      const u = run.meta.unsupported.find((x) => x.metric === "page_cache");
      assert(u && /bpf only/.test(u.reason), JSON.stringify(run.meta.unsupported));
    } finally {
      Deno.removeSync(shm);
    }
  });
}
