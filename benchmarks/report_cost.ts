/**
 * How long rendering takes: a Run with a one-hour timeline, and a trend report
 * over a store of 365 runs. Uses the report modules when they are present.
 * @module
 */

import type { RunDocument } from "../schema/mod.ts";

/** Markdown lines describing the measurements, or why they were not made. */
export async function measureReports(): Promise<string[]> {
  const lines: string[] = [];
  const reportUrl = new URL("../report/mod.ts", import.meta.url).href;
  let mod: Record<string, unknown> | null = null;
  try {
    mod = await import(reportUrl);
  } catch (e: unknown) {
    lines.push(
      `Not measured: report/mod.ts could not be loaded (${
        e instanceof Error ? e.message.split("\n")[0] : e
      }).`,
    );
    return lines;
  }
  const render = mod?.renderRunHtml as ((doc: unknown) => string) | undefined;
  if (typeof render !== "function") return ["Not measured: report/mod.ts has no renderRunHtml."];
  const run = hourLongRun();
  render(run); // warm up
  const t0 = performance.now();
  const html = render(run);
  const ms = performance.now() - t0;
  lines.push("| what | time | size | goal |", "| --- | --- | --- | --- |");
  lines.push(
    `| Run report, 3 600-point timeline, 12 syscalls | ${ms.toFixed(0)} ms | ${
      (html.length / 1024).toFixed(0)
    } KiB | < 1 s |`,
  );
  lines.push(await storeReport(run));
  return lines;
}

/** `ioscope report` over a store of 365 nightly runs (one target), timed end to end. */
async function storeReport(template: unknown): Promise<string> {
  const { runFileName } = await import("../agent/nightly/store.ts");
  const dir = Deno.makeTempDirSync({ prefix: "ioscope-bench-store-" });
  try {
    const base = template as RunDocument;
    const day = 86_400_000;
    const start = Date.parse("2025-11-30T03:00:00Z");
    for (let i = 0; i < 365; i++) {
      // A minute-long nightly run; P99 wanders a little from night to night.
      const wobble = 1 + 0.05 * Math.sin(i);
      const run: RunDocument = {
        ...base,
        meta: { ...base.meta, started_at: new Date(start + i * day).toISOString(), duration_s: 60 },
        syscalls: Object.fromEntries(
          Object.entries(base.syscalls).map((
            [k, v],
          ) => [k, { ...v, p99_ns: Math.round(v.p99_ns * wobble) }]),
        ),
        timeline: base.timeline.slice(0, 60),
      };
      Deno.writeTextFileSync(`${dir}/${runFileName(run)}`, JSON.stringify(run));
    }
    const t0 = performance.now();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}mod.ts`, "report", "--store", dir, "--out", `${dir}/index.html`],
      stdout: "null",
      stderr: "piped",
    }).output();
    const s = (performance.now() - t0) / 1000;
    if (!out.success) {
      return `| trend report, store of 365 runs | not measured: ${
        new TextDecoder().decode(out.stderr).trim().split("\n")[0]
      } | | < 3 s |`;
    }
    const kib = Deno.statSync(`${dir}/index.html`).size / 1024;
    return `| \`ioscope report\` over a store of 365 runs (Deno start-up included) | ${
      s.toFixed(2)
    } s | ${kib.toFixed(0)} KiB | < 3 s |`;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const ROOT = new URL("../", import.meta.url).pathname;

function hourLongRun(): RunDocument {
  const names = [
    "read",
    "write",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "sendfile64",
    "splice",
    "mmap",
    "munmap",
    "fsync",
    "io_uring_enter",
  ];
  const buckets: [number, number, number][] = [];
  for (let i = 0; i < 200; i++) {
    const e = 8 + Math.floor(i / 16);
    const sub = i % 16;
    const w = 2 ** (e - 4);
    buckets.push([(16 + sub) * w, (17 + sub) * w, 1 + (i * 7919) % 1000]);
  }
  const stats = {
    count: 1e6,
    errors: 3,
    bytes: 4e9,
    total_ns: 2e9,
    p50_ns: 2000,
    p90_ns: 4000,
    p99_ns: 9000,
    p999_ns: 30000,
    max_ns: 1e6,
    buckets,
  };
  return {
    schema: "ioscope.run/2",
    meta: {
      pid: 1,
      pids: [1],
      comm: "bench",
      cmdline: "bench",
      host: "h",
      kernel: Deno.osRelease(),
      backend: "bpftrace",
      started_at: new Date().toISOString(),
      duration_s: 3600,
      target_exited: false,
      lost_events: 0,
      unsupported: [],
      end_reason: "duration",
      attach_s: 0.3,
    },
    syscalls: Object.fromEntries(names.map((n) => [n, stats])),
    io_uring: {},
    copy: { copied_bytes: 1e10, zero_copy_bytes: 1e9, zero_copy_ratio: 0.09 },
    faults: { minor: 100, major: 0, total: 100 },
    tlb: { flushes: 10, by_reason: { task_switch: 10 }, dtlb_load_misses: null },
    sched: { voluntary: 10, involuntary: 5 },
    timeline: Array.from(
      { length: 3600 },
      (_, t) => ({ t, syscalls: 1000 + t, bytes: 4096 * t, faults: t % 7 }),
    ),
  };
}

// `deno run -A benchmarks/report_cost.ts`: this section alone (BENCHMARKS.md "Report generation").
if (import.meta.main) console.log((await measureReports()).join("\n"));
