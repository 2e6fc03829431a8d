/**
 * `trace --remote-write URL` and `--otlp URL`: the Run pushed while the trace
 * runs and once whole at its end. The session is not touched: the CLI calls
 * {@linkcode Pushers.push} with the Run so far every push interval and
 * {@linkcode Pushers.finish} with the final Run. Each receiver has its own
 * bounded queue (_push_queue.ts), so neither a slow one nor a dead one holds
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
import { encodeWriteRequest } from "./_prom_proto.ts";
import { encodeOtlp, OTLP_CONTENT_TYPE } from "./_otlp.ts";
import { PushQueue, type PushQueueOptions } from "./_push_queue.ts";
import type { SeriesOptions } from "./_native_histogram.ts";

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
