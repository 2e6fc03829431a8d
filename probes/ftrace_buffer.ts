/**
 * A reader for the kernel's ring-buffer sub-buffers, the binary pages that
 * `per_cpu/cpuN/trace_pipe_raw` returns. Each page starts with a 64-bit
 * timestamp and a `commit` word (data length, plus flags for events lost
 * before the page); then come records, each a 32-bit header (5 bits of type
 * or length, 27 bits of time delta from the previous record) and its data.
 * Pure: bytes in, records out. Little-endian hosts (x86_64, arm64) only.
 * @module
 */

import type { HeaderPage } from "./ftrace_format.ts";

/** Record type: padding, or a discarded event when its time delta is not 0. */
export const RB_TYPE_PADDING = 29;
/** Record type: a time delta too large for 27 bits (the high bits follow). */
export const RB_TYPE_TIME_EXTEND = 30;
/** Record type: an absolute timestamp. */
export const RB_TYPE_TIME_STAMP = 31;
/** Largest type/length value that still means "data of type_len * 4 bytes". */
export const RB_TYPE_DATA_MAX = 28;

const COMMIT_MASK = (1 << 27) - 1;
const MISSED_EVENTS = 2 ** 31;
const MISSED_STORED = 2 ** 30;
const TS_SHIFT = 2 ** 27;
/** The high 5 bits of a timestamp, which absolute-timestamp records leave out. */
const TS_MSB = 0xf8n << 56n;

/** The layout of a 64-bit kernel's pages, as `events/header_page` gives it. */
export const HEADER_PAGE_64: HeaderPage = {
  timestampOffset: 0,
  commitOffset: 8,
  commitSize: 8,
  dataOffset: 16,
};

/** What a page said about itself. */
export interface PageInfo {
  /** The page's start timestamp, in the trace clock's nanoseconds. */
  timestamp: bigint;
  /** Bytes of record data. */
  size: number;
  /** Events lost just before this page: 0 none, -1 some (count not stored). */
  missed: number;
  /** Records of data (not padding or time records) on the page. */
  records: number;
}

/**
 * Called for each data record: its timestamp relative to `baseTs`
 * (nanoseconds), and where its payload lies in the page.
 */
export type RecordVisitor = (ts: number, offset: number, length: number) => void;

/**
 * Walks the records of one sub-buffer.
 * @param view the page, as read from trace_pipe_raw (at least `size` bytes)
 * @param baseTs the timestamp that reported times are relative to
 * @param visit called with each data record in order
 * @param header the page layout
 * @returns what the page header said
 * @example
 * ```ts
 * import { readPage } from "./ftrace_buffer.ts";
 * const page = new DataView(new ArrayBuffer(64));
 * page.setBigUint64(0, 1000n, true); // page timestamp
 * page.setUint32(8, 8, true); // 8 bytes of data: one record
 * page.setUint32(16, 1 | (5 << 5), true); // type_len 1 (4 bytes), delta 5 ns
 * page.setUint32(20, 42, true);
 * const seen: number[] = [];
 * readPage(page, 0n, (ts, off) => seen.push(ts, page.getUint32(off, true)));
 * console.assert(seen[0] === 1005 && seen[1] === 42);
 * ```
 */
export function readPage(
  view: DataView,
  baseTs: bigint,
  visit: RecordVisitor,
  header: HeaderPage = HEADER_PAGE_64,
): PageInfo {
  const pageTs = view.getBigUint64(header.timestampOffset, true);
  // The flags sit in the low 32 bits of the commit word on 32- and 64-bit kernels.
  const commit = view.getUint32(header.commitOffset, true);
  const size = commit & COMMIT_MASK;
  const start = header.dataOffset;
  const end = Math.min(start + size, view.byteLength);
  let missed = 0;
  if (commit >= MISSED_EVENTS) {
    missed = -1;
    if ((commit & MISSED_STORED) !== 0 && end + header.commitSize <= view.byteLength) {
      missed = header.commitSize === 8
        ? view.getUint32(end, true) + view.getUint32(end + 4, true) * 2 ** 32
        : view.getUint32(end, true);
    }
  }
  let ts = Number(pageTs - baseTs);
  let pos = start;
  let records = 0;
  while (pos + 4 <= end) {
    const word = view.getUint32(pos, true);
    const typeLen = word & 31;
    const delta = word >>> 5;
    if (typeLen === RB_TYPE_PADDING) {
      // Delta 0: the rest of the page is padding. Else a discarded event.
      if (delta === 0 || pos + 8 > end) break;
      ts += delta;
      pos += 4 + view.getUint32(pos + 4, true);
    } else if (typeLen === RB_TYPE_TIME_EXTEND) {
      if (pos + 8 > end) break;
      ts += view.getUint32(pos + 4, true) * TS_SHIFT + delta;
      pos += 8;
    } else if (typeLen === RB_TYPE_TIME_STAMP) {
      if (pos + 8 > end) break;
      const abs = (BigInt(view.getUint32(pos + 4, true)) << 27n) | BigInt(delta);
      ts = Number(((pageTs & TS_MSB) | abs) - baseTs);
      pos += 8;
    } else if (typeLen === 0) {
      if (pos + 8 > end) break;
      const length = view.getUint32(pos + 4, true) - 4;
      if (length < 0 || pos + 8 + length > end) break;
      ts += delta;
      visit(ts, pos + 8, length);
      records++;
      pos += 8 + ((length + 3) & ~3);
    } else {
      const length = typeLen * 4;
      if (pos + 4 + length > end) break;
      ts += delta;
      visit(ts, pos + 4, length);
      records++;
      pos += 4 + length;
    }
  }
  return { timestamp: pageTs, size, missed, records };
}
