/**
 * The Prometheus exporter of `trace --prom HOST:PORT`: an HTTP server whose
 * `/metrics` is the Run so far in the text format (see openmetrics.ts), or
 * in the protobuf format with native histograms (_prom_proto.ts) to a scraper
 * whose Accept header asks for `io.prometheus.client.MetricFamily`, rendered again whenever it is more than a second old, so a scrape never
 * sees data older than the backend's last snapshot plus a second.
 *
 * Any local user can connect to it, so it is a small HTTP/1.1 server of its
 * own over Deno.listen, with limits a general one does not give: at most
 * {@linkcode LIMITS}.connections connections at once (more are closed as
 * they are accepted), a request head of at most 8 KiB that must arrive
 * within 5 s, 10 s for a whole connection (a client that never reads its
 * answer is cut off), one request per connection (pipelined ones are never
 * read), an accept that fails (no descriptor left) retried instead of fatal,
 * and a close that waits at most a second.
 * @module
 */

import type { RunDocument } from "../../schema/mod.ts";
import { UsageError } from "../mod.ts";
import { CONTENT_TYPE, renderMetrics } from "./openmetrics.ts";
import type { SeriesOptions } from "./_native_histogram.ts";
import { PROTOBUF_CONTENT_TYPE } from "./_prom_proto_type.ts";

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

/** The exporter's limits; tests pass smaller ones. */
export interface ExporterLimits {
  /** Connections served at once; more are closed as soon as they are accepted. @default 16 */
  connections: number;
  /** Time for a request head (request line and headers) to arrive. @default 5000 */
  headerTimeoutMs: number;
  /** Time for a whole connection, answer included. @default 10000 */
  totalTimeoutMs: number;
  /** Largest request head, in bytes; a larger one is answered 431. @default 8192 */
  maxHeadBytes: number;
  /** How long close() waits for connections in flight. @default 1000 */
  closeDeadlineMs: number;
}

/** The limits {@linkcode startExporter} uses unless told otherwise. */
export const LIMITS: Readonly<ExporterLimits> = {
  connections: 16,
  headerTimeoutMs: 5_000,
  totalTimeoutMs: 10_000,
  maxHeadBytes: 8192,
  closeDeadlineMs: 1_000,
};

/** After an answer, how long unread input (pipelined requests) is drained before closing. */
const LINGER_MS = 1_000;
/** After a failed accept (EMFILE: no descriptor left), the wait before the next. */
const ACCEPT_RETRY_MS = 100;

/** An answer: status, headers, body. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** The bytes of an answer, `connection: close`, no body for HEAD. */
function encodeAnswer(a: Answer, head: boolean): Uint8Array {
  const body = typeof a.body === "string" ? new TextEncoder().encode(a.body) : a.body;
  const lines = [`HTTP/1.1 ${a.status} ${REASONS[a.status] ?? "Error"}`];
  const headers = {
    "content-type": "text/plain; charset=utf-8",
    ...a.headers,
    "content-length": String(body.length),
    connection: "close",
  };
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  const top = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  if (head) return top;
  const out = new Uint8Array(top.length + body.length);
  out.set(top);
  out.set(body, top.length);
  return out;
}

/**
 * Reads a request head: the bytes up to the blank line that ends it.
 * @returns the head as latin1 text, "too large", or null when the client closed first
 */
async function readHead(conn: Deno.Conn, maxBytes: number): Promise<string | "too large" | null> {
  const buf = new Uint8Array(maxBytes + 1);
  let have = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(have));
    if (n === null) return null;
    have += n;
    // latin1: one character per byte, so the index of the blank line is its byte offset.
    const text = new TextDecoder("latin1").decode(buf.subarray(0, have));
    const end = text.search(/\r?\n\r?\n/);
    if (end >= 0) return text.slice(0, end);
    if (have > maxBytes) return "too large";
  }
}

async function writeAllTo(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // closed already
  }
}

/**
 * Whether a scrape's Accept header asks for the protobuf exposition format
 * (Prometheus sends it, ranked first, when native histograms are enabled).
 * @param accept the Accept header, or ""
 * @returns true for `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily`
 * @example
 * ```ts
 * import { wantsProtobuf } from "./prom_exporter.ts";
 * console.assert(wantsProtobuf(
 *   "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
 * ));
 * console.assert(!wantsProtobuf("text/plain;version=0.0.4"));
 * ```
 */
