import { assert, assertEquals } from "../_helpers/assert.ts";
import { assertBytes, mappingsAt, tempFile } from "../_helpers/ffi.ts";
import {
  allocPages,
  copyMemory,
  MADV_SEQUENTIAL,
  MADV_WILLNEED,
  mapFile,
  offsetPointer,
  openFile,
} from "../../ffi/mod.ts";

Deno.test("a file mapping shows the file's bytes without a read", () => {
  using t = tempFile(10_000);
  using f = openFile(t.path);
  using m = mapFile(f.fd, 10_000);
  m.advise(MADV_SEQUENTIAL);
  m.advise(MADV_WILLNEED, { offset: 4096, length: 4096 });
  assertBytes(m.bytes(), t.data, "mapping");
  const line = mappingsAt(m.address)[0] ?? "";
  assert(line.includes(t.path), `/proc/self/maps names the file: ${line}`);
  assert(/ r--s /.test(line), `read-only shared: ${line}`);
});

Deno.test("allocPages gives zeroed page-aligned memory, and memcpy copies into it", () => {
  using t = tempFile(20_000);
  using f = openFile(t.path);
  using m = mapFile(f.fd, 20_000);
  using buf = allocPages(16_384);
  assertEquals(buf.address % 4096, 0);
  assert(buf.bytes().every((b) => b === 0), "zeroed");
  copyMemory(buf.pointer, offsetPointer(m.pointer, 3000), 16_384);
  assertBytes(buf.bytes(), t.data.subarray(3000, 3000 + 16_384), "memcpy");
});

Deno.test("a mapping is gone from /proc/self/maps after close, and close is idempotent", () => {
  const m = allocPages(3 * 4096);
  const at = m.address;
  assertEquals(mappingsAt(at).length, 1);
  m.close();
  m.close();
  assert(m.closed);
  assertEquals(mappingsAt(at).length, 0, "unmapped");
  let threw = false;
  try {
    m.bytes();
  } catch {
    threw = true;
  }
  assert(threw, "a closed mapping refuses to give out a view");
});

Deno.test("a writable shared file mapping writes through to the file", () => {
  using t = tempFile(4096);
  using f = openFile(t.path, { flags: 2 });
  {
    using m = mapFile(f.fd, 4096, { writable: true });
    m.bytes().fill(7, 0, 10);
  }
  const got = Deno.readFileSync(t.path);
  assertBytes(got.subarray(0, 10), new Uint8Array(10).fill(7), "written through");
  assertBytes(got.subarray(10), t.data.subarray(10), "rest untouched");
});
