/**
 * A Run as an OTLP/HTTP protobuf metrics request
 * (`ExportMetricsServiceRequest`), encoded by OpenTelemetry JS' own
 * serializer (`@opentelemetry/otlp-transformer`). The duration histograms are
 * ExponentialHistogram points of scale 4, cumulative from the trace's start;
 * bytes and errors are monotonic sums.
 *
 * Resource attributes, per the OpenTelemetry semantic conventions where they
 * exist: `service.name` (ioscope), `host.name`, `os.type` (linux),
 * `os.version` (the kernel release), `process.executable.name` (the target's
 * name), `process.pid` only when asked; where no convention exists,
 * `ioscope.target`, `ioscope.cgroup.path` and `ioscope.backend`. Points carry
 * `syscall` or `io_uring.op`. Metric names follow OTel's dotted style with
 * the unit apart (`ioscope.syscall.duration`, unit `s`), which an OTLP to
 * Prometheus translation names `ioscope_syscall_duration_seconds`.
 * @module
 */

import { ProtobufMetricsSerializer } from "@opentelemetry/otlp-transformer";
import {
  AggregationTemporality,
  DataPointType,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import { NATIVE_SCHEMA, type RunDocument } from "../../schema/mod.ts";
import {
  histogramSeries,
  otlpBuckets,
  runLabels,
  scalarSeries,
  type SeriesOptions,
} from "./_native_histogram.ts";

/** The Content-Type of an OTLP/HTTP protobuf request. */
export const OTLP_CONTENT_TYPE = "application/x-protobuf";

/** OTel's name for each Prometheus-style name this module sends, and the unit. */
const OTEL_NAMES: Record<string, { name: string; unit: string }> = {
  ioscope_syscall_duration_seconds: { name: "ioscope.syscall.duration", unit: "s" },
  ioscope_io_uring_op_duration_seconds: { name: "ioscope.io_uring.op.duration", unit: "s" },
  ioscope_syscall_bytes_total: { name: "ioscope.syscall.io", unit: "By" },
  ioscope_syscall_errors_total: { name: "ioscope.syscall.errors", unit: "{call}" },
  ioscope_lost_events_total: { name: "ioscope.lost_events", unit: "{event}" },
  ioscope_trace_duration_seconds: { name: "ioscope.trace.duration", unit: "s" },
};

type HrTime = [number, number];
function hrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  return [s, Math.round((ms - s * 1000) * 1e6)];
}

/** The OTel attributes of a series: its own labels, minus those the resource carries. */
function pointAttributes(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  if (labels.syscall !== undefined) out.syscall = labels.syscall;
  if (labels.op !== undefined) out["io_uring.op"] = labels.op;
  return out;
}

/**
 * The resource attributes of a Run (see the module doc).
 * @param run the Run
 * @param options `pidLabel` adds `process.pid`
 * @returns the attributes
 */
export function resourceAttributes(
  run: RunDocument,
  options: SeriesOptions = {},
): Record<string, string | number> {
  const m = run.meta;
  const l = runLabels(run, options);
  const attrs: Record<string, string | number> = {
    "service.name": "ioscope",
    "host.name": l.host ?? "",
    "os.type": "linux",
    "os.version": String(m.kernel ?? ""),
    "process.executable.name": String(m.comm ?? ""),
    "ioscope.target": l.target ?? "",
    "ioscope.backend": l.backend ?? "",
  };
  if (m.cgroup?.path) attrs["ioscope.cgroup.path"] = m.cgroup.path;
  if (options.pidLabel) attrs["process.pid"] = m.pid ?? 0;
  return attrs;
}

/**
 * Encodes the Run at one instant as an OTLP/HTTP protobuf request.
 * @param run the Run (cumulative)
 * @param nowMs the points' time, milliseconds since the epoch
 * @param options see {@linkcode SeriesOptions}
 * @returns the request body and how many data points it holds
 * @example
 * ```ts
 * import { encodeOtlp } from "./_otlp.ts";
 * import type { RunDocument } from "../../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_fio_psync.json")) as RunDocument;
 * console.assert(encodeOtlp(run, Date.now()).points > 0);
 * ```
 */
export function encodeOtlp(
  run: RunDocument,
  nowMs: number,
  options: SeriesOptions = {},
): { bytes: Uint8Array; points: number } {
  const startMs = Date.parse(run.meta.started_at);
  const startTime = hrTime(Number.isFinite(startMs) ? startMs : nowMs);
  const endTime = hrTime(nowMs);
  // deno-lint-ignore no-explicit-any
  const metrics = new Map<string, any>();
  let points = 0;
  for (const s of histogramSeries(run, options)) {
    const o = OTEL_NAMES[s.name] ?? { name: s.name, unit: "s" };
    let m = metrics.get(s.name);
    if (!m) {
      m = {
        descriptor: { name: o.name, description: s.help, unit: o.unit, valueType: 1 },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM,
        dataPoints: [],
      };
      metrics.set(s.name, m);
    }
    const h = s.histogram;
    m.dataPoints.push({
      attributes: pointAttributes(s.labels),
      startTime,
      endTime,
      value: {
        count: h.count,
        sum: h.sum,
        scale: NATIVE_SCHEMA,
        zeroCount: h.zeroCount,
        positive: otlpBuckets(h.buckets),
        negative: { offset: 0, bucketCounts: [] },
      },
    });
    points++;
  }
  for (const s of scalarSeries(run, options)) {
    const o = OTEL_NAMES[s.name] ?? { name: s.name, unit: "1" };
    let m = metrics.get(s.name);
    if (!m) {
      m = {
        descriptor: { name: o.name, description: s.help, unit: o.unit, valueType: 1 },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: s.type === "counter" ? DataPointType.SUM : DataPointType.GAUGE,
        isMonotonic: s.type === "counter",
        dataPoints: [],
      };
      metrics.set(s.name, m);
    }
    m.dataPoints.push({
      attributes: pointAttributes(s.labels),
      startTime,
      endTime,
      value: s.value,
    });
    points++;
  }
  const request = {
    resource: { attributes: resourceAttributes(run, options) },
    scopeMetrics: [{ scope: { name: "ioscope" }, metrics: [...metrics.values()] }],
  } as unknown as ResourceMetrics;
  const bytes = ProtobufMetricsSerializer.serializeRequest(request);
  if (!bytes) throw new Error("Cannot encode the OTLP request");
  return { bytes, points };
}
