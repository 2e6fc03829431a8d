/**
 * `ioscope report --store DIR`: the trend report of a run store. Loads every
 * run (skipping, and saying so, any file that is not one), judges each
 * target's latest run against the runs before it, writes index.html with the
 * latest run's full report beside it (runs/NAME.html), and summary.json.
 * Exit 3 with `--fail-on-regression` when anything regressed.
 * @module
 */

import { parseFlags, parseThreshold } from "./_args.ts";
import { dirOf, RunError, UsageError, writeErrorReason, writeFileAtomic } from "../mod.ts";
import type { Command } from "./command.ts";
import { type Output, writeEach } from "./_outputs.ts";
import {
  fleetView,
  loadRuns,
  PRIVATE_FILE_MODE,
  type StoredRun,
  UnsafeStoreError,
} from "../nightly/mod.ts";
import { terminalSafe } from "./terminal_safe.ts";
import {
  analyzeTrends,
  formatChange,
  loadChartJs,
  renderFleetHtml,
  renderRunHtml,
  renderTrendHtml,
} from "../../report/mod.ts";
import {
  FLEET_SCHEMA,
  type FleetDocument,
  type RunDocument,
  type TrendSummary,
} from "../../schema/mod.ts";
import { formatCount, formatNs, formatValue } from "./_terminal_format.ts";

const HELP = `ioscope report: trends of a run store, and what got worse

Usage:
  ioscope report --store DIR [options]
  ioscope report --fleet DIR,DIR... [--out FILE.html] [--json FILE]

Options:
  --store DIR            the run store (written by ioscope trace --store DIR)
  --out FILE.html        the trend page (default: index.html); the latest
                         run of each target gets its full report in runs/
                         beside it
  --json FILE            the summary: targets, metrics, regressions
  --threshold PCT        the smallest change that can be a regression
                         (default: 10%)
  --baseline N           how many runs before the latest make the baseline
                         (default: 7)
  --fail-on-regression   exit 3 when anything regressed (for CI)
  --fleet DIR,DIR...     several stores (or directories of Runs) from several
                         hosts: the latest Run of each host and target merged
                         exactly into one histogram per syscall, with each
                         host's P99 (the spread); --out FILE.html writes
                         the fleet page (tables, each host's P99, the
                         merged histograms), --json the fleet document
  -h, --help             this help

A metric of the latest run is a regression when it is worse than the
baseline median by more than the threshold, by more than the baseline runs'
own spread allows (a 99% prediction interval), by more than its sampling
noise in one run, and worse than every baseline run. Latencies are compared
after adding 3 us (20 us for P99 and P99.9): calls of a microsecond or two
are that noisy on a VM. A P99.9 is judged only with 5 or more baseline runs.
With fewer than 3 baseline runs only a 2x change counts.

Exit status: 0 done, 2 bad input, 3 a regression with --fail-on-regression.
Example:
  ioscope report --store /var/lib/ioscope/nginx --out /srv/ioscope/index.html`;

/** `ioscope report`. */
export const reportCommand: Command = {
  summary: "trend report of a run store; flags regressions",
  help: HELP,
  run: runReport,
};

/** The exit status when `--fail-on-regression` finds one. */
export const REGRESSION_EXIT = 3;

interface ReportArgs {
  store: string;
  out: string;
  json?: string;
  threshold: number;
  baselineRuns: number;
  failOnRegression: boolean;
}

