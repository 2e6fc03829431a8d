/**
 * The trend summary document (`ioscope report --json`), schema
 * `ioscope.trend/1`: per target, a series per metric and the verdict on the
 * latest run. report/trend.ts computes it.
 * @module
 */

/** How a metric's values are shown. */
export type TrendUnit = "ns" | "bytes/s" | "percent" | "count/s";

/** The schema of the summary document. */
export const TREND_SCHEMA = "ioscope.trend/1";

/** The verdict on one metric of the latest run. */
export type Verdict =
  | "regression"
  | "improvement"
  | "ok"
  | "no-baseline"
  | "too-few-calls"
  | "not-judged";

/** One metric of one target: its series and the verdict on the latest run. */
export interface MetricTrend {
  /** A stable id, after the Run document's field: `syscalls.pread64.p99_ns`, `bytes_per_s`. */
  metric: string;
  /** For people: `pread64 P99`. */
  label: string;
  unit: TrendUnit;
  /** Which way is worse. */
  worse: "higher" | "lower";
  /** The chart it belongs to (metrics of one chart share it). */
  chart: string;
  /** One value per run of the target, oldest first; null where the run has none. */
  values: (number | null)[];
  /** Whether the regression rule applies to it (false: shown, never flagged). */
  judged: boolean;
  /** The verdict on the latest run. */
  verdict: Verdict;
  /** The baseline median, or null. */
  baseline: number | null;
  /** The latest value, or null. */
  latest: number | null;
  /** `(latest - baseline) / baseline`, or null. */
  change: number | null;
  /** The relative change the rule allowed before flagging, or null. */
  tolerance: number | null;
  /** How many baseline runs the verdict used. */
  baseline_runs: number;
  /** Why, in a few words. */
  reason: string;
}

/** One target: its runs and metrics. */
export interface TargetTrend {
  /** `comm (cmdline)`, as in `regressions[].target`. */
  target: string;
  /** 8 hex digits, stable for the same comm and cmdline. */
  id: string;
  comm: string;
  cmdline: string;
  /** The runs, oldest first: start time, file and duration. */
  runs: { started_at: string; file: string; duration_s: number; host: string }[];
  /** The latest run's file in the store. */
  latest_file: string;
  /** Link to the latest run's full report, set by whoever writes it. */
  latest_report?: string;
  metrics: MetricTrend[];
}

/** One regression, as `summary.json` lists it. */
export interface Regression {
  target: string;
  metric: string;
  /** The baseline median. */
  baseline: number;
  /** The latest run's value. */
  latest: number;
  /** `(latest - baseline) / baseline` (0.25 is 25% higher). */
  change: number;
  label: string;
  unit: TrendUnit;
  /** The relative change the rule allowed. */
  tolerance: number;
  baseline_runs: number;
  /** The latest run's file. */
  run: string;
}

/** The trend summary (`report --json`), schema `ioscope.trend/1`. */
export interface TrendSummary {
  schema: typeof TREND_SCHEMA;
  generated_at: string;
  threshold: number;
  baseline_window: number;
  runs: number;
  targets: TargetTrend[];
  regressions: Regression[];
  /** Store files skipped, and why (filled in by the caller). */
  problems: { file: string; reason: string }[];
}
