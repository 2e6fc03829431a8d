// `trace --json` and `--out` at a device never replace it (on main before the
// fix, a regular file was renamed over the mock /dev/null): a character
// device (a mock `mknod c 1 3` in a test directory, never the real
// /dev/null) and a symlink to one are written through; a block device is
// refused before the trace starts (exit 2, one line), and so is a FIFO that
// another user planted.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { killOnDispose, runCli, tmpDir } from "../_helpers/common.ts";

function mknod(path: string, ...args: string[]): void {
  const r = new Deno.Command("mknod", { args: [path, ...args] }).outputSync();
  assert(r.success, new TextDecoder().decode(r.stderr));
}

Deno.test("trace --json to a device, or a symlink to one, writes through and replaces nothing", async () => {
  await using dir = tmpDir();
  await using target = killOnDispose(new Deno.Command("sleep", { args: ["30"] }).spawn());
  const dev = `${dir.path}/null`;
  mknod(dev, "c", "1", "3");
  Deno.symlinkSync(dev, `${dir.path}/stdout`);
  const r = await runCli([
    "trace",
    "--pid",
    String(target.pid),
    "--duration",
    "300ms",
    "--json",
    dev,
    "--out",
    `${dir.path}/stdout`,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stderr.includes(`Wrote ${dev}`), r.stderr);
  const st = Deno.lstatSync(dev);
  assert(st.isCharDevice && st.rdev === ((1 << 8) | 3), "the device is still 1:3");
  assert(Deno.lstatSync(`${dir.path}/stdout`).isSymlink, "the symlink is still a symlink");
  assertEquals([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), ["null", "stdout"]);
});

Deno.test("trace --json to a block device, or another user's FIFO, is refused at the start", async () => {
  await using dir = tmpDir();
  mknod(`${dir.path}/disk`, "b", "7", "0");
  mknod(`${dir.path}/fifo`, "p");
  Deno.chownSync(`${dir.path}/fifo`, 65534, 65534);
  for (
    const [name, why] of [
      ["disk", "it is a block device, and ioscope replaces only regular files"],
      ["fifo", "it is a FIFO that uid 65534 owns: write to a file of your own"],
    ]
  ) {
    const path = `${dir.path}/${name}`;
    const r = await runCli(["trace", "--pid", "1", "--duration", "1s", "--json", path]);
    assertEquals(r.code, 2, r.stderr);
    assertEquals(r.stderr, `ioscope trace: cannot write --json ${path}: ${why}\n`);
  }
  assert(Deno.lstatSync(`${dir.path}/disk`).isBlockDevice);
  assert(Deno.lstatSync(`${dir.path}/fifo`).isFifo);
});
