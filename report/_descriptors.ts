/**
 * The report's per-descriptor section: the files, sockets and pipes the
 * target's I/O went to, by time and bytes (the Run's `fds`). Pure.
 * @module
 */

import { formatBytes, formatCount, formatNs, type RunDocument } from "../schema/mod.ts";
import { type Html, markup } from "./html.ts";
import { type Cell, type Column, table } from "./_page_blocks.ts";

/**
 * The "Descriptors" section, or nothing when the document has no `fds`.
 * @param doc the Run document
 * @returns its markup (link targets are the traced process's: escaped)
 */
export function descriptorsSection(doc: RunDocument): Html | false {
  const fds = Array.isArray(doc.fds) ? doc.fds : [];
  if (fds.length === 0) return false;
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
${table(columns, rows, { sortedBy: 7, id: "fd-table" })}</section>`;
}
