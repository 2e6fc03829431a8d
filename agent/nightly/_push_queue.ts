/**
 * The sending side of `--remote-write` and `--otlp`: a bounded queue of
 * encoded requests and one sender that posts them in order, one at a time,
 * so a slow or dead receiver never holds the trace up and never grows memory
 * past the bound.
 *
 * - `enqueue` returns at once. When the queue would pass its byte bound, the
 *   oldest requests are dropped and their samples counted as unsent.
 * - A request that fails to connect, times out, or is answered 5xx or 429 is
 *   retried, after a backoff that doubles from 250 ms to 30 s; a success
 *   resets it. The receiver being down is told once (and once when it is
 *   back), not at every try.
 * - Any other 4xx (a sample out of order, too old, refused) drops the
 *   request: its samples are counted as rejected and the first reason is
 *   kept; retrying would never succeed.
 * - `finish` sends what is left, waiting at most its deadline, then counts
 *   whatever was not sent.
 * @module
 */

import type { ExportStats } from "../../schema/mod.ts";

/** What a push did over the trace, kept in the Run (`meta.exports`). */
export type PushStats = ExportStats;

/** How to post a request. */
export interface PushTarget {
  /** Where to post. */
  url: URL;
  /** The request's headers (content type, encoding, authorization). */
  headers: Record<string, string>;
}

/** The queue's bounds and clocks; tests pass smaller ones. */
export interface PushQueueOptions {
  /** Bytes of encoded requests kept waiting at most. @default 16 MiB */
  maxQueueBytes?: number;
  /** One request's time limit. @default 10000 */
  timeoutMs?: number;
  /** First retry delay; it doubles up to maxBackoffMs. @default 250 */
  minBackoffMs?: number;
  /** @default 30000 */
  maxBackoffMs?: number;
  /** Called with a line for the user (down, up again, refused); at most once per change. */
  onNotice?: (line: string) => void;
}

interface Pending {
  body: Uint8Array;
  samples: number;
}

/**
 * The URL as it may be shown and kept: origin and path only.
 * @param url the receiver's URL
 * @returns `scheme://host:port/path`
 * @example
 * ```ts
 * import { shownUrl } from "./_push_queue.ts";
 * console.assert(shownUrl(new URL("http://h:9090/api/v1/write?key=s")) === "http://h:9090/api/v1/write");
 * ```
 */
export function shownUrl(url: URL): string {
  return url.origin + url.pathname;
}

/** A bounded queue of requests with one sender. */
export class PushQueue {
  #target: PushTarget;
  #queue: Pending[] = [];
  #queuedBytes = 0;
  #maxBytes: number;
  #timeoutMs: number;
  #minBackoff: number;
  #maxBackoff: number;
  #backoff = 0;
  #notice: (line: string) => void;
  #stats: PushStats;
  #down = false;
  /** Wakes the sender when it waits for work. */
  #wake: (() => void) | null = null;
  /** Wakes the sender when it waits out a backoff (finish only: new work must not hurry a retry). */
  #retryNow: (() => void) | null = null;
  #sleep: ReturnType<typeof setTimeout> | undefined;
  #abort = new AbortController();
  #closed = false;
  #loop: Promise<void>;