export function wantsProtobuf(accept: string): boolean {
  return accept.split(",").some((part) => {
    const [type = "", ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    return type === "application/vnd.google.protobuf" &&
      params.includes("proto=io.prometheus.client.metricfamily") &&
      !params.some((p) => p.startsWith("encoding=") && p !== "encoding=delimited") &&
      !(q !== undefined && Number(q.slice(2)) === 0);
  });
}

/**
 * Serves `/metrics` for the Run document `current()` returns.
 * @param address `HOST:PORT` or `:PORT` (127.0.0.1 by default); port 0 picks a free one
 * @param current the Run so far (cumulative counts)
 * @param options limits other than {@linkcode LIMITS}; `pidLabel` adds a `pid` label
 * @returns the running exporter
 * @throws {UsageError} when the address is invalid, the port is in use, or it
 *   cannot be bound here
 */
export function startExporter(
  address: string,
  current: () => RunDocument | null,
  options: Partial<ExporterLimits> & SeriesOptions = {},
): Promise<Exporter> {
  const { pidLabel = false, ...given } = options;
  const limits = { ...LIMITS, ...given };
  const series = { pidLabel };
  const { hostname, port } = parseAddress(address);
  // The protobuf encoder (an npm package) is loaded only when there is an exporter.
  let proto: typeof import("./_prom_proto.ts") | null = null;
  // Loading starts now (it is done long before the probes attach); until then, text.
  import("./_prom_proto.ts").then((m) => proto = m, () => {});
  const cache = {
    text: { body: "" as string | Uint8Array, at: -Infinity },
    protobuf: { body: "" as string | Uint8Array, at: -Infinity },
  };
  const answer = (method: string, target: string, accept: string): Answer => {
    if (method !== "GET" && method !== "HEAD") {
      return { status: 405, headers: { allow: "GET, HEAD" }, body: "method not allowed\n" };
    }
    const path = target.replace(/[?#].*$/, "");
    if (path === "/metrics") {
      const now = performance.now();
      let format: "protobuf" | "text" = wantsProtobuf(accept) ? "protobuf" : "text";
      if (format === "protobuf" && !proto) format = "text";
      const cached = cache[format];
      if (now - cached.at > MAX_AGE_MS) {
        const run = current();
        // Serving starts before the probes attach, so a busy port fails first.
        if (!run) {
          return { status: 503, headers: { "retry-after": "1" }, body: "attaching: no data yet\n" };
        }
        try {
          cached.body = format === "text"
            ? renderMetrics(run, series)
            : proto!.renderProtobuf(run, series);
          cached.at = now;
        } catch (e: unknown) {
          const why = e instanceof Error ? e.message : String(e);
          return { status: 500, headers: {}, body: `cannot read the trace: ${why}\n` };
        }
      }
      return {
        status: 200,
        headers: {
          "content-type": format === "text" ? CONTENT_TYPE : PROTOBUF_CONTENT_TYPE,
          "cache-control": "no-store",
        },
        body: cached.body,
      };
    }
    if (path === "/") {
      return { status: 200, headers: {}, body: "ioscope exporter: metrics at /metrics\n" };
    }
    return { status: 404, headers: {}, body: "not found: metrics are at /metrics\n" };
  };

  const serve = async (conn: Deno.Conn): Promise<void> => {
    const total = setTimeout(() => closeQuietly(conn), limits.totalTimeoutMs);
    let timedOut = false;
    const header = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, limits.headerTimeoutMs);
    try {
      const head = await readHead(conn, limits.maxHeadBytes).catch(() => null);
      clearTimeout(header);
      if (head === null || timedOut) return;
      let a: Answer;
      let method = "GET";
      if (head === "too large") {
        a = { status: 431, headers: {}, body: "request head too large\n" };
      } else {
        const lines = head.split(/\r?\n/);
        const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0] ?? "");
        method = m?.[1] ?? "GET";
        const accept = lines.find((l) => /^accept:/i.test(l))?.slice(7) ?? "";
        a = m
          ? answer(method, m[2] ?? "/", accept)
          : { status: 400, headers: {}, body: "bad request\n" };
      }
      await writeAllTo(conn, encodeAnswer(a, method === "HEAD"));
      // Closing with unread input would reset the connection and could lose the answer:
      // shut the writing side, drain what else the client sent, briefly.
      await conn.closeWrite();
      const linger = setTimeout(() => closeQuietly(conn), LINGER_MS);
      const sink = new Uint8Array(16384);
      while (await conn.read(sink) !== null) {
        // pipelined requests: never answered
      }
      clearTimeout(linger);
    } catch {
      // the client went away, or a timeout closed the connection
    } finally {
      clearTimeout(header);
      clearTimeout(total);
      closeQuietly(conn);
    }
  };

  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname, port });
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
  const open = new Set<Deno.Conn>();
  const inFlight = new Set<Promise<void>>();
  let closed = false;
  const accepting = (async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        if (closed) return;
        // EMFILE/ENFILE (no descriptor left), ECONNABORTED: the next one may work.
        await new Promise((r) => setTimeout(r, ACCEPT_RETRY_MS));
        continue;
      }
      if (closed || open.size >= limits.connections) {
        closeQuietly(conn);
        continue;
      }
      open.add(conn);
      const p: Promise<void> = serve(conn).finally(() => {
        open.delete(conn);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
  })();
  const a = listener.addr as Deno.NetAddr;
  const shown = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  let closing: Promise<void> | null = null;
  return Promise.resolve({
    address: `${shown}:${a.port}`,
    close() {
      closing ??= (async () => {
        closed = true;
        closeQuietly(listener);
        for (const c of open) closeQuietly(c);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<void>((r) => timer = setTimeout(r, limits.closeDeadlineMs));
        await Promise.race([Promise.all([accepting, ...inFlight]), late]);
        clearTimeout(timer);
      })();
      return closing;
    },
  });
}
