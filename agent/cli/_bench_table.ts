/**
 * The terminal view of a bench: one line per path, at most 80 columns.
 * @module
 */

import { type BenchDocument, sizeText } from "../../schema/mod.ts";
import { formatCount, formatNs } from "./_terminal_format.ts";

const COLUMNS: [string, number][] = [
  ["path", -15],
  ["MiB/s", 7],
  ["op", -10],
  ["P50", 7],
  ["P99", 7],
  ["syscalls", 8],
  ["faults", 6],
  ["CPU s/GiB", 9],
  ["sum", 3],
];

function row(cells: string[]): string {
  return cells.map((c, i) => {
    const w = COLUMNS[i]?.[1] ?? 0;
    const text = c.length > Math.abs(w) ? c.slice(0, Math.abs(w)) : c;
    return w < 0 ? text.padEnd(-w) : text.padStart(w);
  }).join(" ").trimEnd();
}

/**
 * The bench as a table: throughput, the op's P50/P99, syscalls, faults, CPU
 * seconds per GiB, and whether the checksum matched; then fio's figures when
 * they were taken, and the paths that could not run.
 * @param doc the Bench document
 * @returns lines of at most 80 characters
 * @example
 * ```ts
 * import { benchTable } from "./_bench_table.ts";
 * const text = benchTable({ schema: "ioscope.bench/1", scenario: "scan", file_size: 1 << 20,
 *   block_size: 4096, backend: "none", repeat: 1, paths: {}, unsupported: [] });
 * console.assert(text.split("\n").every((l) => l.length <= 80));
 * ```
 */
export function benchTable(doc: BenchDocument): string {
  const qd = doc.queue_depth !== undefined ? `, queue depth ${doc.queue_depth}` : "";
  const how = (doc.backend === "none" ? "untraced" : `traced with ${doc.backend}`) +
    (doc.repeat > 1 ? `, median of ${doc.repeat} runs` : "");
  const head = `ioscope bench ${doc.scenario}: ${sizeText(doc.file_size)} file, ` +
    `${sizeText(doc.block_size)} blocks${qd}`;
  const lines = head.length + how.length + 2 <= 80 ? [`${head}, ${how}`] : [head, how];
  lines.push("", row(COLUMNS.map(([name]) => name)));
  for (const [name, r] of Object.entries(doc.paths)) {
    lines.push(row([
      name,
      r.throughput_mib_s >= 1000 ? r.throughput_mib_s.toFixed(0) : r.throughput_mib_s.toFixed(1),
      r.op.replace(/^io_uring /, "u:"),
      r.p50_ns !== null && r.p50_ns > 0 ? formatNs(r.p50_ns) : "-",
      r.p99_ns !== null && r.p99_ns > 0 ? formatNs(r.p99_ns) : "-",
      formatCount(r.syscalls),
      formatCount(r.faults),
      r.cpu_s_per_gib.toFixed(3),
      r.checksum_ok ? "ok" : "BAD",
    ]));
  }
  const fio = Object.entries(doc.paths).filter(([, r]) => r.fio);
  if (fio.length > 0) {
    const how = doc.backend === "none" ? "" : ", traced the same way";
    lines.push("", `fio, same file, right after each run${how}:`);
    for (const [name, r] of fio) {
      const f = r.fio!;
      const pct = (100 * r.throughput_mib_s / f.throughput_mib_s).toFixed(0);
      lines.push(
        `  ${name.padEnd(9)} fio ${f.engine.padEnd(8)} ${
          f.throughput_mib_s.toFixed(0).padStart(6)
        } ` +
          `MiB/s; ioscope ${pct}% of it`,
      );
    }
  }
  for (const u of doc.unsupported) lines.push(`${u.path}: not run: ${u.reason}`.slice(0, 80));
  lines.push(
    "",
    "P50/P99: latency of the op named (u: an io_uring request, submit to",
    "completion); memcpy is timed per block by the worker. CPU: the worker's",
    "user + system time. sum: the bytes moved match the file's checksum.",
  );
  return lines.join("\n");
}
