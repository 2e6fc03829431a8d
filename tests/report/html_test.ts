// The report's HTML as text: escaping, JSON that cannot end its element, a CSP
// that allows exactly the page's own scripts, chart.js inlined, nothing loaded.
import { createHash } from "node:crypto";
import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  CHART_JS_VERSION,
  escapeHtml,
  jsonForScript,
  markup,
  renderBenchHtml,
  renderRunHtml,
} from "../../report/mod.ts";
import { chartJsSource } from "../../report/chartjs.ts";
import {
  benchDoc,
  demoRun,
  emptyRun,
  HOSTILE,
  hostileBench,
  hostileRun,
} from "../_helpers/documents.ts";

interface Parsed {
  csp: string;
  scripts: { attrs: string; text: string }[];
  styles: string[];
  /** The page without the text of its script and style elements. */
  markup: string;
}

function parse(page: string): Parsed {
  const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(page)?.[1];
  assert(csp, "CSP meta tag");
  const scripts = [...page.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({
    attrs: m[1] ?? "",
    text: m[2] ?? "",
  }));
  const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1] ?? "");
  const markup = page.replace(/<script([^>]*)>[\s\S]*?<\/script>/g, "<script$1></script>")
    .replace(/<style>[\s\S]*?<\/style>/g, "<style></style>");
  return { csp: csp.replaceAll("&#39;", "'"), scripts, styles, markup };
}

function sha(text: string): string {
  return `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
}

Deno.test("escapeHtml escapes the five characters that matter", () => {
  assertEquals(
    escapeHtml(`<a href="x" title='y'>&`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;",
  );
  assertEquals(escapeHtml(42), "42");
});

Deno.test("the markup tag escapes interpolations and nests its own fragments", () => {
  const frag = markup`<b>${HOSTILE.name}</b>`;
  assertEquals(frag.value, "<b>&lt;img src=x onerror=alert(4)&gt;</b>");
  const outer = markup`<p title="${'"><x>'}">${[frag, null, false, undefined, 0]}</p>`;
  assertEquals(
    outer.value,
    `<p title="&quot;&gt;&lt;x&gt;"><b>&lt;img src=x onerror=alert(4)&gt;</b>0</p>`,
  );
  // A look-alike object is not trusted markup.
  assertEquals(markup`${{ value: "<i>" }}`.value, "[object Object]");
});

Deno.test("jsonForScript cannot end a script element and round-trips", () => {
  const value = { a: HOSTILE.cmdline, b: "</SCRIPT><!--<script>", c: "\u2028\u2029&<>" };
  const text = jsonForScript(value);
  assert(!/[<>&\u2028\u2029]/.test(text), text);
  assertEquals(JSON.parse(text), value);
});

Deno.test("a run report inlines chart.js and allows only its own scripts and style by hash", () => {
  const page = renderRunHtml(demoRun());
  const p = parse(page);
  assert(page.startsWith("<!doctype html>"));
  assertEquals(p.scripts.length, 4, "data, chart.js, number formats, page script");
  assertEquals(p.scripts[0]?.attrs, ' type="application/json" id="ioscope-data"');
  assertEquals(p.scripts[1]?.text, chartJsSource());
  assert(p.scripts[1]?.text.includes(`Chart.js v${CHART_JS_VERSION}`), "pinned chart.js inlined");
  const directives = Object.fromEntries(
    p.csp.split(";").map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]),
  );
  assertEquals(directives["default-src"], ["'none'"]);
  assertEquals(
    directives["script-src"],
    [sha(p.scripts[1]!.text), sha(p.scripts[2]!.text), sha(p.scripts[3]!.text)],
  );
  assertEquals(directives["style-src"], [sha(p.styles[0] ?? "")]);
  assertEquals(directives["base-uri"], ["'none'"]);
  assert(!p.csp.includes("unsafe"), `no unsafe-inline or unsafe-eval: ${p.csp}`);
  assert(!/\bnew Function\(|[^.\w]eval\(/.test(p.scripts[1]!.text), "chart.js needs no eval");
});

