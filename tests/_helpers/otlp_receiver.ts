/**
 * Test helper: an OTLP/HTTP receiver of the test's own on loopback. It
 * decodes each request with the official OTLP proto definitions as
 * generated into `@opentelemetry/otlp-transformer` 0.57.2 (protobufjs code
 * built from open-telemetry/opentelemetry-proto; the sender uses the newer
 * 0.301 serializer, written apart from it), and answers 200. No real
 * OpenTelemetry Collector was tried: none is installable here.
 * @module
 */

import root from "otlp-proto-0.57/build/src/generated/root.js";

/** The decoded `ExportMetricsServiceRequest`, as plain objects (longs as numbers). */
// deno-lint-ignore no-explicit-any
export type OtlpRequest = any;

// deno-lint-ignore no-explicit-any
const Request = (root as any).opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;

/**
 * Decodes one OTLP/HTTP protobuf metrics request.
 * @param bytes the request body
 * @returns the request as a plain object
 */
export function decodeOtlp(bytes: Uint8Array): OtlpRequest {
  return Request.toObject(Request.decode(bytes), { longs: Number, defaults: true });
}

/**
 * Starts the receiver.
 * @returns its URL (`/v1/metrics`), the requests decoded so far, and dispose
 */
export function startOtlpReceiver(): {
  url: string;
  requests: OtlpRequest[];
  contentTypes: string[];
} & AsyncDisposable {
  const requests: OtlpRequest[] = [];
  const contentTypes: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    if (new URL(req.url).pathname !== "/v1/metrics") return new Response(null, { status: 404 });
    contentTypes.push(req.headers.get("content-type") ?? "");
    requests.push(decodeOtlp(new Uint8Array(await req.arrayBuffer())));
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/v1/metrics`,
    requests,
    contentTypes,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
