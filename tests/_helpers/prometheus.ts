/**
 * Test helper: a real Prometheus (Debian's package) on a free loopback port,
 * with its own config and data directory, killed on dispose; a free port; a
 * receiver that never answers; and the workloads the push tests trace (fio
 * reading a page-cached file, a shell loop), each killed (SIGKILL) and reaped
 * on dispose.
 * @module
 */

import { assert } from "./assert.ts";
import { killOnDispose } from "./common.ts";
import {
  nativeBoundsNs,
  nativeIndexOfNs,
  toNative,
} from "../../agent/nightly/_native_histogram.ts";
import type { RunDocument } from "../../schema/mod.ts";

/** A free TCP port on 127.0.0.1 (free when asked: bind it soon). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** What to start Prometheus with. */
export interface PrometheusOptions {
  /** A `HOST:PORT` to scrape every second (job `ioscope`). */
  scrape?: string;
  /** `--enable-feature=native-histograms`: scrape protobuf, keep native histograms. */
  nativeHistograms?: boolean;
  /** `--web.enable-remote-write-receiver`. */
  remoteWriteReceiver?: boolean;
  /** The port (a restart keeps its port). @default a free one */
  port?: number;
}

/** A running Prometheus. */
export interface Prometheus extends AsyncDisposable {
  base: string;
  port: number;
  child: Deno.ChildProcess;
  /** An instant query; throws unless it succeeds. */
  query(expr: string, time?: number): Promise<
    { metric: Record<string, string>; value?: [number, string]; histogram?: [number, unknown] }[]
  >;
  /** Every sample of a float series over the last minute before `time`, [seconds, value]. */
  queryRange(expr: string, time: number): Promise<[number, string][]>;
}

/**
 * Starts Prometheus and waits until it is ready (30 s at most).
 * @param dir its config and data directory (data survives a restart in the same dir)
 * @param options what to scrape, which features
 * @returns the running server
 */
export async function startPrometheus(
  dir: string,
  options: PrometheusOptions = {},
): Promise<Prometheus> {
  const port = options.port ?? freePort();
  const scrape = options.scrape === undefined ? "" : `scrape_configs:
  - job_name: ioscope
    static_configs:
      - targets: ["${options.scrape}"]
`;
  Deno.writeTextFileSync(
    `${dir}/prometheus.yml`,
    `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
${scrape}`,
  );
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
      ...(options.nativeHistograms ? ["--enable-feature=native-histograms"] : []),
      ...(options.remoteWriteReceiver ? ["--web.enable-remote-write-receiver"] : []),
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const errors = (async () => {
    let text = "";
    for await (const c of child.stderr) text += new TextDecoder().decode(c);
    return text;
  })();
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/-/ready`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`prometheus did not become ready: ${await errors}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const get = async (expr: string, time?: number) => {
    const url = new URL(`${base}/api/v1/query`);
    url.searchParams.set("query", expr);
    if (time !== undefined) url.searchParams.set("time", String(time));
    const body = await (await fetch(url)).json();
    if (body.status !== "success") throw new Error(`query ${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
  };
  return {
    base,
    port,
    child,
    query: get,
    async queryRange(expr, time) {
      return (await get(`${expr}[60s]`, time))[0]?.values ?? [];
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      await errors;
    },
  };
}

/** What {@linkcode startFioReader} runs. */
export interface FioReaderOptions {
  /** fio's `--rate_iops`. @default unlimited */
  rateIops?: number;
}

/**
 * fio reading a 32 MiB file of `dir` with pread64 (4 KiB random reads, psync,
 * a thread) for `seconds`; the file is written first (in /dev/shm it stays cached).
 * @param dir where the file goes
 * @param seconds fio's `--runtime`
 * @param options a rate limit, a job name
 * @returns the fio process, killed (SIGKILL) and reaped on dispose
 */
export function startFioReader(
  dir: string,
  seconds: number,
  options: FioReaderOptions = {},
): Deno.ChildProcess & AsyncDisposable {
  const { rateIops } = options;
  Deno.writeFileSync(`${dir}/fio.dat`, new Uint8Array(32 << 20).fill(3));
  return killOnDispose(
    new Deno.Command("fio", {
      args: [
        "--name=reader",
        `--filename=${dir}/fio.dat`,
        "--size=32M",
        "--rw=randread",
        "--bs=4k",
        "--ioengine=psync",
        "--thread",
        "--invalidate=0",
        "--time_based",
        `--runtime=${seconds}`,
        ...(rateIops === undefined ? [] : [`--rate_iops=${rateIops}`]),
        "--output=/dev/null",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn(),
  );
}

/**
 * A shell that makes a few syscalls every `sleepS` (`cat /proc/self/stat`, then sleep).
 * @param sleepS the pause between rounds, seconds
 * @returns the shell, killed (SIGKILL) and reaped on dispose
 */
export function startShellLoop(sleepS: number): Deno.ChildProcess & AsyncDisposable {
  return killOnDispose(
    new Deno.Command("sh", {
      args: ["-c", `while :; do cat /proc/self/stat >/dev/null; sleep ${sleepS}; done`],
      stdout: "null",
      stderr: "null",
    }).spawn(),
  );
}

/** A loopback listener that accepts connections and never reads or answers. */
export interface DeadReceiver extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  base: string;
  /** The connections it holds. */
  held: Deno.Conn[];
}

/**
 * Listens on a free loopback port, accepts every connection and holds it,
 * never reading or answering: a receiver that hangs.
 * @returns the receiver; dispose closes the listener and every connection
 */
export function startDeadReceiver(): DeadReceiver {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const c of listener) held.push(c);
    } catch {
      // closed
    }
  })();
  return {
    base: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    held,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of held) {
        try {
          c.close();
        } catch {
          // closed already
        }
      }
      await accepting;
    },
  };
}

/**
 * How far a fleet store's P99 of a syscall may be from the Run's: one native
 * bucket, the width of the one holding the Run's P99 (the Run's buckets are
 * native ones: no re-bucketing; asserted).
 * @param run the Run
 * @param syscall the syscall
 * @returns nanoseconds
 */
export function p99Tolerance(run: RunDocument, syscall: string): number {
  const s = run.syscalls[syscall];
  assert(s, `${syscall} in the Run`);
  assert(toNative(s.buckets, 0).exact, `${syscall}: the Run's buckets are schema-4 buckets`);
  const [lo, hi] = nativeBoundsNs(nativeIndexOfNs(Math.max(1, s.p99_ns)));
  return hi - lo;
}

/**
 * `histogram_count(selector)` of a native histogram series.
 * @param prom the server
 * @param selector one series
 * @param at the query's time, seconds @default now
 * @returns the count, NaN unless exactly one series answered
 */
export async function histogramCount(
  prom: Prometheus,
  selector: string,
  at?: number,
): Promise<number> {
  const r = await prom.query(`histogram_count(${selector})`, at);
  return r.length === 1 ? Number(r[0]?.value?.[1]) : NaN;
}
