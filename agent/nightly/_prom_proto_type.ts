/**
 * The Content-Type of Prometheus' protobuf exposition format (delimited
 * MetricFamily messages), apart from _prom_proto.ts so that the exporter names
 * it without loading the encoder (an npm package).
 * @module
 */

/** The Content-Type of the protobuf exposition format. */
export const PROTOBUF_CONTENT_TYPE =
  "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
