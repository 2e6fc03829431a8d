/**
 * `trace --remote-write URL` and `--otlp URL`: the Run pushed while the trace
 * runs and once whole at its end. The session is not touched: the CLI calls
 * {@linkcode Pushers.push} with the Run so far every push interval and
 * {@linkcode Pushers.finish} with the final Run. Each receiver has its own
 * bounded queue (push_queue.ts), so neither a slow one nor a dead one holds
 * the trace or the other up.
 *
 * Remote-write 1.0: a snappy-compressed `prometheus.WriteRequest` with native
 * histogram samples. Credentials come only from `--remote-write-auth FILE`
 * (one line: `bearer TOKEN` or `basic USER:PASSWORD`), a file only its owner
 * may read; never from the URL, never into the Run.
 * @module
 */

import SnappyJS from "snappyjs";
import type { ExportStats, RunDocument } from "../../schema/mod.ts";
import { UsageError } from "../errors.ts";
import { encodeWriteRequest } from "./prom_proto.ts";
import { encodeOtlp, OTLP_CONTENT_TYPE } from "./otlp.ts";
import { PushQueue, type PushQueueOptions } from "./push_queue.ts";
import type { SeriesOptions } from "./native_histogram.ts";

/** Where to push, and how. */
export interface PushOptions extends SeriesOptions {
  /** `--remote-write URL`. */
  remoteWrite?: URL;
  /** The Authorization header for remote-write, from {@linkcode readAuthFile}. */
  remoteWriteAuth?: string;
  /** `--remote-write-classic`: histograms also as classic `le` buckets. */
  remoteWriteClassic?: boolean;
  /** `--otlp URL`: the full URL posted to (`.../v1/metrics`). */
  otlp?: URL;
  /** Queue bounds and clocks (tests). */
  queue?: PushQueueOptions;
}

/**
 * Checks a receiver URL given on the command line.
 * @param value the URL
 * @param flag the flag, for the message
 * @returns the URL
 * @throws {UsageError} not http(s), malformed, or with credentials in it
 * @example
 * ```ts
 * import { parsePushUrl } from "./push.ts";
 * console.assert(parsePushUrl("http://127.0.0.1:9090/api/v1/write", "--remote-write").port === "9090");
 * ```
 */
export function parsePushUrl(value: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `invalid ${flag} '${value}': give a URL, e.g. http://127.0.0.1:9090/api/v1/write`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`invalid ${flag}: the URL must be http:// or https://`);
  }
  if (url.username || url.password) {
    throw new UsageError(
      `invalid ${flag}: no credentials in the URL (they would show in ps); ` +
        "put them in a file given with --remote-write-auth FILE",
    );
  }
  return url;
}

/**
 * Reads `--remote-write-auth FILE`: one line, `bearer TOKEN` or `basic
 * USER:PASSWORD`. The file must be readable and no one's but its owner's
 * (no group or other permission bits).
 * @param path the file
 * @returns the Authorization header's value
 * @throws {UsageError} unreadable, group/world accessible, or not one of the two forms
 */
export function readAuthFile(path: string): string {
  let text: string;
  let mode: number | null;
  try {
    mode = Deno.statSync(path).mode;
    text = Deno.readTextFileSync(path);
  } catch (e: unknown) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new UsageError(`cannot read --remote-write-auth ${path}: ${why}`);
  }
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new UsageError(
      `--remote-write-auth ${path} is readable by others (mode ${
        (mode & 0o777).toString(8)
      }): chmod 600 it`,
    );
  }
  const line = text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  const m = /^(bearer|basic)\s+(\S+)$/i.exec(line);
  // deno-lint-ignore no-control-regex
  if (!m || /[\x00-\x1f\x7f]/.test(line)) {
    throw new UsageError(
      `--remote-write-auth ${path}: write one line, 'bearer TOKEN' or 'basic USER:PASSWORD'`,
    );
  }
  const secret = m[2] ?? "";
  if (m[1]?.toLowerCase() === "bearer") return `Bearer ${secret}`;
  if (!secret.includes(":")) {
    throw new UsageError(`--remote-write-auth ${path}: basic needs USER:PASSWORD`);
  }
  const bytes = new TextEncoder().encode(secret);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** The receivers of one trace. */
export class Pushers {
  #remote: PushQueue | null = null;
  #otlp: PushQueue | null = null;
  #series: SeriesOptions;
  #classic: boolean;
  #lastMs = 0;

  /**
   * Starts a queue per receiver; nothing is sent until {@linkcode push}.
   * @param options the receivers
   * @param onNotice a line for the user (receiver down, up again, refused)
   */
  constructor(options: PushOptions, onNotice: (line: string) => void = () => {}) {
    this.#series = options.pidLabel ? { pidLabel: true } : {};
    this.#classic = options.remoteWriteClassic === true;
    const queue = { ...options.queue, onNotice };
    if (options.remoteWrite) {
      this.#remote = new PushQueue({
        url: options.remoteWrite,
        headers: {
          "content-type": "application/x-protobuf",
          "content-encoding": "snappy",
          "x-prometheus-remote-write-version": "0.1.0",
          "user-agent": "ioscope",
          ...(options.remoteWriteAuth ? { authorization: options.remoteWriteAuth } : {}),
        },
      }, queue);
    }
    if (options.otlp) {
      this.#otlp = new PushQueue({
        url: options.otlp,
        headers: { "content-type": OTLP_CONTENT_TYPE, "user-agent": "ioscope" },
      }, queue);
    }
  }

  /**
   * Encodes the Run so far and queues it for each receiver; returns at once.
   * @param run the Run so far (cumulative)
   */
  push(run: RunDocument): void {
    // Samples of one series must have increasing times.
    const now = Math.max(Date.now(), this.#lastMs + 1);
    this.#lastMs = now;
    if (this.#remote) {
      const { bytes, samples } = encodeWriteRequest(run, now, {
        ...this.#series,
        classic: this.#classic,
      });
      this.#remote.enqueue(SnappyJS.compress(bytes), samples);
    }
    if (this.#otlp) {
      const { bytes, points } = encodeOtlp(run, now, this.#series);
      this.#otlp.enqueue(bytes, points);
    }
  }

  /**
   * Pushes the final Run and sends what is queued, waiting at most `deadlineMs`.
   * @param run the final Run
   * @param deadlineMs the longest wait for the receivers
   * @returns each receiver's counts, for the Run's `meta.exports`
   */
  async finish(run: RunDocument, deadlineMs: number): Promise<Record<string, ExportStats>> {
    this.push(run);
    const [remote, otlp] = await Promise.all([
      this.#remote?.finish(deadlineMs),
      this.#otlp?.finish(deadlineMs),
    ]);
    const out: Record<string, ExportStats> = {};
    if (remote) out.remote_write = remote;
    if (otlp) out.otlp = otlp;
    return out;
  }
}
