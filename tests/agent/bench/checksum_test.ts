import { assert, assertEquals } from "../../_helpers/assert.ts";
import {
  BlockDigest,
  blockFingerprint,
  fileDigest,
  writeRandomFile,
} from "../../../agent/bench/_checksum.ts";
import { tmpDir } from "../../_helpers/common.ts";

Deno.test("a block-list digest is the same whatever order the blocks arrive in", () => {
  const data = new Uint8Array(10_000);
  crypto.getRandomValues(data);
  const a = new BlockDigest(4096);
  a.addAll(data);
  const b = new BlockDigest(4096);
  b.add(2, data.subarray(8192));
  b.add(0, data.subarray(0, 4096));
  b.add(1, data.subarray(4096, 8192));
  assertEquals(b.hex(), a.hex());
  assertEquals(b.bytes, 10_000);
  const c = new BlockDigest(4096);
  c.addAll(data.subarray(0, 8192));
  c.addAll(data.subarray(8192), 2);
  assertEquals(c.hex(), a.hex(), "added in pieces at block boundaries");
});

Deno.test("a block-list digest catches a changed byte, a missing block and a block added twice", () => {
  const data = new Uint8Array(8192);
  crypto.getRandomValues(data);
  const good = new BlockDigest(4096);
  good.addAll(data);
  const changed = data.slice();
  changed[5000] = changed[5000]! ^ 1;
  const bad = new BlockDigest(4096);
  bad.addAll(changed);
  assert(bad.hex() !== good.hex(), "one flipped bit changes the digest");
  const missing = new BlockDigest(4096);
  missing.add(1, data.subarray(4096));
  let err: unknown = null;
  try {
    missing.hex();
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof Error && /Block 0 is missing/.test(err.message), String(err));
  err = null;
  try {
    missing.add(1, data.subarray(4096));
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof Error && /twice/.test(err.message), String(err));
});

Deno.test("a block's fingerprint depends on its index, its ends and its length", () => {
  const d = new Uint8Array(100).fill(3);
  const base = blockFingerprint(0, d);
  assert(blockFingerprint(1, d) !== base, "index");
  assert(blockFingerprint(0, d.subarray(0, 99)) !== base, "length");
  const e = d.slice();
  e[99] = 4;
  assert(blockFingerprint(0, e) !== base, "last byte");
  assertEquals(blockFingerprint(0, new Uint8Array()), 0);
});

Deno.test("a written random file has the digest its writer reported", async () => {
  await using dir = tmpDir();
  const path = `${dir.path}/f`;
  const written = await writeRandomFile(path, 300_001, 65536);
  const read = await fileDigest(path, 65536);
  assertEquals(read, { digest: written, bytes: 300_001 });
  assertEquals((await Deno.stat(path)).size, 300_001);
});
