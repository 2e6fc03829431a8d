/**
 * Page-cache misses per file: the pages the traced processes added to the
 * page cache (`filemap:mm_filemap_add_to_page_cache`), by the file's device
 * and inode. A page is added when a read, a fault or readahead finds it
 * missing (readahead adds pages for reads not yet made), and when a write
 * reaches a page the cache did not hold. tmpfs and shmem files are never
 * added this way (their pages are the cache): reading or writing them counts
 * nothing.
 *
 * A classic tracepoint, not a raw one: its record carries the device
 * (`s_dev`, the inode's superblock; the block device itself for a block
 * device's own cache), the inode number and the folio's order (a large
 * folio is 2^order pages; ext4 adds them from 6.16), which a raw tracepoint
 * would have to read out of `struct folio`, whose flags moved between
 * kernels. The tracepoint fires only when a page is added, in the task that
 * adds it (a read's readahead runs in the reader), so a classic record costs
 * little. A record without `order` (before the kernel had large folios
 * in the page cache) is one page.
 * @module
 */

import {
  atomicAdd,
  BPF_F_NO_PREALLOC,
  BPF_NOEXIST,
  exit,
  ja,
  jeq,
  jne,
  label,
  ldx,
  lsh,
  MapType,
  mov,
  R0,
  R1,
  R10,
  R7,
  roles,
  st,
  stackFrame,
  stx,
} from "../../ffi/bpf/mod.ts";
import { CTX, type FieldPlace, ifOpen, ifTraced, KEY_SLOTS, lookup, update } from "./_emit.ts";
import { defineModule } from "./module.ts";
import type { PageCacheRead } from "../snapshot.ts";
import { PAGE_CACHE_MAX_FILES } from "../../schema/mod.ts";

/** The classic tracepoint the module attaches to. */
export const PAGE_CACHE_EVENT = "filemap:mm_filemap_add_to_page_cache";

/** The stack: the fragments' keys, then ours: the file's key and the first count. */
export const PAGE_CACHE_SLOTS = stackFrame({ key: 16, pages: 8 }, { below: KEY_SLOTS });

function place(b: { field(e: string, f: string): FieldPlace }, name: string, size: number) {
  const f = b.field(PAGE_CACHE_EVENT, name);
  if (f.size !== size) {
    throw new Error(`The tracepoint ${PAGE_CACHE_EVENT}'s ${name} is ${f.size} bytes, not ${size}`);
  }
  return f;
}

/**
 * Pages the traced processes added to the page cache, by (device, inode),
 * while the gate is open.
 */
export const pageCache = defineModule({
  name: "page_cache",
  maps: {
    // key: s_dev (u32), 0 (u32), i_ino (u64) -> pages (u64)
    pages: {
      name: "ios_pagecache",
      type: MapType.HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: 16,
      valueSize: 8,
      maxEntries: PAGE_CACHE_MAX_FILES,
    },
    // key: 0 (u32) -> pages of files the hash had no room for (u64)
    lost: {
      name: "ios_pagecache_x",
      type: MapType.ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: 1,
    },
  },
  programs: (b, fds) => {
    const dev = place(b, "s_dev", 4);
    const ino = place(b, "i_ino", 8);
    let order: FieldPlace | null = null;
    try {
      order = place(b, "order", 1);
    } catch {
      order = null; // an older record: one page per event
    }
    const r = roles({ ctx: CTX, pages: R7 });
    const key = PAGE_CACHE_SLOTS.key;
    return [{
      name: "ios_pagecache",
      kind: "tp",
      at: { tracepoint: PAGE_CACHE_EVENT },
      insns: [
        mov.reg(r.ctx, R1),
        ...ifOpen(b, "out"),
        ...ifTraced(b, "out"),
        ldx.w(R1, r.ctx, dev.offset),
        stx.w(R10, key, R1),
        st.w(R10, key + 4, 0),
        ldx.dw(R1, r.ctx, ino.offset),
        stx.dw(R10, key + 8, R1),
        mov.imm(r.pages, 1),
        ...(order ? [ldx.b(R1, r.ctx, order.offset), lsh.reg(r.pages, R1)] : []), // 2^order
        ...lookup(fds.pages, key),
        jeq.imm(R0, 0, "first"),
        atomicAdd.dw(R0, 0, r.pages),
        ja("out"),
        label("first"),
        stx.dw(R10, PAGE_CACHE_SLOTS.pages, r.pages),
        ...update(fds.pages, key, PAGE_CACHE_SLOTS.pages, BPF_NOEXIST),
        jeq.imm(R0, 0, "out"),
        // Another CPU inserted it first: add to its entry.
        ...lookup(fds.pages, key),
        jne.imm(R0, 0, "add"),
        // No room for the file: its pages are counted, as lost.
        st.w(R10, key, 0),
        ...lookup(fds.lost, key),
        jeq.imm(R0, 0, "out"),
        label("add"),
        atomicAdd.dw(R0, 0, r.pages),
        label("out"),
        mov.imm(R0, 0),
        exit(),
      ],
    }];
  },
  read: (maps): PageCacheRead => {
    const files = maps.pages.readAll().entries.map((e) => {
      const k = new DataView(e.key.buffer, e.key.byteOffset, 16);
      const v = new DataView(e.value.buffer, e.value.byteOffset, 8);
      return {
        dev: k.getUint32(0, true),
        ino: Number(k.getBigUint64(8, true)),
        pages: Number(v.getBigUint64(0, true)),
      };
    });
    const lost = maps.lost.lookup(new Uint8Array(4));
    const lostPages = lost
      ? Number(new DataView(lost.buffer, lost.byteOffset, 8).getBigUint64(0, true))
      : 0;
    return { files, lostPages };
  },
});
