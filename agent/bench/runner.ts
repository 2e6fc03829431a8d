/**
 * The bench workload: runs each I/O path of a scenario in its own worker
 * process, traces that process with the same probes as `ioscope trace --pid`,
 * checks the bytes it moved against the file's checksum, and puts the paths
 * side by side in a Bench document.
 *
 * One path, start to end:
 *   sink (serve only) listens -> worker opens the file, sets up, runs the
 *   path once untimed and hashes what it delivered (scan), stops itself ->
 *   bench attaches the trace, resumes it -> the worker runs the path once,
 *   timed, writes its figures to the control file and stops itself -> bench
 *   ends the trace, resumes it, it exits.
 * @module
 */

import { ioUringUnavailable } from "../../ffi/mod.ts";
import { type BackendChoice, type BackendName, resolveBackend } from "../trace/backends/mod.ts";
import { FIO_ENGINES, runFio } from "./fio.ts";
import {
  type BenchDocument,
  benchOpStats,
  type BenchPathResult,
  type FioResult,
  type RunDocument,
  sizeText,
} from "../../schema/mod.ts";
import { PATH_OPS, PATH_SUMMARY, type Scenario, SCENARIO_PATHS } from "./paths.ts";
import {
  CONTROL_BYTES,
  parseControl,
  PHASE_DONE,
  PHASE_READY,
  type WorkerResult,
  type WorkerSpec,
} from "./_protocol.ts";
import { RunError, UsageError } from "../mod.ts";
import { forEachLine, readStat, startTrace, type TraceSession } from "../trace/mod.ts";

/** Options of {@linkcode runBench}. */
export interface BenchOptions {
  /** @default "scan" */
  scenario?: Scenario;
  /** The paths to run, in order. @default every path of the scenario */
  paths?: string[];
  /** Size of the file bench creates (and removes). @default 256 MiB */
  sizeBytes?: number;
  /** An existing file to use instead (read only). */
  file?: string;
  /** Bytes per call. @default 1 MiB */
  blockBytes?: number;
  /** io_uring requests in flight. @default 8 */
  queueDepth?: number;
  /** The trace backend, or "none" to run untraced. @default "auto" */
  backend?: BackendName | "none";
  /** scan: also run fio's matching engine on the same file after each path. @default false */
  fio?: boolean;
  /**
   * Runs per path (each followed by fio's, with `fio`); the document keeps
   * the run with the median throughput and lists them all. @default 1
   */
  repeat?: number;
  /** Where to create the file. @default the system's temporary directory */
  dir?: string;
  /** Gets one line per step, for a terminal. @default nothing */
  onProgress?: (line: string) => void;
  /** Ends the bench early: children are killed and files removed. */
  signal?: AbortSignal;
}

const GIB = 2 ** 30;
const MIB = 2 ** 20;
const POLL_MS = 5;
/** Between the probes attaching and the timed part: the backend's start-up work passes. */
const SETTLE_MS = 250;

function checkOptions(o: BenchOptions): Required<Omit<BenchOptions, "file" | "dir" | "signal">> {
  const scenario = o.scenario ?? "scan";
  if (!(scenario in SCENARIO_PATHS)) {
    throw new UsageError(`unknown scenario '${scenario}': use scan or serve`);
  }
  const known = SCENARIO_PATHS[scenario];
  const paths = o.paths ?? [...known];
  if (paths.length === 0) throw new UsageError("no paths to run: give at least one in --paths");
  for (const p of paths) {
    if (!known.includes(p)) {
      throw new UsageError(`unknown ${scenario} path '${p}': use ${known.join(", ")}`);
    }
  }
  if (new Set(paths).size !== paths.length) {
    throw new UsageError("a path is named twice in --paths");
  }
  const blockBytes = o.blockBytes ?? MIB;
  if (!Number.isInteger(blockBytes) || blockBytes < 512 || blockBytes > 256 * MIB) {
    throw new UsageError(`invalid --block ${blockBytes}: use 512 bytes to 256MiB`);
  }
  const queueDepth = o.queueDepth ?? 8;
  if (!Number.isInteger(queueDepth) || queueDepth < 1 || queueDepth > 1024) {
    throw new UsageError(`invalid --queue-depth ${queueDepth}: use 1 to 1024`);
  }
  const repeat = o.repeat ?? 1;
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 100) {
    throw new UsageError(`invalid --repeat ${repeat}: use 1 to 100`);
  }
  const sizeBytes = o.sizeBytes ?? 256 * MIB;
  if (!Number.isInteger(sizeBytes) || sizeBytes < 1) {
    throw new UsageError(`invalid --size ${sizeBytes}: it must be at least 1 byte`);
  }
  return {
    scenario,
    paths,
    sizeBytes,
    blockBytes,
    queueDepth,
    backend: o.backend ?? "auto",
    fio: o.fio ?? false,
    repeat,
    onProgress: o.onProgress ?? (() => {}),
  };
}

