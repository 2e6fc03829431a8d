/**
 * Loads an ftrace fixture recorded by tests/testdata/record_ftrace.ts and
 * replays its pages, merged across CPUs in timestamp order, into an
 * aggregator, as the backend does.
 * @module
 */

import { FtraceAggregator } from "../../probes/ftrace.ts";
import { readPage } from "../../probes/ftrace_buffer.ts";
import {
  type FtraceEventFormat,
  parseEventFormat,
  parseHeaderPage,
} from "../../probes/ftrace_format.ts";

/** A recorded fixture. */
export interface FtraceFixture {
  kernel: string;
  header_page: string;
  formats: Record<string, string>;
  tids: number[];
  expected: Record<string, { count: number; errors: number; bytes: number }>;
  pages: { role: "main" | "uring"; cpu: number; data: string }[];
}

/** Reads a fixture from tests/testdata. */
export function loadFixture(name: string): FtraceFixture {
  return JSON.parse(
    Deno.readTextFileSync(new URL(`../testdata/${name}`, import.meta.url)),
  );
}

/** The fixture's event formats, by `group:name`. */
export function fixtureFormats(f: FtraceFixture): Map<string, FtraceEventFormat> {
  return new Map(
    Object.entries(f.formats).map((
      [e, text],
    ) => [e, parseEventFormat(text, e.split(":")[0] ?? "")]),
  );
}

/** The fixture's pages as bytes. */
export function fixturePages(f: FtraceFixture): { role: string; cpu: number; view: DataView }[] {
  return f.pages.map((p) => {
    const bytes = Uint8Array.from(atob(p.data), (c) => c.charCodeAt(0));
    return { role: p.role, cpu: p.cpu, view: new DataView(bytes.buffer) };
  });
}

/** Replays every page of the fixture into a fresh aggregator. */
export function replay(f: FtraceFixture): FtraceAggregator {
  const agg = new FtraceAggregator(fixtureFormats(f), { tids: f.tids });
  const header = parseHeaderPage(f.header_page);
  const pages = fixturePages(f);
  const base = pages.reduce((m, p) => {
    const ts = p.view.getBigUint64(0, true);
    return ts < m ? ts : m;
  }, 2n ** 64n);
  const records: { ts: number; view: DataView; at: number }[] = [];
  for (const { view } of pages) {
    readPage(view, base, (ts, at) => records.push({ ts, view, at }), header);
  }
  records.sort((a, b) => a.ts - b.ts);
  for (const r of records) agg.feed(r.ts, r.view, r.at);
  return agg;
}
