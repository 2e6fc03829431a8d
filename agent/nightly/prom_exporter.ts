/**
 * The Prometheus exporter of `trace --prom HOST:PORT`: an HTTP server whose
 * `/metrics` is the Run so far in the text format (see openmetrics.ts),
 * rendered again whenever it is more than a second old, so a scrape never
 * sees data older than the backend's last snapshot plus a second.
 * @module
 */

import type { RunDocument } from "../../schema/mod.ts";
import { UsageError } from "../errors.ts";
import { CONTENT_TYPE, renderMetrics } from "./openmetrics.ts";

/** A running /metrics server. */
export interface Exporter {
  /** Where it listens, `HOST:PORT` (the real port when 0 was asked for). */
  readonly address: string;
  /** Stops serving. Idempotent. */
  close(): Promise<void>;
}

/** How old the rendered text may be before a scrape renders it again. */
const MAX_AGE_MS = 1000;

/**
 * Splits `HOST:PORT`, `:PORT` or `[IPv6]:PORT`; the host defaults to 127.0.0.1.
 * @param address the address given
 * @returns the host and port
 * @throws {UsageError} when it is not an address
 * @example
 * ```ts
 * import { parseAddress } from "./prom_exporter.ts";
 * console.assert(parseAddress(":9464").hostname === "127.0.0.1");
 * console.assert(parseAddress("[::1]:80").hostname === "::1");
 * ```
 */
export function parseAddress(address: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([\w.-]*)):(\d{1,5})$/.exec(address.trim());
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `invalid --prom '${address}': use HOST:PORT with a port up to 65535, e.g. 127.0.0.1:9464`,
    );
  }
  return { hostname: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/**
 * Serves `/metrics` for the Run document `current()` returns.
 * @param address `HOST:PORT` or `:PORT` (127.0.0.1 by default); port 0 picks a free one
 * @param current the Run so far (cumulative counts)
 * @returns the running exporter
 * @throws {UsageError} when the address is invalid, the port is in use, or it
 *   cannot be bound here
 */
export function startExporter(
  address: string,
  current: () => RunDocument | null,
): Promise<Exporter> {
  const { hostname, port } = parseAddress(address);
  let text = "";
  let renderedAt = -Infinity;
  const handler = (req: Request): Response => {
    const url = new URL(req.url);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (url.pathname === "/metrics") {
      const now = performance.now();
      if (now - renderedAt > MAX_AGE_MS) {
        const run = current();
        // Serving starts before the probes attach, so a busy port fails first.
        if (!run) {
          return new Response("attaching: no data yet\n", {
            status: 503,
            headers: { "retry-after": "1" },
          });
        }
        try {
          text = renderMetrics(run);
          renderedAt = now;
        } catch (e: unknown) {
          const why = e instanceof Error ? e.message : String(e);
          return new Response(`cannot read the trace: ${why}\n`, { status: 500 });
        }
      }
      return new Response(req.method === "HEAD" ? null : text, {
        headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store" },
      });
    }
    if (url.pathname === "/") {
      return new Response("ioscope exporter: metrics at /metrics\n", {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response("not found: metrics are at /metrics\n", { status: 404 });
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, onListen: () => {} }, handler);
  } catch (e: unknown) {
    const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    let why: string;
    if (e instanceof Deno.errors.AddrInUse) {
      why = "the port is in use; pick another with --prom HOST:PORT";
    } else if (e instanceof Deno.errors.PermissionDenied) {
      why = "permission denied; ports below 1024 need root";
    } else if (e instanceof Deno.errors.AddrNotAvailable) {
      why = "that address is not on this host";
    } else {
      why = e instanceof Error ? e.message : String(e);
    }
    return Promise.reject(new UsageError(`cannot serve metrics on ${where}: ${why}`));
  }
  const a = server.addr;
  const shown = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  let closing: Promise<void> | null = null;
  return Promise.resolve({
    address: `${shown}:${a.port}`,
    close() {
      closing ??= server.shutdown().catch(() => {});
      return closing;
    },
  });
}
