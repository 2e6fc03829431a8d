/**
 * `perf stat` counters for the target and a parser for the CSV that
 * `perf stat -x,` prints. Pure: text in, values out; starting perf is the
 * agent's job.
 * @module
 */

/** A counter ioscope asks perf for, and its key in the Run document's `perf`. */
export interface PerfCounter {
  /** perf's event name. */
  event: string;
  /** The key in `run.perf`. */
  key: string;
  /** Needs a hardware PMU (absent on most VMs). */
  hardware: boolean;
}

/** The counters `--perf` asks for, in order. */
export const PERF_COUNTERS: readonly PerfCounter[] = [
  { event: "page-faults", key: "page_faults", hardware: false },
  { event: "minor-faults", key: "minor_faults", hardware: false },
  { event: "major-faults", key: "major_faults", hardware: false },
  { event: "context-switches", key: "context_switches", hardware: false },
  { event: "cpu-migrations", key: "cpu_migrations", hardware: false },
  { event: "task-clock", key: "task_clock_ms", hardware: false },
  { event: "dTLB-loads", key: "dtlb_loads", hardware: true },
  { event: "dTLB-load-misses", key: "dtlb_load_misses", hardware: true },
  { event: "iTLB-loads", key: "itlb_loads", hardware: true },
  { event: "iTLB-load-misses", key: "itlb_load_misses", hardware: true },
  { event: "cycles", key: "cycles", hardware: true },
  { event: "instructions", key: "instructions", hardware: true },
];

/** One counter as perf reported it. */
export interface PerfStatLine {
  event: string;
  /** The count (scaled by perf when the counter was multiplexed); null when not counted. */
  value: number | null;
  /** `counted`, or why there is no value. */
  status: "counted" | "not-supported" | "not-counted";
  /** Share of the time the counter ran (100 unless multiplexed). */
  runningPct: number;
}

/**
 * Parses `perf stat -x,` output (what it prints to stderr). Lines read
 * `value,unit,event,run_time,running_pct,metric,metric_unit`; the value is
 * `<not supported>` or `<not counted>` when there is none. Other lines
 * (blank, comments, perf's warnings) are skipped.
 * @param text perf's output
 * @returns the counters by perf's event name
 * @example
 * ```ts
 * import { parsePerfStatCsv } from "./perf_stat.ts";
 * const m = parsePerfStatCsv("12,,page-faults,1000,100.00,,\n<not supported>,,cycles,0,100.00,,\n");
 * console.assert(m.get("page-faults")?.value === 12);
 * console.assert(m.get("cycles")?.status === "not-supported");
 * ```
 */
export function parsePerfStatCsv(text: string): Map<string, PerfStatLine> {
  const out = new Map<string, PerfStatLine>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const cols = line.split(",");
    if (cols.length < 5) continue;
    const [value = "", , event = "", , pct = ""] = cols;
    if (event === "") continue;
    let parsed: PerfStatLine;
    if (value === "<not supported>") {
      parsed = { event, value: null, status: "not-supported", runningPct: 0 };
    } else if (value === "<not counted>") {
      parsed = { event, value: null, status: "not-counted", runningPct: 0 };
    } else {
      const v = Number(value);
      if (!Number.isFinite(v)) continue;
      parsed = { event, value: v, status: "counted", runningPct: Number(pct) || 0 };
    }
    // Event names may carry modifiers (cycles:u) or a PMU (cpu_core/cycles/).
    const name = event.replace(/^[\w-]+\/([^/]+)\/$/, "$1").replace(/:[a-zA-Z]+$/, "");
    out.set(name, parsed);
  }
  return out;
}