Deno.test("a report refers to nothing outside itself", () => {
  for (const page of [renderRunHtml(demoRun()), renderBenchHtml(benchDoc())]) {
    const { markup, styles } = parse(page);
    assert(!/\s(src|href|srcset|action|poster|data)=/i.test(markup), "no resource attributes");
    assert(!/https?:|\/\//.test(markup.replace(/<!doctype html>/, "")), "no URLs in markup");
    assert(!/url\(|@import/.test(styles.join("")), "no URLs in CSS");
  }
});

Deno.test("rendering is a pure function of the document", () => {
  const doc = demoRun();
  const copy = structuredClone(doc);
  assertEquals(renderRunHtml(doc), renderRunHtml(doc));
  assertEquals(doc, copy, "the document is not modified");
  assertEquals(renderBenchHtml(benchDoc()), renderBenchHtml(benchDoc()));
});

Deno.test("hostile text from the traced process appears only escaped", () => {
  const page = renderRunHtml(hostileRun());
  const { markup, scripts } = parse(page);
  assertEquals(scripts.length, 4, "no script element was injected");
  assertEquals((page.match(/<\/script/gi) ?? []).length, 4, "no early end of a script element");
  for (
    const bad of ["<img", "<svg", "<iframe", "<b ", "<!--", "</style><script"]
  ) {
    assert(!markup.includes(bad), `markup contains ${bad}`);
  }
  assert(markup.includes("&lt;svg onload=a&gt;"), "comm shown as text");
  assert(markup.includes(escapeHtml(HOSTILE.cmdline)), "cmdline shown as text");
  const data = JSON.parse(scripts[0]!.text);
  assert(
    JSON.stringify(data).includes("</script><script>alert(8)</script>"),
    "flame frame kept as data",
  );
});

Deno.test("hostile path names and host facts in a bench document appear only escaped", () => {
  const page = renderBenchHtml(hostileBench());
  const { markup, scripts } = parse(page);
  assertEquals(scripts.length, 4);
  assert(!markup.includes("<img") && !markup.includes("<svg"), "no injected elements");
  assert(markup.includes("&lt;img src=x onerror=alert(4)&gt;"), "path name shown as text");
});

Deno.test("a run report shows each part only when the document has it", () => {
  const demo = renderRunHtml(demoRun());
  for (
    const id of [
      "summary",
      "findings",
      "syscalls",
      "latency",
      "timeline",
      "copy",
      "memory",
      "perf",
      "flamegraph",
    ]
  ) {
    assert(demo.includes(`<section id="${id}">`), `section ${id}`);
  }
  assert(!demo.includes(`<section id="io_uring">`), "no io_uring section without io_uring ops");
  assert(
    demo.includes("not supported: perf: not supported on this CPU"),
    "null perf counters say why",
  );
  const empty = renderRunHtml(emptyRun());
  assert(empty.includes("No I/O syscalls were seen."));
  assert(empty.includes("Nothing stands out"));
  for (const id of ["perf", "flamegraph", "io_uring", "latency"]) {
    assert(!empty.includes(`<section id="${id}">`), `no section ${id}`);
  }
  const uring = renderRunHtml(hostileRun());
  assert(uring.includes(`<section id="io_uring">`));
});

Deno.test("a run report's header names the target, says what was unsupported and what was lost", () => {
  const doc = emptyRun();
  doc.meta.lost_events = 1234;
  doc.meta.unsupported = [{ metric: "tlb.flushes", reason: "no tlb:tlb_flush tracepoint" }];
  doc.tlb.flushes = null;
  const page = renderRunHtml(doc);
  assert(page.includes("1234 events were lost"));
  assert(page.includes("<code>tlb.flushes</code>: no tlb:tlb_flush tracepoint"));
  assert(page.includes("not supported: no tlb:tlb_flush tracepoint"), "TLB card says why");
  assert(
    page.includes("worker --serve") && page.includes("6.1.0-test") && page.includes("bpftrace"),
  );
});

Deno.test("the syscall table has every figure, sorted by total time", () => {
  const doc = demoRun();
  const page = renderRunHtml(doc);
  const table = /<table class="sortable" id="syscall-table">([\s\S]*?)<\/table>/.exec(page)?.[1];
  assert(table, "table");
  const heads = [...table.matchAll(/<button type="button">([^<]*)<\/button>/g)].map((m) => m[1]);
  assertEquals(heads, [
    "syscall",
    "path",
    "calls",
    "calls/s",
    "errors",
    "bytes",
    "P50",
    "P90",
    "P99",
    "P99.9",
    "max",
    "total time",
  ]);
  const names = [...table.matchAll(/<tr><td class="text">([^<]*)<\/td>/g)].map((m) => m[1]);
  const expected = Object.entries(doc.syscalls).sort((a, b) => b[1].total_ns - a[1].total_ns)
    .map(([n]) => n);
  assertEquals(names, expected);
});

Deno.test("the page data holds one chart per canvas, histograms with percentile markers", () => {
  const doc = demoRun();
  const page = renderRunHtml(doc);
  const { scripts, markup } = parse(page);
  const data = JSON.parse(scripts[0]!.text);
  const canvasIds = [...markup.matchAll(/<canvas id="chart-([^"]+)"/g)].map((m) => m[1]);
  assertEquals(data.charts.map((c: { id: string }) => c.id).sort(), [...canvasIds].sort());
  const hist = data.charts.find((c: { id: string }) => c.id === "hist-0");
  assertEquals(hist.x.log, true);
  const top = Object.entries(doc.syscalls).sort((a, b) => b[1].total_ns - a[1].total_ns)[0]![1];
  assertEquals(hist.markers.map((m: { value: number }) => m.value), [
    top.p50_ns,
    top.p90_ns,
    top.p99_ns,
    top.p999_ns,
    top.max_ns,
  ]);
  assertEquals(data.flame.samples, doc.flamegraph?.samples);
});

Deno.test("a bench report puts the paths side by side with per-GiB costs", () => {
  const doc = benchDoc();
  const page = renderBenchHtml(doc);
  const table = /<table class="sortable" id="path-table">([\s\S]*?)<\/table>/.exec(page)?.[1];
  assert(table, "table");
  const rows = [...table.matchAll(/<tr( class="best")?><td class="text">([^<]*)<\/td>/g)];
  assertEquals(rows.map((m) => m[2]), ["sendfile", "splice", "io_uring", "readv", "read", "mmap"]);
  assertEquals(rows[0]?.[1], ' class="best"', "the fastest path is marked");
  // read: 518 syscalls over 0.25 GiB = 2072 per GiB; mmap: 65 536 faults = 262 k per GiB.
  assert(table.includes('data-v="2072"'), "syscalls per GiB");
  assert(table.includes('data-v="262144"'), "faults per GiB");
  assert(
    page.includes(
      "<b>sendfile</b>: throughput 2.5x, syscalls per GiB -49 %, CPU time per GiB 1/2.5",
    ),
    "compared against read",
  );
  for (const fact of ["testhost", "6.1.0-test", "1 MiB", "256 MiB", "queue depth"]) {
    assert(page.includes(fact), `host fact ${fact}`);
  }
  const { scripts } = parse(page);
  const data = JSON.parse(scripts[0]!.text);
  const hist = data.charts.find((c: { id: string }) => c.id === "bench-hist");
  // mmap's figures are the worker's own clock per block (a memcpy): no traced histogram.
  assertEquals(hist.datasets.length, 5, "one overlaid histogram per traced path");
  assert(hist.datasets.some((d: { label: string }) => d.label === "io_uring (io_uring READ)"));
});

Deno.test("a bench path with wrong data is called out", () => {
  const doc = benchDoc();
  doc.paths.splice!.checksum_ok = false;
  const page = renderBenchHtml(doc);
  assert(page.includes("<b>Wrong data:</b> splice did not read back"));
});

Deno.test("a bench report shows the op each figure is from, as the document names it", () => {
  const doc = benchDoc();
  // The serve scenario times `write` for the read path; more bytes went through pread64.
  doc.paths.read!.op = "write";
  const page = renderBenchHtml(doc);
  const table = /<table class="sortable" id="path-table">([\s\S]*?)<\/table>/.exec(page)?.[1] ?? "";
  const opOf = (path: string) =>
    new RegExp(`<td class="text">${path}</td><td[^>]*>[^<]*</td><td class="text">([^<]*)</td>`)
      .exec(table)?.[1];
  assertEquals(opOf("read"), "write");
  assertEquals(opOf("sendfile"), "sendfile64");
  assertEquals(opOf("io_uring"), "io_uring READ");
  assertEquals(opOf("mmap"), "memcpy", "the worker's clock, as the document says");
  const data = JSON.parse(parse(page).scripts[0]!.text);
  const labels = data.charts.find((c: { id: string }) => c.id === "bench-hist").datasets
    .map((d: { label: string }) => d.label);
  assert(labels.includes("read (write)"), labels.join(", "));
  assert(!labels.some((l: string) => l.startsWith("mmap")), "no traced histogram for memcpy");
});
