/**
 * The push options of `trace` (`--remote-write`, `--remote-write-auth`,
 * `--otlp`, `--push-interval`, `--metrics-pid`): parsed and checked before the
 * trace starts (bad input exits 2 then, never after), and the timer that
 * pushes the Run so far every interval.
 * @module
 */

import { type FlagTable, parseDurationMs } from "./_args.ts";
import { UsageError } from "../mod.ts";
import type { ExportStats, RunDocument } from "../../schema/mod.ts";
import { parsePushUrl, type PushOptions, readAuthFile } from "../nightly/mod.ts";
import { terminalSafe } from "./terminal_safe.ts";

/** The flags, for the command's table. */
export const PUSH_FLAGS: FlagTable = {
  "remote-write": { type: "string" },
  "remote-write-auth": { type: "string" },
  "remote-write-classic": { type: "boolean", default: false },
  otlp: { type: "string" },
  "push-interval": { type: "string" },
  "metrics-pid": { type: "boolean", default: false },
};

/** The flags' help lines. */
export const PUSH_HELP =
  `  --remote-write URL push to a Prometheus remote-write 1.0 receiver (native
                     histograms): every --push-interval and the whole Run at
                     the end; a receiver down or slow never slows the trace
  --remote-write-auth FILE
                     credentials for --remote-write: one line, 'bearer TOKEN'
                     or 'basic USER:PASSWORD', in a file only you can read
  --remote-write-classic
                     also send classic le buckets, for a receiver that drops
                     native histograms (Debian's VictoriaMetrics 1.79)
  --otlp URL         push OTLP/HTTP protobuf metrics (ExponentialHistogram),
                     e.g. http://collector:4318/v1/metrics
  --push-interval T  how often to push (whole seconds; default 10s)
  --metrics-pid      add a pid label to --prom, --remote-write and --otlp
                     series (one series per process: a fleet's multiply)`;

/** Push options as parsed. */
export interface PushArgs {
  options: PushOptions;
  everyMs: number;
}

/** The longest wait for the receivers once the trace ended. */
const FINISH_DEADLINE_MS = 5_000;

/**
 * Reads the push flags; throws a UsageError for a malformed URL, an unsafe
 * or unreadable credentials file, or an option without its push.
 * @param values the parsed flags
 * @returns the options, or null when nothing is pushed
 */
export function parsePushArgs(
  values: Record<string, string | boolean | undefined>,
): PushArgs | null {
  const rw = values["remote-write"];
  const auth = values["remote-write-auth"];
  const otlp = values.otlp;
  const every = values["push-interval"];
  if (
    (typeof auth === "string" || values["remote-write-classic"] === true) && typeof rw !== "string"
  ) {
    throw new UsageError(
      `${
        typeof auth === "string" ? "--remote-write-auth" : "--remote-write-classic"
      } goes with --remote-write URL`,
    );
  }
  if (typeof rw !== "string" && typeof otlp !== "string") {
    if (typeof every === "string") {
      throw new UsageError("--push-interval goes with --remote-write URL or --otlp URL");
    }
    return null;
  }
  let everyMs = 10_000;
  if (typeof every === "string") {
    everyMs = parseDurationMs(every, "--push-interval");
    if (everyMs < 1000 || everyMs % 1000 !== 0) {
      throw new UsageError(`invalid --push-interval '${every}': use whole seconds (1s, 10s)`);
    }
  }
  const options: PushOptions = {};
  if (typeof rw === "string") options.remoteWrite = parsePushUrl(rw, "--remote-write");
  if (typeof auth === "string") options.remoteWriteAuth = readAuthFile(auth);
  if (values["remote-write-classic"] === true) options.remoteWriteClassic = true;
  if (typeof otlp === "string") options.otlp = parsePushUrl(otlp, "--otlp");
  return { options, everyMs };
}

/** A push under way. */
export interface Pushing {
  /** Pushes the final Run, waits for the receivers (a few seconds at most), returns their counts. */
  finish(run: RunDocument): Promise<Record<string, ExportStats>>;
  /** Stops the timer and drops what is queued (an early end). Idempotent. */
  close(): Promise<void>;
}

/**
 * Pushes `current()` every interval until finished; notices (receiver down,
 * back, refusing) go to stderr once each.
 * @param args the parsed push options
 * @param current the Run so far
 * @param pidLabel `--metrics-pid`
 * @returns the push
 */
export async function startPushing(
  args: PushArgs,
  current: () => RunDocument,
  pidLabel: boolean,
): Promise<Pushing> {
  // The encoders (npm packages) are loaded only when something is pushed.
  // Loaded only when pushing: push.ts brings the npm encoders (protobufjs,
  // snappyjs, OpenTelemetry), which a plain trace must not need (a trace run
  // as another user has no writable npm cache).
  const { Pushers } = await import("../nightly/push.ts");
  const pushers = new Pushers(
    { ...args.options, pidLabel },
    (line) => console.error(`ioscope: ${terminalSafe(line)}`),
  );
  const timer = setInterval(() => pushers.push(current()), args.everyMs);
  let finished: Promise<Record<string, ExportStats>> | null = null;
  return {
    finish(run) {
      clearInterval(timer);
      finished ??= pushers.finish(run, FINISH_DEADLINE_MS);
      return finished;
    },
    async close() {
      clearInterval(timer);
      finished ??= pushers.finish(current(), 0);
      await finished.catch(() => {});
    },
  };
}
