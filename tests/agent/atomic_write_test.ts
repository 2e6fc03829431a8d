import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  outputKind,
  TEMP_PREFIX,
  writeErrorReason,
  writeFileAtomic,
  writeNewFile,
} from "../../agent/atomic_write.ts";
import { tmpDir } from "../_helpers/common.ts";
import { libc, O_NONBLOCK, O_RDONLY, openFile } from "../../ffi/mod.ts";

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

/** mknod(1) in a test directory: a mock of a real device, never the device itself. */
function mknod(path: string, type: "c" | "b" | "p", ...numbers: string[]): void {
  const r = new Deno.Command("mknod", { args: [path, type, ...numbers] }).outputSync();
  assert(r.success, `mknod ${path}: ${new TextDecoder().decode(r.stderr)}`);
}

async function refusal(path: string, data = "{}\n"): Promise<string> {
  try {
    await writeFileAtomic(path, data);
  } catch (e: unknown) {
    return writeErrorReason(e);
  }
  return "written";
}

Deno.test("a character device, or a symlink to one, is written through and never replaced", async () => {
  await using dir = tmpDir();
  const dev = `${dir.path}/null`;
  mknod(dev, "c", "1", "3"); // what /dev/null is
  Deno.symlinkSync(dev, `${dir.path}/stdout`);
  for (const path of [dev, `${dir.path}/stdout`]) {
    assertEquals(outputKind(path), "through");
    assertEquals(await refusal(path, "x".repeat(100_000)), "written", path);
  }
  const st = Deno.statSync(dev);
  assert(st.isCharDevice, "still a character device");
  assertEquals(st.rdev, (1 << 8) | 3, "still 1:3");
  assert(Deno.lstatSync(`${dir.path}/stdout`).isSymlink, "the symlink is kept");
  assertEquals(entries(dir.path), ["null", "stdout"], "no temporary file");
});

Deno.test("a FIFO of one's own is written through; one nobody reads, or another user's, is refused", async () => {
  await using dir = tmpDir();
  const fifo = `${dir.path}/fifo`;
  mknod(fifo, "p");
  {
    // The reader: this process, opened without waiting for a writer.
    using reader = openFile(fifo, { flags: O_RDONLY | O_NONBLOCK });
    await writeFileAtomic(fifo, "through the pipe\n");
    const buf = new Uint8Array(100);
    const n = Number(libc().read(reader.fd, Deno.UnsafePointer.of(buf), BigInt(buf.length)));
    assertEquals(new TextDecoder().decode(buf.subarray(0, n)), "through the pipe\n");
  }
  assertEquals(await refusal(fifo), "a FIFO that nobody reads (ENXIO)");
  Deno.chownSync(fifo, 65534, 65534);
  assertEquals(
    await refusal(fifo),
    "it is a FIFO that uid 65534 owns: write to a file of your own",
  );
  assert(Deno.lstatSync(fifo).isFifo, "still a FIFO");
  assertEquals(entries(dir.path), ["fifo"]);
});

Deno.test("a block device, a symlink to a directory, and new files under /dev, /proc, /sys are refused", async () => {
  await using dir = tmpDir();
  mknod(`${dir.path}/disk`, "b", "7", "0");
  Deno.symlinkSync("/", `${dir.path}/root`);
  Deno.symlinkSync("/dev", `${dir.path}/devlink`);
  assertEquals(
    await refusal(`${dir.path}/disk`),
    "it is a block device, and ioscope replaces only regular files",
  );
  assertEquals(await refusal(`${dir.path}/root`), "it is a directory; give a file path");
  for (const path of [`${dir.path}/devlink/ioscope-x.json`, "/proc/ioscope-x.json", "/sys/x"]) {
    const where = path.includes("devlink") ? "/dev" : path.startsWith("/proc") ? "/proc" : "/sys";
    assertEquals(await refusal(path), `ioscope creates and replaces no file under ${where}`, path);
  }
  assert(Deno.lstatSync(`${dir.path}/disk`).isBlockDevice);
  assertEquals(entries(dir.path), ["devlink", "disk", "root"]);
  // /dev/shm is everyone's tmpfs, not a device tree.
  assertEquals(outputKind("/dev/shm/ioscope-x.json"), "replace");
});