function parseReportArgs(args: string[]): ReportArgs {
  const { values, positionals } = parseFlags(args, {
    store: { type: "string" },
    out: { type: "string", default: "index.html" },
    json: { type: "string" },
    threshold: { type: "string", default: "10%" },
    baseline: { type: "string", default: "7" },
    "fail-on-regression": { type: "boolean", default: false },
  }, true);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const store = values.store;
  if (typeof store !== "string" || store === "") {
    throw new UsageError("no store: give --store DIR (the directory of trace --store DIR)");
  }
  try {
    if (!Deno.statSync(store).isDirectory) {
      throw new UsageError(`--store ${store} is not a directory`);
    }
  } catch (e: unknown) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--store ${store} does not exist (ioscope trace --store DIR makes it)`);
  }
  const baseline = String(values.baseline);
  if (!/^\d+$/.test(baseline) || Number(baseline) < 1 || Number(baseline) > 1000) {
    throw new UsageError(`invalid --baseline '${baseline}': use a number of runs from 1 to 1000`);
  }
  const out = String(values.out);
  if (out === "" || out.endsWith("/")) throw new UsageError("--out needs a file path");
  const parsed: ReportArgs = {
    store,
    out,
    threshold: parseThreshold(String(values.threshold)),
    baselineRuns: Number(baseline),
    failOnRegression: values["fail-on-regression"] === true,
  };
  if (typeof values.json === "string") {
    if (values.json === "") throw new UsageError("--json needs a file path");
    parsed.json = values.json;
  }
  for (const [flag, path] of [["--out", parsed.out], ["--json", parsed.json]] as const) {
    if (path === undefined) continue;
    try {
      if (Deno.statSync(path).isDirectory) {
        throw new UsageError(`cannot write ${flag} ${path}: it is a directory; give a file path`);
      }
    } catch (e: unknown) {
      if (e instanceof UsageError) throw e;
    }
  }
  return parsed;
}

const OUR_REPORT = /^[A-Za-z0-9_.-]+-[0-9a-f]{8}-\d{8}T\d{6}Z(-\d+)?\.html$/;

/** The name of a run's report file: the store file's name, made safe, `.html`. */
function reportName(file: string): string {
  return file.replace(/\.json$/, "").replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[.]+/, "_") +
    ".html";
}

/**
 * Writes each target's latest run report, from the document the store load
 * read (never the file again: it could be another by now); returns one line
 * per report that failed.
 */
async function writeReports(
  summary: TrendSummary,
  runs: Map<string, StoredRun>,
  a: ReportArgs,
): Promise<string[]> {
  const outDir = dirOf(a.out);
  const failures: string[] = [];
  try {
    await Deno.mkdir(`${outDir}/runs`, { recursive: true });
  } catch (e: unknown) {
    return [`could not write ${outDir}/runs/: ${writeErrorReason(e)}`];
  }
  const wanted = new Set<string>();
  for (const t of summary.targets) {
    const stored = runs.get(t.latest_file);
    if (!stored) continue;
    const name = reportName(t.latest_file);
    wanted.add(name);
    const target = `${outDir}/runs/${name}`;
    try {
      await writeFileAtomic(target, renderRunHtml(stored.run), { mode: PRIVATE_FILE_MODE });
      t.latest_report = `runs/${encodeURIComponent(name)}`;
    } catch (e: unknown) {
      failures.push(`could not write ${target}: ${writeErrorReason(e)}`);
    }
  }
  // Reports this command wrote for runs that are no longer a target's latest
  // are removed (only names in the store's own pattern: nothing else is ours).
  for await (const e of Deno.readDir(`${outDir}/runs`)) {
    if (e.isFile && OUR_REPORT.test(e.name) && !wanted.has(e.name)) {
      await Deno.remove(`${outDir}/runs/${e.name}`).catch(() => {});
    }
  }
  return failures;
}

async function runReport(args: string[]): Promise<number> {
  if (args.some((x) => x === "--fleet" || x.startsWith("--fleet="))) return await runFleet(args);
  const a = parseReportArgs(args);
  let loaded;
  try {
    loaded = await loadRuns(a.store);
  } catch (e: unknown) {
    if (e instanceof UnsafeStoreError) throw new UsageError(e.message);
    throw new RunError(`cannot read --store ${a.store}: ${e instanceof Error ? e.message : e}`);
  }
  // Reasons quote the files' contents: as hostile as their names.
  for (const p of loaded.problems) {
    console.error(`skipped ${terminalSafe(p.file)}: ${terminalSafe(p.reason)}`);
  }
  const summary = analyzeTrends(loaded.runs, {
    threshold: a.threshold,
    baselineRuns: a.baselineRuns,
  });
  summary.problems = loaded.problems;
  const runs = new Map(loaded.runs.map((r) => [r.file, r]));
  // Each output on its own: one that fails (a full disk) costs only itself.
  let earlier: string[] = [];
  const outputs: Output[] = [];
  try {
    await loadChartJs();
    await Deno.mkdir(dirOf(a.out), { recursive: true });
    earlier = await writeReports(summary, runs, a);
    outputs.push({
      what: `--out ${a.out}`,
      write: async () => {
        await writeFileAtomic(a.out, renderTrendHtml(summary, { store: a.store }), {
          mode: PRIVATE_FILE_MODE,
        });
        return `Wrote ${a.out}`;
      },
    });
  } catch (e: unknown) {
    earlier = [`could not write --out ${a.out}: ${writeErrorReason(e)}`];
  }
  if (a.json) outputs.push(jsonOutput(a.json, summary));
  console.log(summaryLines(summary).join("\n"));
  await writeEach(outputs, earlier);
  return a.failOnRegression && summary.regressions.length > 0 ? REGRESSION_EXIT : 0;
}

/** `--json FILE`: the document, written private. */
function jsonOutput(path: string, value: unknown): Output {
  return {
    what: `--json ${path}`,
    write: async () => {
      await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n", {
        mode: PRIVATE_FILE_MODE,
      });
      return `Wrote ${path}`;
    },
  };
}

/** The terminal summary: one line of totals, then one line per regression. */
function summaryLines(s: TrendSummary): string[] {
  const lines = [
    `${s.runs} run${s.runs === 1 ? "" : "s"} of ${s.targets.length} target${
      s.targets.length === 1 ? "" : "s"
    }; threshold ${Math.round(s.threshold * 1000) / 10}%, baseline up to ${s.baseline_window} runs`,
  ];
  if (s.regressions.length === 0) {
    lines.push("No regressions.");
    return lines;
  }
  lines.push(`${s.regressions.length} regression${s.regressions.length === 1 ? "" : "s"}:`);
  for (const r of s.regressions) {
    const t = s.targets.find((x) => x.target === r.target);
    const who = terminalSafe(t?.comm ?? r.target).slice(0, 15);
    const text = `  ${who}  ${r.label}: ${formatValue(r.unit, r.baseline)} -> ${
      formatValue(r.unit, r.latest)
    } (${formatChange(r.change)})`;
    lines.push(terminalSafe(text.length > 80 ? text.slice(0, 79) + "…" : text));
  }
  return lines;
}

/** `report --fleet DIR,DIR...`: the fleet view, on stdout, with --json and --out. */
async function runFleet(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    fleet: { type: "string" },
    json: { type: "string" },
    out: { type: "string" },
  }, true);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const dirs = String(values.fleet ?? "").split(",").filter((d) => d !== "");
  if (dirs.length === 0) throw new UsageError("--fleet needs directories: --fleet DIR,DIR");
  const out = fleetOutPath(values.out);
  const runs: RunDocument[] = [];
  for (const dir of dirs) {
    let loaded;
    try {
      loaded = await loadRuns(dir);
    } catch (e: unknown) {
      if (e instanceof UnsafeStoreError) throw new UsageError(e.message);
      throw new UsageError(
        `cannot read --fleet ${terminalSafe(dir)}: ${e instanceof Error ? e.message : e}`,
      );
    }
    for (const p of loaded.problems) {
      console.error(`skipped ${terminalSafe(p.file)}: ${terminalSafe(p.reason)}`);
    }
    runs.push(...loaded.runs.map((r) => r.run));
  }
  const rows = fleetView(runs);
  console.log(fleetLines(rows).join("\n"));
  const doc: FleetDocument = { schema: FLEET_SCHEMA, rows };
  const outputs: Output[] = [];
  if (out !== undefined) {
    outputs.push({
      what: `--out ${out}`,
      write: async () => {
        await loadChartJs();
        await writeFileAtomic(out, renderFleetHtml(doc, { sources: dirs }), {
          mode: PRIVATE_FILE_MODE,
        });
        return `Wrote ${out}`;
      },
    });
  }
  if (typeof values.json === "string") outputs.push(jsonOutput(values.json, doc));
  await writeEach(outputs, []);
  return 0;
}

/** `--out` of `report --fleet`: a file path, or undefined when not given. */
function fleetOutPath(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const out = String(value);
  if (out === "" || out.endsWith("/")) throw new UsageError("--out needs a file path");
  try {
    if (Deno.statSync(out).isDirectory) {
      throw new UsageError(`cannot write --out ${out}: it is a directory; give a file path`);
    }
  } catch (e: unknown) {
    if (e instanceof UsageError) throw e;
  }
  return out;
}

/** The fleet view for the terminal: a line per target and syscall. */
function fleetLines(rows: FleetDocument["rows"]): string[] {
  const lines = [
    `${"target".padEnd(16)} ${"syscall".padEnd(14)} hosts ${"calls".padStart(9)} ${
      "P50".padStart(9)
    } ${"P99".padStart(9)}  P99 by host (min..max)`,
  ];
  for (const r of rows) {
    const p99s = Object.values(r.p99_by_host);
    lines.push(
      `${terminalSafe(r.target).slice(0, 16).padEnd(16)} ${
        terminalSafe(r.syscall).slice(0, 14).padEnd(14)
      } ${String(r.hosts).padStart(5)} ${formatCount(r.count).padStart(9)} ${
        formatNs(r.p50_ns).padStart(9)
      } ${formatNs(r.p99_ns).padStart(9)}  ${formatNs(Math.min(...p99s))}..${
        formatNs(Math.max(...p99s))
      }`,
    );
  }
  return lines;
}
