/**
 * The report's per-descriptor section: the files, sockets and pipes the
 * target's I/O went to, by time and bytes (the Run's `fds`). Pure.
 * @module
 */

import {
  formatBytes,
  formatCount,
  formatNs,
  formatPercent,
  PAGE_CACHE_MAX_FILES,
  type RunDocument,
} from "../schema/mod.ts";
import { type Html, markup } from "./html.ts";
import { type Cell, type Column, table } from "./_page_blocks.ts";

/**
 * The page-cache misses per file beside the descriptors (the Run's
 * `page_cache`), or nothing when none were counted.
 * @param doc the Run document
 * @returns its markup (paths are the traced process's: escaped)
 */
export function pageCacheBlock(doc: RunDocument): Html | false {
  const pc = doc.page_cache;
  if (!pc || !Array.isArray(pc.files) || pc.files.length === 0) return false;
  const columns: Column[] = [
    {
      label: "file",
      type: "text",
      title: "the path a traced descriptor named; else its device and inode",
    },
    {
      label: "pages added",
      title: "misses: pages a read, a fault or readahead added, and a write's new pages",
    },
    { label: "bytes added" },
    { label: "read", title: "bytes read through its descriptors" },
    {
      label: "hit ratio",
      title:
        "1 - bytes added / bytes read; readahead adds pages before they are read; none where the file was written",
    },
  ];
  const rows: Cell[][] = pc.files.map((f) => [
    { text: f.target || `dev ${f.dev} inode ${f.ino}` },
    { text: formatCount(f.pages_added), v: f.pages_added },
    { text: formatBytes(f.bytes_added), v: f.bytes_added },
    { text: f.read_bytes === null ? "n/a" : formatBytes(f.read_bytes), v: f.read_bytes ?? -1 },
    {
      text: f.hit_ratio === null ? "n/a" : formatPercent(f.hit_ratio),
      v: f.hit_ratio ?? -1,
    },
  ]);
  const more = pc.other_files > 0
    ? ` and ${formatCount(pc.other_files)} more files (${formatCount(pc.other_pages)} pages)`
    : "";
  const lost = pc.lost_pages
    ? `, ${
      formatCount(pc.lost_pages)
    } of them in files past the ${PAGE_CACHE_MAX_FILES} counted by name`
    : "";
  return markup`<h3 id="page-cache">Page-cache misses per file</h3>
<p class="sub">Pages the traced processes added to the page cache: ${
    formatCount(pc.pages_added)
  } pages of ${
    formatBytes(pc.page_size)
  }${more}${lost}. Readahead adds pages for reads not made yet, so a
file read in part shows fewer hits than it had.</p>
${table(columns, rows, { sortedBy: 1, id: "page-cache-table" })}`;
}

/**
 * The "Descriptors" section, with the page-cache misses per file, or nothing
 * when the document has neither.
 * @param doc the Run document
 * @returns its markup (link targets are the traced process's: escaped)
 */
export function descriptorsSection(doc: RunDocument): Html | false {
  const fds = Array.isArray(doc.fds) ? doc.fds : [];
  const cache = pageCacheBlock(doc);
  if (fds.length === 0) {
    return cache && markup`<section id="descriptors"><h2>Descriptors</h2>${cache}</section>`;
  }
  const columns: Column[] = [
    { label: "pid", type: "text" },
    { label: "fd", type: "text" },
    { label: "kind", type: "text" },
    { label: "what", type: "text", title: "the /proc/PID/fd link, read while tracing" },
    { label: "calls" },
    { label: "errors" },
    { label: "bytes" },
    { label: "total time", title: "sum of every call's latency on it" },
    { label: "syscalls", type: "text" },
  ];
  const rows: Cell[][] = fds.map((f) => [
    { text: String(f.pid) },
    { text: String(f.fd) },
    { text: f.kind },
    { text: f.target || "(closed before it was read)" },
    { text: formatCount(f.count), v: f.count },
    { text: formatCount(f.errors), v: f.errors },
    { text: formatBytes(f.bytes), v: f.bytes },
    { text: formatNs(f.total_ns), v: f.total_ns },
    {
      text: Object.entries(f.calls ?? {}).map(([n, c]) => `${n} ${formatCount(c)}`).join(", "),
    },
  ]);
  return markup`<section id="descriptors"><h2>Descriptors</h2>
<p class="sub">The files, sockets and pipes the I/O went to: the top ten by time and by bytes.</p>
${table(columns, rows, { sortedBy: 7, id: "fd-table" })}${cache || ""}</section>`;
}
