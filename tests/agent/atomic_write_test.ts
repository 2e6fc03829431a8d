import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  TEMP_PREFIX,
  writeErrorReason,
  writeFileAtomic,
  writeNewFile,
} from "../../agent/atomic_write.ts";
import { tmpDir } from "../_helpers/common.ts";

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

Deno.test("a symlink planted at the temporary file's name is never followed", async () => {
  await using dir = tmpDir();
  const victim = `${dir.path}/victim`;
  Deno.writeTextFileSync(victim, "precious\n");
  // The attacker knows the first name that will be tried and plants a symlink there
  // (and a dangling one at the second, which O_CREAT alone would create through).
  const names = [`${TEMP_PREFIX}a.tmp`, `${TEMP_PREFIX}b.tmp`, `${TEMP_PREFIX}c.tmp`];
  Deno.symlinkSync(victim, `${dir.path}/${names[0]}`);
  Deno.symlinkSync(`${dir.path}/created-through-link`, `${dir.path}/${names[1]}`);
  let i = 0;
  await writeFileAtomic(`${dir.path}/run.json`, "{}\n", { tempName: () => names[i++] ?? "x" });
  assertEquals(i, 3, "both planted names were refused (EEXIST) and a third used");
  assertEquals(Deno.readTextFileSync(victim), "precious\n");
  assertEquals(Deno.readTextFileSync(`${dir.path}/run.json`), "{}\n");
  assertEquals(
    entries(dir.path),
    [names[0], names[1], "run.json", "victim"].sort(),
    "nothing created through the dangling link, no temporary file left",
  );
});

Deno.test("a symlink at the output's own path is replaced, not written through", async () => {
  await using dir = tmpDir();
  const victim = `${dir.path}/victim`;
  Deno.writeTextFileSync(victim, "precious\n");
  Deno.symlinkSync(victim, `${dir.path}/out.html`);
  await writeFileAtomic(`${dir.path}/out.html`, "<p>report</p>\n");
  assertEquals(Deno.readTextFileSync(victim), "precious\n");
  assert(Deno.lstatSync(`${dir.path}/out.html`).isFile);
  assertEquals(Deno.readTextFileSync(`${dir.path}/out.html`), "<p>report</p>\n");
});

Deno.test("writeNewFile never replaces an existing file", async () => {
  await using dir = tmpDir();
  Deno.writeTextFileSync(`${dir.path}/r.json`, "old\n");
  const path = writeNewFile(dir.path, (n) => (n === 1 ? "r.json" : `r-${n}.json`), "new\n");
  assertEquals(path, `${dir.path}/r-2.json`);
  assertEquals(Deno.readTextFileSync(`${dir.path}/r.json`), "old\n");
  assertEquals(entries(dir.path), ["r-2.json", "r.json"]);
});

Deno.test("a full file system: ENOSPC, the old file intact, no temporary file left", async () => {
  await using dir = tmpDir();
  const mnt = `${dir.path}/full`;
  Deno.mkdirSync(mnt);
  const mount = new Deno.Command("mount", { args: ["-t", "tmpfs", "-o", "size=64k", "none", mnt] })
    .outputSync();
  assert(mount.success, `mount tmpfs: ${new TextDecoder().decode(mount.stderr)}`);
  try {
    Deno.writeTextFileSync(`${mnt}/run.json`, "old\n");
    // Fill it: tmpfs refuses the write that passes its size.
    try {
      Deno.writeFileSync(`${mnt}/filler`, new Uint8Array(1 << 20));
    } catch {
      // expected: ENOSPC after 64 KiB less what run.json took
    }
    let err: unknown = null;
    try {
      await writeFileAtomic(`${mnt}/run.json`, "x".repeat(32 * 1024));
    } catch (e: unknown) {
      err = e;
    }
    assert(err !== null, "the write into a full tmpfs failed");
    assertEquals(writeErrorReason(err), "no space left on device (ENOSPC)");
    assertEquals(Deno.readTextFileSync(`${mnt}/run.json`), "old\n");
    assertEquals(entries(mnt), ["filler", "run.json"]);
    // Read-only: EROFS.
    const ro = new Deno.Command("mount", { args: ["-o", "remount,ro", mnt] }).outputSync();
    assert(ro.success);
    try {
      await writeFileAtomic(`${mnt}/run.json`, "y");
    } catch (e: unknown) {
      err = e;
    }
    assertEquals(writeErrorReason(err), "read-only file system (EROFS)");
  } finally {
    const u = new Deno.Command("umount", { args: [mnt] }).outputSync();
    assert(u.success, "tmpfs unmounted");
  }
});
