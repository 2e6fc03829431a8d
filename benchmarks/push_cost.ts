/**
 * What pushing to a fleet costs (issue 23): the agent's CPU and peak memory,
 * and the traced rate, while `ioscope trace` (bpf backend) traces fio at
 * 50,000 pread64/s for 15 s, with no push, with `--remote-write` to a live
 * Prometheus (Debian's 2.42, native histograms) every second, and with
 * `--remote-write` to a receiver that accepts connections and never answers.
 * The three modes alternate within each round (the order turns every round),
 * and the figures are the medians over rounds. `deno task bench` writes them
 * into BENCHMARKS.md (`deno task bench --only push`: that section alone).
 * @module
 */

import { cpuAndRss, fioPsyncArgs } from "./agent_cost.ts";
import { median } from "./overhead.ts";
import { startDeadReceiver, startPrometheus } from "../tests/_helpers/prometheus.ts";
import { getrusage } from "../ffi/rusage.ts";
import { IOSCOPE_CMD } from "../tests/_helpers/common.ts";

/** getrusage(2)'s `who` for the children this process has waited for. */
const RUSAGE_CHILDREN = -1;

/** The ways a trace pushes. */
export const PUSH_MODES = ["none", "live", "dead"] as const;
/** One of {@linkcode PUSH_MODES}. */
export type PushMode = typeof PUSH_MODES[number];

/** One trace's figures. */
export interface PushSample {
  /** The agent's user + system CPU over its whole run (getrusage of the reaped child), seconds. */
  cpuS: number;
  /** The agent's CPU per second from 5 s after its start to 0.5 s before the trace's end, %. */
  steadyCpuPct: number | null;
  /**
   * pread64's mean latency as traced (the Run's total over its count), ns: what the
   * probes, which run in fio's context, and anything else on the host add to each call.
   */
  preadMeanNs: number;
  /** The agent's peak RSS (VmHWM, sampled every 100 ms), MiB. */
  maxRssMiB: number;
  /** The command's wall time, seconds. */
  wallS: number;
  /** fio's pread64/s while traced (the Run's count over its duration). */
  tracedRate: number;
  /** The Run's `meta.exports.remote_write`: samples sent, left unsent. */
  sent: number;
  unsent: number;
}

/** The figures of every round, per mode. */
export type PushCost = Record<PushMode, PushSample[]>;

/** What {@linkcode measurePushCost} runs. */
export interface PushCostOptions {
  /** Rounds of the three modes. @default 3 */
  rounds?: number;
  /** Each trace's `--duration`, seconds. @default 15 */
  traceS?: number;
  /** fio's `--rate_iops`. @default 50000 */
  rate?: number;
  /** Called with each trace's figures. */
  progress?: (mode: PushMode, s: PushSample) => void;
}

function hwmMiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function traceOnce(
  dir: string,
  mode: PushMode,
  urls: Record<PushMode, string | null>,
  traceS: number,
  rate: number,
): Promise<PushSample> {
  const fio = new Deno.Command("fio", {
    args: [...fioPsyncArgs(`${dir}/f`, traceS + 15, rate), "--output=/dev/null"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const url = urls[mode];
    const push = url === null ? [] : ["--remote-write", url, "--push-interval", "1s"];
    const before = getrusage(RUSAGE_CHILDREN);
    const t0 = performance.now();
    const [deno, ...ioscope] = IOSCOPE_CMD;
    const agent = new Deno.Command(deno as string, {
      args: [
        ...ioscope,
        "trace",
        "--pid",
        String(fio.pid),
        "--duration",
        `${traceS}s`,
        "--backend",
        "bpf",
        ...push,
        "--json",
        `${dir}/r.json`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let peak = 0;
    type Point = { cpuS: number; t: number };
    let from: Point | null = null;
    let to: Point | null = null;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, hwmMiB(agent.pid));
        const t = (performance.now() - t0) / 1000;
        const p = { cpuS: cpuAndRss([agent.pid]).cpuS, t };
        if (t >= 5 && from === null) from = p;
        // The trace ends traceS after the attach, itself a second or two after the start.
        if (t <= traceS + 0.5) to = p;
      } catch {
        // exited
      }
    }, 100);
    const out = await agent.output();
    clearInterval(sampler);
    const wallS = (performance.now() - t0) / 1000;
    const after = getrusage(RUSAGE_CHILDREN);
    if (!out.success) {
      throw new Error(`trace (${mode}) failed: ${new TextDecoder().decode(out.stderr)}`);
    }
    const run = JSON.parse(Deno.readTextFileSync(`${dir}/r.json`));
    const rw = run.meta.exports?.remote_write;
    const pread = run.syscalls.pread64 as { count: number; total_ns: number } | undefined;
    const a = from as Point | null; // set in the sampler
    const b = to as Point | null;
    const steady = a && b && b.t > a.t ? { a, b } : null;
    return {
      cpuS: after.userS + after.sysS - before.userS - before.sysS,
      steadyCpuPct: steady
        ? (steady.b.cpuS - steady.a.cpuS) / (steady.b.t - steady.a.t) * 100
        : null,
      preadMeanNs: pread ? pread.total_ns / Math.max(1, pread.count) : 0,
      maxRssMiB: peak,
      wallS,
      tracedRate: (pread?.count ?? 0) / run.meta.duration_s,
      sent: rw?.sent_samples ?? 0,
      unsent: rw?.unsent_samples ?? 0,
    };
  } finally {
    try {
      fio.kill("SIGKILL");
    } catch {
      // ended
    }
    await fio.status;
  }
}

/**
 * Traces fio in each push mode, `rounds` times, alternating.
 * @param options rounds, the trace's length, fio's rate
 * @returns every trace's figures, per mode
 */
export async function measurePushCost(options: PushCostOptions = {}): Promise<PushCost> {
  const { rounds = 3, traceS = 15, rate = 50_000, progress } = options;
  // /dev/shm: this host evicts a disk file's pages within seconds, and fio's reads must stay cached.
  const dir = Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "ioscope-bench-push-" });
  try {
    Deno.writeFileSync(`${dir}/f`, new Uint8Array(16 << 20).fill(1));
    Deno.mkdirSync(`${dir}/prom`);
    await using prom = await startPrometheus(`${dir}/prom`, {
      nativeHistograms: true,
      remoteWriteReceiver: true,
    });
    await using dead = startDeadReceiver();
    const urls: Record<PushMode, string | null> = {
      none: null,
      live: `${prom.base}/api/v1/write`,
      dead: `${dead.base}/api/v1/write`,
    };
    const cost: PushCost = { none: [], live: [], dead: [] };
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < PUSH_MODES.length; k++) {
        const mode = PUSH_MODES[(r + k) % PUSH_MODES.length] as PushMode;
        const s = await traceOnce(dir, mode, urls, traceS, rate);
        cost[mode].push(s);
        progress?.(mode, s);
      }
    }
    return cost;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const MODE_WORDS: Record<PushMode, string> = {
  none: "none",
  live: "`--remote-write` to Prometheus, every 1 s",
  dead: "`--remote-write` to a receiver that never answers",
};

/**
 * BENCHMARKS.md's section, between `<!-- push -->` markers.
 * @param cost what {@linkcode measurePushCost} measured
 * @param options the rounds, trace length and rate it ran with
 * @returns the section's lines
 */