  /**
   * Starts the sender (idle until something is queued).
   * @param target where and how to post
   * @param options bounds, clocks, notices
   */
  constructor(target: PushTarget, options: PushQueueOptions = {}) {
    const {
      maxQueueBytes = 16 << 20,
      timeoutMs = 10_000,
      minBackoffMs = 250,
      maxBackoffMs = 30_000,
      onNotice = () => {},
    } = options;
    this.#target = target;
    this.#maxBytes = maxQueueBytes;
    this.#timeoutMs = timeoutMs;
    this.#minBackoff = minBackoffMs;
    this.#maxBackoff = maxBackoffMs;
    this.#notice = onNotice;
    this.#stats = {
      url: shownUrl(target.url),
      sent_samples: 0,
      unsent_samples: 0,
      rejected_samples: 0,
      retries: 0,
    };
    this.#loop = this.#run();
  }

  /** The counts so far (a copy). */
  get stats(): PushStats {
    return { ...this.#stats };
  }

  /** Requests waiting (the one being sent included). */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues a request; returns at once. Drops the oldest requests when the
   * byte bound would be passed (a request larger than the bound alone is
   * dropped itself), counting their samples as unsent.
   * @param body the encoded request
   * @param samples the samples it carries
   */
  enqueue(body: Uint8Array, samples: number): void {
    if (this.#closed) {
      this.#stats.unsent_samples += samples;
      return;
    }
    this.#queue.push({ body, samples });
    this.#queuedBytes += body.length;
    // Never the head while it is in flight: drop from the second on, then the new one itself.
    while (this.#queuedBytes > this.#maxBytes && this.#queue.length > 1) {
      const [dropped] = this.#queue.splice(1, 1);
      if (!dropped) break;
      this.#queuedBytes -= dropped.body.length;
      this.#stats.unsent_samples += dropped.samples;
    }
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#closed || this.#queue.length > 0) {
      const head = this.#queue[0];
      if (!head) {
        if (this.#closed) return;
        await new Promise<void>((r) => this.#wake = r);
        this.#wake = null;
        continue;
      }
      const outcome = await this.#post(head.body);
      if (this.#abort.signal.aborted) return;
      if (outcome.kind === "retry") {
        this.#stats.retries++;
        if (!this.#down) {
          this.#down = true;
          this.#notice(
            `${this.#stats.url} does not take samples now (${outcome.why}): keeping them, retrying`,
          );
        }
        this.#backoff = Math.min(
          this.#maxBackoff,
          this.#backoff ? this.#backoff * 2 : this.#minBackoff,
        );
        await new Promise<void>((r) => {
          this.#retryNow = r;
          this.#sleep = setTimeout(r, this.#backoff);
        });
        clearTimeout(this.#sleep);
        this.#retryNow = null;
        continue;
      }
      this.#queue.shift();
      this.#queuedBytes -= head.body.length;
      this.#backoff = 0;
      if (this.#down) {
        this.#down = false;
        this.#notice(`${this.#stats.url} takes samples again`);
      }
      if (outcome.kind === "sent") {
        this.#stats.sent_samples += head.samples;
      } else {
        this.#stats.rejected_samples += head.samples;
        if (this.#stats.rejected_reason === undefined) {
          this.#stats.rejected_reason = outcome.why;
          this.#notice(`${this.#stats.url} refused samples (not retried): ${outcome.why}`);
        }
      }
    }
  }

  async #post(
    body: Uint8Array,
  ): Promise<{ kind: "sent" } | { kind: "retry" | "rejected"; why: string }> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    try {
      const r = await fetch(this.#target.url, {
        method: "POST",
        headers: this.#target.headers,
        body: body as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.any([this.#abort.signal, timeout]),
        redirect: "error",
      });
      const text = r.ok ? (await r.body?.cancel(), "") : await readSome(r);
      if (r.ok) return { kind: "sent" };
      const why = `HTTP ${r.status}${text ? `: ${text}` : ""}`;
      if (r.status >= 500 || r.status === 429 || r.status === 408) return { kind: "retry", why };
      return { kind: "rejected", why };
    } catch (e: unknown) {
      const why = timeout.aborted
        ? `no answer in ${this.#timeoutMs / 1000} s`
        : e instanceof Error
        ? e.message.split("\n")[0] ?? "error"
        : String(e);
      return { kind: "retry", why };
    }
  }

  /**
   * Sends what is queued, waiting at most `deadlineMs` (a retry waiting out
   * its backoff is tried at once), then stops: what is left is counted unsent.
   * @param deadlineMs the longest wait
   * @returns the final counts
   */
  async finish(deadlineMs: number): Promise<PushStats> {
    this.#closed = true;
    this.#wake?.();
    // One try at once for what waits out a backoff; later failures back off as before.
    this.#retryNow?.();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => timer = setTimeout(r, deadlineMs));
    await Promise.race([this.#loop, late]);
    clearTimeout(timer);
    this.#abort.abort();
    clearTimeout(this.#sleep);
    this.#wake?.();
    this.#retryNow?.();
    await this.#loop;
    for (const p of this.#queue) this.#stats.unsent_samples += p.samples;
    this.#queue = [];
    this.#queuedBytes = 0;
    return this.stats;
  }
}

/** The first 200 characters of an answer's body, on one line. */
async function readSome(r: Response): Promise<string> {
  try {
    const text = await r.text();
    return text.replace(/\s+/g, " ").trim().slice(0, 200);
  } catch {
    return "";
  }
}
