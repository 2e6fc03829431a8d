/**
 * Prometheus' two protobuf formats for a Run: the scrape exposition format
 * (`io.prometheus.client.MetricFamily`, length-delimited, which a scraper
 * asks for to get native histograms) and the remote-write 1.0 request
 * (`prometheus.WriteRequest`, snappy-compressed by the sender). Encoded with
 * protobufjs from the messages of Prometheus' own `client_model/metrics.proto`
 * and `prompb/types.proto` (the fields used here, same numbers and types).
 * @module
 */

import protobuf from "protobufjs";
import { NATIVE_SCHEMA, type RunDocument } from "../../schema/mod.ts";
import { cumulativeBuckets } from "./openmetrics.ts";
import {
  histogramSeries,
  scalarSeries,
  type SeriesOptions,
  spansAndDeltas,
} from "./_native_histogram.ts";

const PROTO = `
syntax = "proto2";
package io.prometheus.client;
message LabelPair { optional string name = 1; optional string value = 2; }
enum MetricType { COUNTER = 0; GAUGE = 1; SUMMARY = 2; UNTYPED = 3; HISTOGRAM = 4; }
message Gauge { optional double value = 1; }
message Counter { optional double value = 1; }
message BucketSpan { optional sint32 offset = 1; optional uint32 length = 2; }
message Histogram {
  optional uint64 sample_count = 1;
  optional double sample_sum = 2;
  optional sint32 schema = 5;
  optional double zero_threshold = 6;
  optional uint64 zero_count = 7;
  repeated BucketSpan positive_span = 12;
  repeated sint64 positive_delta = 13;
}
message Metric {
  repeated LabelPair label = 1;
  optional Gauge gauge = 2;
  optional Counter counter = 3;
  optional Histogram histogram = 7;
}
message MetricFamily {
  optional string name = 1;
  optional string help = 2;
  optional MetricType type = 3;
  repeated Metric metric = 4;
}
`;

const REMOTE_PROTO = `
syntax = "proto3";
package prometheus;
message Label { string name = 1; string value = 2; }
message Sample { double value = 1; int64 timestamp = 2; }
message BucketSpan { sint32 offset = 1; uint32 length = 2; }
message Histogram {
  oneof count { uint64 count_int = 1; double count_float = 2; }
  double sum = 3;
  sint32 schema = 4;
  double zero_threshold = 5;
  oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
  repeated BucketSpan positive_spans = 11;
  repeated sint64 positive_deltas = 12;
  int64 timestamp = 15;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
  repeated Histogram histograms = 4;
}
message WriteRequest { repeated TimeSeries timeseries = 1; }
`;

const exposition = protobuf.parse(PROTO, { keepCase: true }).root;
const MetricFamily = exposition.lookupType("io.prometheus.client.MetricFamily");
const remote = protobuf.parse(REMOTE_PROTO, { keepCase: true }).root;
const WriteRequest = remote.lookupType("prometheus.WriteRequest");

/** The message types, for tests that decode what was encoded. */
export const PROM_TYPES = { MetricFamily, WriteRequest } as const;

const TYPE = { counter: 0, gauge: 1, histogram: 4 } as const;

function labelPairs(labels: Record<string, string>): { name: string; value: string }[] {
  return Object.entries(labels).map(([name, value]) => ({ name, value }));
}

/**
 * The Run so far in the protobuf exposition format: the duration histograms
 * as native histograms (schema 4, no classic buckets), the counters as in
 * the text format.
 * @param run the Run (cumulative)
 * @param options labels (see {@linkcode SeriesOptions})
 * @returns length-delimited MetricFamily messages
 * @example
 * ```ts
 * import { renderProtobuf } from "./_prom_proto.ts";
 * import type { RunDocument } from "../../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_fio_psync.json")) as RunDocument;
 * console.assert(renderProtobuf(run).length > 0);
 * ```
 */
export function renderProtobuf(run: RunDocument, options: SeriesOptions = {}): Uint8Array {
  const families = new Map<
    string,
    { name: string; help: string; type: number; metric: unknown[] }
  >();
  const family = (name: string, help: string, type: number) => {
    let f = families.get(name);
    if (!f) families.set(name, f = { name, help, type, metric: [] });
    return f;
  };
  for (const s of histogramSeries(run, options)) {
    const h = s.histogram;
    const { spans, deltas } = spansAndDeltas(h.buckets);
    family(s.name, s.help, TYPE.histogram).metric.push({
      label: labelPairs(s.labels),
      histogram: {
        sample_count: h.count,
        sample_sum: h.sum,
        schema: NATIVE_SCHEMA,
        zero_threshold: 0,
        zero_count: h.zeroCount,
        positive_span: spans,
        positive_delta: deltas,
      },
    });
  }
  for (const s of scalarSeries(run, options)) {
    family(s.name, s.help, TYPE[s.type]).metric.push({
      label: labelPairs(s.labels),
      [s.type]: { value: s.value },
    });
  }
  const parts = [...families.values()].map((f) =>
    MetricFamily.encodeDelimited(MetricFamily.fromObject(f)).finish()
  );
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A remote-write 1.0 request for the Run at one instant: one native histogram
 * sample per duration series, one float sample per counter. Labels are sorted
 * by name, `__name__` first, as receivers require. With `classic`, each
 * histogram is also sent as the text format's classic series (`_bucket{le}`,
 * `_sum`, `_count`), for receivers that drop native histograms.
 * @param run the Run (cumulative)
 * @param timestampMs the samples' time, milliseconds since the epoch
 * @param options labels (see {@linkcode SeriesOptions}); `classic` adds classic buckets
 * @returns the encoded request (not compressed) and how many samples it holds
 */
export function encodeWriteRequest(
  run: RunDocument,
  timestampMs: number,
  options: SeriesOptions & { classic?: boolean } = {},
): { bytes: Uint8Array; samples: number } {
  const sorted = (name: string, labels: Record<string, string>) =>
    [["__name__", name], ...Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1)]
      .map(([n, value]) => ({ name: n, value }));
  const timeseries: unknown[] = [];
  const float = (name: string, labels: Record<string, string>, value: number) =>
    timeseries.push({ labels: sorted(name, labels), samples: [{ value, timestamp: timestampMs }] });
  for (const s of histogramSeries(run, options)) {
    if (options.classic) {
      for (const [le, n] of cumulativeBuckets(s.buckets)) {
        float(
          `${s.name}_bucket`,
          { ...s.labels, le: le === Infinity ? "+Inf" : String(le / 1e9) },
          n,
        );
      }
      float(`${s.name}_sum`, s.labels, s.histogram.sum);
      float(`${s.name}_count`, s.labels, s.histogram.count);
    }
    const h = s.histogram;
    const { spans, deltas } = spansAndDeltas(h.buckets);
    timeseries.push({
      labels: sorted(s.name, s.labels),
      histograms: [{
        count_int: h.count,
        sum: h.sum,
        schema: NATIVE_SCHEMA,
        zero_threshold: 0,
        zero_count_int: h.zeroCount,
        positive_spans: spans,
        positive_deltas: deltas,
        timestamp: timestampMs,
      }],
    });
  }
  for (const s of scalarSeries(run, options)) float(s.name, s.labels, s.value);
  const bytes = WriteRequest.encode(WriteRequest.fromObject({ timeseries })).finish();
  return { bytes, samples: timeseries.length };
}