export function pushCostSection(
  cost: PushCost,
  options: { rounds: number; traceS: number; rate: number },
): string[] {
  const f = (x: number | null, d: number) => x === null ? "n/a" : x.toFixed(d);
  const med = (mode: PushMode, pick: (s: PushSample) => number | null) =>
    median(cost[mode].map(pick).filter((x): x is number => x !== null));
  const all = (mode: PushMode, pick: (s: PushSample) => number, d: number) =>
    cost[mode].map((s) => pick(s).toFixed(d)).join(" ");
  const rows = PUSH_MODES.map((m) =>
    `| ${MODE_WORDS[m]} | ${f(med(m, (s) => s.cpuS), 2)} s (${all(m, (s) => s.cpuS, 2)}) | ${
      f(med(m, (s) => s.steadyCpuPct), 2)
    }% | ${f(med(m, (s) => s.maxRssMiB), 1)} MiB | ${f(med(m, (s) => s.tracedRate), 0)} /s | ${
      f(med(m, (s) => s.preadMeanNs), 0)
    } ns | ${f(med(m, (s) => s.wallS), 1)} s | ${f(med(m, (s) => s.sent), 0)} / ${
      f(med(m, (s) => s.unsent), 0)
    } |`
  );
  const cpu = (m: PushMode) => med(m, (s) => s.cpuS) ?? 0;
  const steady = (m: PushMode) => med(m, (s) => s.steadyCpuPct) ?? 0;
  const rss = (m: PushMode) => med(m, (s) => s.maxRssMiB) ?? 0;
  const perRead = (m: PushMode) => med(m, (s) => s.preadMeanNs) ?? 0;
  // Measurable: further from no push than no push's own rounds are from each other.
  const noneReads = cost.none.map((s) => s.preadMeanNs);
  const spread = Math.max(...noneReads) - Math.min(...noneReads);
  const rateOf = (m: PushMode) => med(m, (s) => s.tracedRate) ?? 0;
  const held = rateOf("dead") >= rateOf("none") * 0.99;
  const readDiff = perRead("dead") - perRead("none");
  const traceCost = held && Math.abs(readDiff) <= spread
    ? "costs the trace nothing measurable: fio holds its rate and pread64 takes " +
      `${f(perRead("dead"), 0)} ns on average against ${f(perRead("none"), 0)} ns with no ` +
      `push, within the ${f(spread, 0)} ns that no push's own rounds spread`
    : `changes pread64's mean by ${f(readDiff, 0)} ns (no push's own rounds spread ` +
      `${f(spread, 0)} ns) and fio's rate from ${f(rateOf("none"), 0)} to ` +
      `${f(rateOf("dead"), 0)} /s`;
  return [
    "<!-- push -->",
    "## Pushing to a fleet: cost",
    "",
    `\`deno task bench --only push\` (benchmarks/push_cost.ts): \`ioscope trace --backend bpf\` ` +
    `traces fio (psync 4 KiB page-cached reads, \`--rate_iops=${options.rate}\`) for ` +
    `${options.traceS} s with no push, with \`--remote-write\` to a live Prometheus 2.42 ` +
    "(native histograms) every second, and with `--remote-write` to a loopback listener that " +
    `accepts connections and never answers; the modes alternate, ${options.rounds} rounds, the ` +
    "order turning every round; medians (each round's figure in brackets). The agent's CPU is " +
    "user + system over its whole run, start-up and the Run document included (getrusage of the " +
    "reaped child); steady CPU is from /proc/PID/stat between 5 s after the start and the " +
    "trace's end; peak RSS is VmHWM, sampled every 100 ms; pread64's mean is the Run's (its " +
    "total time over its count: the probes run in fio's context, so a cost to the trace shows " +
    "there, or as a rate below fio's).",
    "",
    "| push | agent CPU, whole run | agent CPU, steady | peak RSS | fio's rate while traced | pread64's mean, as traced | command's wall time | samples sent / unsent |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    "Pushing to Prometheus every second costs the agent " +
    `${f(cpu("live") - cpu("none"), 2)} s more CPU over the whole run and ` +
    `${f(steady("live") - steady("none"), 2)}% of a core more while tracing (` +
    `${f((steady("live") - steady("none")) * 10, 1)} ms a push), and ` +
    `${f(rss("live") - rss("none"), 1)} MiB more memory (the npm encoders are loaded only when ` +
    "pushing). A receiver that never answers costs the agent about as much (" +
    `${f(cpu("dead") - cpu("none"), 2)} s, ${f(rss("dead") - rss("none"), 1)} MiB: each push is ` +
    `encoded and queued all the same) and ${traceCost}. The ` +
    "command ends up to 5 s later: the " +
    "bounded wait for the receiver after the trace; the samples it could not send are counted " +
    "in the Run.",
    "",
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    "<!-- /push -->",
  ];
}
