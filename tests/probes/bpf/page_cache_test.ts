// The page-cache module's program (probes/bpf/_page_cache.ts), printed and
// read without a kernel: it reads the record's fields where the tracepoint's
// format puts them (recorded from this host's
// /sys/kernel/tracing/events/filemap/mm_filemap_add_to_page_cache/format,
// kernel 6.18) and counts 2^order pages per event; the kernel check is
// tests/e2e/page_cache_test.ts.
import { assert, assertEquals } from "../../_helpers/assert.ts";
import { clobberedReads } from "../../../ffi/bpf/asm.ts";
import { formatProgram } from "../../../ffi/bpf/print.ts";
import { PAGE_CACHE_EVENT, PAGE_CACHE_SLOTS, pageCache } from "../../../probes/bpf/_page_cache.ts";
import { BPF_MODULES } from "../../../probes/bpf/modules.ts";
import type { FieldPlace } from "../../../probes/bpf/_emit.ts";
import { fakeMapFds } from "./_streams.ts";

/** The 6.18 record: pfn 8, i_ino 16, index 24, s_dev 32 (4 bytes), order 36 (1 byte). */
const FORMAT_6_18: Record<string, FieldPlace> = {
  pfn: { offset: 8, size: 8, signed: false },
  i_ino: { offset: 16, size: 8, signed: false },
  index: { offset: 24, size: 8, signed: false },
  s_dev: { offset: 32, size: 4, signed: false },
  order: { offset: 36, size: 1, signed: false },
};

function build(fields: Record<string, FieldPlace>) {
  const b = {
    kind: "raw_tp" as const,
    field: (event: string, name: string) => {
      assertEquals(event, PAGE_CACHE_EVENT);
      const f = fields[name];
      if (!f) throw new Error(`no field ${name}`);
      return f;
    },
    maps: fakeMapFds(true),
    filter: {},
  };
  const [p, ...more] = pageCache.programs(b, { pages: 30, lost: 31 });
  assert(p && more.length === 0, "one program");
  return p;
}

Deno.test("page cache: registered, a classic tracepoint program whose record fields come from the format", () => {
  assert(BPF_MODULES.includes(pageCache), "runs in every bpf trace");
  const p = build(FORMAT_6_18);
  assertEquals(p.kind, "tp");
  assertEquals(p.at, { tracepoint: "filemap:mm_filemap_add_to_page_cache" });
  assertEquals(clobberedReads(p.insns), []);
  const text = formatProgram(p.insns, {
    maps: { 10: "gate", 11: "targets", 30: "pages", 31: "lost" },
    frame: PAGE_CACHE_SLOTS,
  });
  for (
    const want of [
      "r1 = *(u32 *)(r6 +32)", // s_dev
      "r1 = *(u64 *)(r6 +16)", // i_ino
      "r1 = *(u8 *)(r6 +36)", // order
      "r7 <<= r1", // 2^order pages
      "lock *(u64 *)(r0 +0) += r7",
    ]
  ) assert(text.includes(want), `${want} in\n${text}`);
});

Deno.test("page cache: a record without order counts one page per event; a field of another size is refused", () => {
  const { order: _, ...old } = FORMAT_6_18;
  const text = formatProgram(build(old).insns);
  assert(!text.includes("<<= r1") && text.includes("r7 = 1"), text);
  let refused = "";
  try {
    build({ ...FORMAT_6_18, s_dev: { offset: 32, size: 8, signed: false } });
  } catch (e: unknown) {
    refused = String(e);
  }
  assert(refused.includes("s_dev is 8 bytes, not 4"), refused);
});
