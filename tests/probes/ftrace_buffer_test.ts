// Ring-buffer page decoding: synthetic pages for each record type, and the
// real pages recorded from the kernel.
import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  RB_TYPE_PADDING,
  RB_TYPE_TIME_EXTEND,
  RB_TYPE_TIME_STAMP,
  readPage,
} from "../../probes/ftrace_buffer.ts";
import { fixturePages, loadFixture } from "../_helpers/ftrace_fixture.ts";

/** Builds a page: a timestamp, then 32-bit words; sets the commit to their length. */
function page(ts: bigint, words: number[], flags = 0, trailer?: number): DataView {
  const v = new DataView(new ArrayBuffer(4096));
  v.setBigUint64(0, ts, true);
  v.setUint32(8, (words.length * 4) | flags, true);
  words.forEach((w, i) => v.setUint32(16 + i * 4, w >>> 0, true));
  if (trailer !== undefined) v.setUint32(16 + words.length * 4, trailer, true);
  return v;
}
const hdr = (typeLen: number, delta: number) => (typeLen | (delta << 5)) >>> 0;

function collect(v: DataView, base = 0n) {
  const out: [number, number, number][] = [];
  const info = readPage(v, base, (ts, at, len) => out.push([ts, len, v.getUint32(at, true)]));
  return { out, info };
}

Deno.test("small records: length from type_len, time from the deltas", () => {
  const { out, info } = collect(page(1_000n, [hdr(1, 10), 111, hdr(2, 5), 222, 0]));
  assertEquals(out, [[1010, 4, 111], [1015, 8, 222]]);
  assertEquals(info.records, 2);
  assertEquals(info.missed, 0);
});

Deno.test("a large record carries its length in the first word", () => {
  // type_len 0: array[0] = payload + 4.
  const words = [hdr(0, 7), 4 + 120, 333, ...new Array(29).fill(0)];
  const { out } = collect(page(0n, words));
  assertEquals(out, [[7, 120, 333]]);
});

Deno.test("time extend adds the high bits; an absolute stamp resets the time", () => {
  const words = [
    hdr(RB_TYPE_TIME_EXTEND, 3),
    2, // 2 << 27
    hdr(1, 0),
    1,
    hdr(RB_TYPE_TIME_STAMP, 100),
    1,
    hdr(1, 4),
    2,
  ];
  const { out } = collect(page(500n, words));
  assertEquals(out[0], [500 + 3 + 2 * 2 ** 27, 4, 1]);
  assertEquals(out[1], [2 ** 27 + 100 + 4, 4, 2]);
});

Deno.test("a discarded event is skipped with its time; zero-delta padding ends the page", () => {
  // Padding: 4 + array[0] bytes in all (array[0] counts itself).
  const words = [
    hdr(RB_TYPE_PADDING, 9),
    8,
    0,
    hdr(1, 1),
    5,
    hdr(RB_TYPE_PADDING, 0),
    0,
    hdr(1, 1),
    6,
  ];
  const { out } = collect(page(0n, words));
  assertEquals(out, [[10, 4, 5]]);
});

Deno.test("events lost before a page: the stored count, or -1 when not stored", () => {
  const stored = collect(page(0n, [hdr(1, 1), 1], 2 ** 31 + 2 ** 30, 37));
  assertEquals(stored.info.missed, 37);
  const unknown = collect(page(0n, [hdr(1, 1), 1], 2 ** 31));
  assertEquals(unknown.info.missed, -1);
});

Deno.test("a record running past the commit is not reported", () => {
  const v = page(0n, [hdr(3, 1), 1]); // claims 12 bytes, 4 present
  assertEquals(collect(v).out, []);
});

Deno.test("the kernel's pages decode into records of known event ids, in time order per CPU", () => {
  const fixture = loadFixture("ftrace_known_io.json");
  const ids = new Set(
    Object.values(fixture.formats).map((t) => Number(/^ID:\s*(\d+)/m.exec(t)?.[1])),
  );
  let records = 0;
  const last = new Map<string, number>();
  for (const { role, cpu, view } of fixturePages(fixture)) {
    const info = readPage(view, 0n, (ts, at) => {
      records++;
      assert(ids.has(view.getUint16(at, true)), `unknown event id ${view.getUint16(at, true)}`);
      const key = `${role}/${cpu}`;
      assert(ts >= (last.get(key) ?? 0), `time goes back on ${key}`);
      last.set(key, ts);
    });
    assertEquals(info.missed, 0);
  }
  assert(records > 600, `${records} records`);
});
