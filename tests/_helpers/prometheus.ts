/**
 * Test helper: a real Prometheus (Debian's package) on a free loopback port,
 * with its own config and data directory, killed on dispose; and a free port.
 * @module
 */

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
