// bpf_attr layouts as tables (sys.ts): a table that overlaps, runs past its
// size or misplaces a field is refused when declared; MAP_CREATE's bytes
// against the offsets of include/uapi/linux/bpf.h, written out by hand.
import { assertEquals } from "../../_helpers/assert.ts";
import { assertRangeError } from "./_helpers.ts";
import {
  attrLayout,
  MAP_CREATE_ATTR,
  mapCreateAttr,
  PROG_LOAD_ATTR,
} from "../../../ffi/bpf/sys.ts";

Deno.test("attr layouts: overlapping, misaligned and oversized fields are refused", () => {
  assertRangeError(() => attrLayout(16, { a: [0, 8], b: [4, 4] }), /b at 4 overlaps a/);
  assertRangeError(() => attrLayout(16, { a: [4, 8] }), /misaligned/);
  assertRangeError(() => attrLayout(8, { a: [8, 4] }), /past the 8 bytes/);
  assertEquals(attrLayout(32, { name: [12, 16] }).fields.name, [12, 16], "names: any offset");
  assertEquals(PROG_LOAD_ATTR.fields.attach_btf_obj_fd, [112, 4]);
});

Deno.test("attr layouts: MAP_CREATE's bytes at the uapi offsets", () => {
  const b = mapCreateAttr({
    type: 0x11,
    keySize: 0x22,
    valueSize: 0x33,
    maxEntries: 0x44,
    flags: 0x55,
    name: "ab",
    btf: { fd: 0x66, keyTypeId: 0x77, valueTypeId: 0x88 },
  });
  assertEquals(b.byteLength, MAP_CREATE_ATTR.size);
  const want = new Uint8Array(80);
  // map_type 0, key_size 4, value_size 8, max_entries 12, map_flags 16, map_name 28,
  // btf_fd 48, btf_key_type_id 52, btf_value_type_id 56
  for (
    const [off, v] of [[0, 0x11], [4, 0x22], [8, 0x33], [12, 0x44], [16, 0x55], [48, 0x66], [
      52,
      0x77,
    ], [56, 0x88]]
  ) {
    want[off!] = v!;
  }
  want[28] = 0x61;
  want[29] = 0x62;
  assertEquals([...b], [...want]);
});