/**
 * Runs a bench: every chosen path of one scenario, each in its own traced
 * worker process.
 * @param options scenario, paths, file or size, block size, queue depth, backend
 * @returns the Bench document
 * @throws UsageError for bad options or a host that cannot trace (not root);
 *   RunError when a path fails
 * @example
 * ```ts ignore
 * const doc = await runBench({ scenario: "serve", sizeBytes: 64 << 20 });
 * console.log(doc.paths.sendfile?.throughput_mib_s);
 * ```
 */
export async function runBench(options: BenchOptions = {}): Promise<BenchDocument> {
  const o = checkOptions(options);
  const traced = o.backend !== "none";
  if (traced && Deno.uid() !== 0) {
    throw new UsageError(
      "bench traces every path, and tracing needs root: run with sudo, or use --backend none",
    );
  }
  // Chosen once; every path and fio run is traced with this choice.
  const choice = traced ? resolveBackend(o.backend as BackendName) : null;
  const backend = choice?.name ?? "none";
  const signal = options.signal;
  const work = await Deno.makeTempDir({
    prefix: "ioscope-bench-",
    ...(options.dir !== undefined ? { dir: options.dir } : {}),
  });
  try {
    let file: string;
    let size: number;
    let digest: string;
    // Loaded here, not at the top: _checksum.ts imports node:crypto, whose start-up
    // (100 ms and more on a busy host) every `ioscope trace` would pay, as mod.ts
    // exports runBench.
    const { fileDigest, writeRandomFile } = await import("./_checksum.ts");
    if (options.file !== undefined) {
      file = options.file;
      const st = await Deno.stat(file).catch((e: unknown) => {
        const why = e instanceof Deno.errors.NotFound ? "no such file" : String(e);
        throw new UsageError(`cannot use --file ${file}: ${why}`);
      });
      if (!st.isFile) throw new UsageError(`cannot use --file ${file}: not a regular file`);
      if (st.size === 0) throw new UsageError(`cannot use --file ${file}: it is empty`);
      o.onProgress(`Reading ${file} (${sizeText(st.size)}) for its checksum...`);
      const d = await fileDigest(file, o.blockBytes).catch((e: unknown) => {
        throw new RunError(`cannot read --file ${file}: ${e instanceof Error ? e.message : e}`);
      });
      file = await Deno.realPath(file);
      size = d.bytes;
      digest = d.digest;
    } else {
      file = `${work}/data`;
      size = o.sizeBytes;
      o.onProgress(`Writing a ${sizeText(size)} file of random bytes in ${work}...`);
      digest = await writeRandomFile(file, size, o.blockBytes).catch((e: unknown) => {
        const why = e instanceof Error ? e.message : String(e);
        throw new RunError(
          `cannot write the ${sizeText(size)} bench file in ${work}: ${why}; ` +
            "use --dir elsewhere or a smaller --size",
        );
      });
    }
    const doc: BenchDocument = {
      schema: "ioscope.bench/1",
      scenario: o.scenario,
      file_size: size,
      block_size: o.blockBytes,
      queue_depth: o.queueDepth,
      host: {
        host: Deno.hostname(),
        kernel: Deno.osRelease(),
        cpus: navigator.hardwareConcurrency,
        mem_bytes: Deno.systemMemoryInfo().total,
      },
      backend,
      repeat: o.repeat,
      paths: {},
      unsupported: [],
    };
    const uringWhy = o.paths.some((p) => p.startsWith("io_uring")) ? ioUringUnavailable() : null;
    for (const path of o.paths) {
      signal?.throwIfAborted();
      if (path.startsWith("io_uring") && uringWhy) {
        doc.unsupported.push({ path, reason: uringWhy });
        o.onProgress(`${o.scenario} ${path}: skipped: ${uringWhy}`);
        continue;
      }
      const spec: WorkerSpec = {
        scenario: o.scenario,
        path,
        file,
        fileSize: size,
        blockSize: o.blockBytes,
        queueDepth: o.queueDepth,
        control: `${work}/control-${path}`,
      };
      const runs: BenchPathResult[] = [];
      const fios: FioResult[] = [];
      for (let k = 0; k < o.repeat; k++) {
        signal?.throwIfAborted();
        runs.push(await runPath(spec, digest, { choice, signal }));
        if (o.fio && o.scenario === "scan" && FIO_ENGINES[path]) {
          fios.push(
            await runFio({
              file,
              path,
              sizeBytes: size,
              blockBytes: o.blockBytes,
              queueDepth: o.queueDepth,
            }, {
              ...(choice ? { backend: choice, settleMs: SETTLE_MS } : {}),
              dir: work,
            }),
          );
        }
      }
      const r = medianRun(runs);
      r.checksum_ok = runs.every((x) => x.checksum_ok);
      if (o.repeat > 1) r.repeats_mib_s = runs.map((x) => x.throughput_mib_s);
      if (fios.length > 0) {
        r.fio = medianRun(fios);
        if (o.repeat > 1) r.fio.repeats_mib_s = fios.map((x) => x.throughput_mib_s);
      }
      doc.paths[path] = r;
      o.onProgress(progressLine(o.scenario, path, r));
      if (!r.checksum_ok) {
        throw new RunError(
          `${o.scenario} ${path} delivered bytes that do not match the file's checksum`,
        );
      }
    }
    return doc;
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** The run with the median throughput (the lower middle one for an even count). */
function medianRun<T extends { throughput_mib_s: number }>(runs: T[]): T {
  const sorted = [...runs].sort((a, b) => a.throughput_mib_s - b.throughput_mib_s);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function progressLine(scenario: string, path: string, r: BenchPathResult): string {
  const fio = r.fio
    ? `, fio ${r.fio.engine} ${r.fio.throughput_mib_s.toFixed(0)} MiB/s (${
      (100 * r.throughput_mib_s / r.fio.throughput_mib_s).toFixed(0)
    }%)`
    : "";
  return `${scenario} ${path}: ${r.throughput_mib_s.toFixed(0)} MiB/s, ` +
    `${r.cpu_s_per_gib.toFixed(3)} CPU s/GiB, checksum ${r.checksum_ok ? "ok" : "WRONG"}${fio}`;
}

interface Child {
  proc: Deno.ChildProcess;
  exited: boolean;
  stderr: string[];
  /** Kills it if it still runs, and reaps it. */
  reap(): Promise<void>;
}

function spawn(script: string, arg: string, stdout: "piped" | "null"): Child {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL(script, import.meta.url).pathname, arg],
    stdin: "null",
    stdout,
    stderr: "piped",
  }).spawn();
  const c: Child = {
    proc,
    exited: false,
    stderr: [],
    async reap() {
      if (!c.exited) {
        try {
          proc.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
      await proc.status;
      await stderrDone;
    },
  };
  const stderrDone = forEachLine(proc.stderr, (l) => c.stderr.push(l)).catch(() => {});
  proc.status.then(() => c.exited = true);
  return c;
}

function childFailure(what: string, c: Child): RunError {
  const why = c.stderr.filter((l) => l.trim() !== "").slice(-1)[0] ?? "it exited early";
  return new RunError(`${what} failed: ${why}`);
}

async function waitPhase(
  c: Child,
  control: string,
  phase: number,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<WorkerResult | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal?.throwIfAborted();
    if (c.exited) {
      await new Promise((r) => setTimeout(r, 20)); // let stderr arrive
      throw childFailure("the bench worker", c);
    }
    const st = readStat(c.proc.pid);
    if (st?.state === "T" || st?.state === "t") {
      const { phase: now, result } = parseControl(Deno.readFileSync(control));
      if (now === phase) return result;
    }
    if (Date.now() > deadline) {
      throw new RunError(`the bench worker did not reach phase ${phase} in ${timeoutMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function startSink(
  spec: WorkerSpec,
  signal: AbortSignal | undefined,
): Promise<{ child: Child; port: number; result: Promise<{ bytes: number; digest: string }> }> {
  const child = spawn(
    "./_sink.ts",
    JSON.stringify({ fileSize: spec.fileSize, blockSize: spec.blockSize }),
    "piped",
  );
  const lines: string[] = [];
  let wake = () => {};
  const stdoutDone = forEachLine(child.proc.stdout, (l) => {
    lines.push(l);
    wake();
  }).catch(() => {});
  const next = async (what: string): Promise<Record<string, unknown>> => {
    while (lines.length === 0) {
      if (child.exited) {
        await stdoutDone;
        if (lines.length > 0) break;
        throw childFailure("the bench sink", child);
      }
      signal?.throwIfAborted();
      await Promise.race([
        new Promise<void>((r) => wake = r),
        child.proc.status,
        new Promise((r) => setTimeout(r, 100)),
      ]);
    }
    try {
      return JSON.parse(lines.shift()!) as Record<string, unknown>;
    } catch {
      throw new RunError(`the bench sink printed something other than its ${what}`);
    }
  };
  try {
    const { port } = await next("port") as { port: number };
    const result = next("result") as Promise<{ bytes: number; digest: string }>;
    result.catch(() => {});
    return { child, port, result };
  } catch (e: unknown) {
    await child.reap();
    throw e;
  }
}

async function runPath(
  spec: WorkerSpec,
  digest: string,
  o: { choice: BackendChoice | null; signal: AbortSignal | undefined },
): Promise<BenchPathResult> {
  await Deno.writeFile(spec.control, new Uint8Array(CONTROL_BYTES));
  const timeoutMs = Math.max(60_000, spec.fileSize / (20 * MIB) * 1000);
  let sink: Awaited<ReturnType<typeof startSink>> | null = null;
  let worker: Child | null = null;
  let session: TraceSession | null = null;
  try {
    if (spec.scenario === "serve") {
      sink = await startSink(spec, o.signal);
      spec.port = sink.port;
    }
    worker = spawn("./_worker.ts", JSON.stringify(spec), "null");
    await waitPhase(worker, spec.control, PHASE_READY, timeoutMs, o.signal);
    if (o.choice) {
      session = await startTrace({
        pids: [worker.proc.pid],
        cmdline: `ioscope bench worker: ${spec.scenario} ${spec.path}`,
      }, { backend: o.choice });
      // Let the backend's start-up work (its first reads, the agent's first
      // samples) pass before the timed part, on hosts with few CPUs.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
    }
    Deno.kill(worker.proc.pid, "SIGCONT");
    const result = await waitPhase(worker, spec.control, PHASE_DONE, timeoutMs, o.signal);
    const run = session ? await session.stop() : null;
    session = null;
    Deno.kill(worker.proc.pid, "SIGCONT");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      worker.proc.status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
    ]);
    clearTimeout(timer);
    if (!status?.success) throw childFailure("the bench worker", worker);
    if (!result) throw new RunError("the bench worker reported no result");
    const seen = sink ? await sink.result : null;
    return pathResult(spec, result, run, digest, seen);
  } finally {
    if (session) await session.stop().catch(() => {});
    await worker?.reap();
    await sink?.child.reap();
  }
}

function pathResult(
  spec: WorkerSpec,
  w: WorkerResult,
  run: RunDocument | null,
  digest: string,
  sink: { bytes: number; digest: string } | null,
): BenchPathResult {
  const checksumOk = sink
    ? sink.bytes === spec.fileSize && sink.digest === digest && w.bytes === spec.fileSize
    : w.verify !== null && w.verify.digest === digest && w.verify.bytes === spec.fileSize &&
      w.fingerprint === w.verify.fingerprint && w.bytes === spec.fileSize;
  const cpu = w.cpu_user_s + w.cpu_sys_s;
  // The document names the op its percentiles are from: the traced op of
  // PATH_OPS when the trace has it, else what the worker's clock timed.
  const want = PATH_OPS[spec.scenario][spec.path]?.latency ?? null;
  const found = want ? benchOpStats(run, want) : undefined;
  // An op the trace saw no request of has no latency: null, not 0.
  const traced = found && found.count > 0 ? found : undefined;
  const measured = traced !== undefined || w.block_p50_ns != null;
  const op = traced && want ? want : w.op;
  const syscalls = run ? Object.values(run.syscalls).reduce((s, x) => s + x.count, 0) : w.calls;
  const workerFaults = w.minor_faults + w.major_faults;
  return {
    throughput_mib_s: round(w.bytes / MIB / w.elapsed_s, 1),
    p50_ns: traced ? traced.p50_ns : w.block_p50_ns ?? null,
    p99_ns: traced ? traced.p99_ns : w.block_p99_ns ?? null,
    syscalls,
    faults: run ? run.faults.total : workerFaults,
    cpu_s: round(cpu, 4),
    cpu_user_s: round(w.cpu_user_s, 4),
    cpu_sys_s: round(w.cpu_sys_s, 4),
    bytes: w.bytes,
    elapsed_s: round(w.elapsed_s, 4),
    checksum_ok: checksumOk,
    op,
    latency_source: traced ? "trace" : measured ? "worker" : "none",
    cpu_s_per_gib: round(cpu / (w.bytes / GIB), 4),
    worker_calls: w.calls,
    worker_faults: workerFaults,
    block_p50_ns: w.block_p50_ns,
    block_p99_ns: w.block_p99_ns,
    teardown_s: round(w.teardown_s, 4),
    description: PATH_SUMMARY[spec.scenario][spec.path] ?? spec.path,
    run: run ?? {},
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
