/**
 * fio as the independent reference for `scan`: the same file, block size and
 * queue depth through fio's matching engine, run right after bench's path,
 * and traced the same way when bench traces, so that both pay the same
 * probes.
 * @module
 */

import type { BackendChoice, BackendName } from "../trace/backends/mod.ts";
import { findCommand, RunError } from "../mod.ts";
import type { FioResult, RunDocument } from "../../schema/mod.ts";
import { startStoppedCommand, startTrace } from "../trace/mod.ts";

/** fio's engine for each scan path. */
export const FIO_ENGINES: Record<string, string> = {
  read: "psync",
  readv: "pvsync",
  mmap: "mmap",
  io_uring: "io_uring",
};

/**
 * The fio command line for a scan path: one sequential pass over the file,
 * page cache kept (`--invalidate=0`), page-aligned buffers, JSON output. For
 * io_uring, the file is registered as bench's path does.
 * @param o the file, path, size, block size, queue depth
 * @returns argv, without `fio`
 */
export function fioArgs(o: {
  file: string;
  path: string;
  sizeBytes: number;
  blockBytes: number;
  queueDepth: number;
}): string[] {
  const engine = FIO_ENGINES[o.path];
  if (!engine) throw new RangeError(`fio has no engine that matches the '${o.path}' path`);
  const args = [
    "--name=ioscope-ref",
    `--filename=${o.file}`,
    "--rw=read",
    `--bs=${o.blockBytes}`,
    `--size=${o.sizeBytes}`,
    `--ioengine=${engine}`,
    "--invalidate=0",
    // Page-aligned buffers, as bench's (fio's default malloc buffers are
    // 16-byte aligned, which makes the kernel's copy several times slower).
    "--mem_align=4096",
    "--readonly",
    "--output-format=json",
  ];
  if (engine === "io_uring") {
    args.push(`--iodepth=${o.queueDepth}`, "--registerfiles=1");
  }
  return args;
}

/** How {@linkcode runFio} runs fio. */
export interface FioRunOptions {
  /**
   * Trace fio with this backend, as bench traces its own workers (fio runs
   * its job as a thread, so the one process holds all its I/O). @default untraced
   */
  backend?: BackendName | BackendChoice;
  /** Wait this long between the probes attaching and fio starting. @default 0 */
  settleMs?: number;
  /** Where fio may write its JSON. @default a temporary file */
  dir?: string;
}

/**
 * Runs fio once with {@linkcode fioArgs}, traced or not.
 * @param o as for fioArgs
 * @param options backend (to trace it), settle time, scratch directory
 * @returns fio's throughput and CPU time, and its Run document when traced
 * @throws RunError when fio is missing or fails
 */
export async function runFio(
  o: Parameters<typeof fioArgs>[0],
  options: FioRunOptions = {},
): Promise<FioResult> {
  const { backend, settleMs = 0 } = options;
  const fio = findCommand("fio");
  if (!fio) throw new RunError("fio is not installed: apt-get install fio, or leave out --fio");
  const args = [...fioArgs(o), "--thread"];
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "ioscope-fio-" });
  const output = `${dir}/fio-${o.path}.json`;
  const command = `fio ${args.join(" ")}`;
  try {
    let run: RunDocument | undefined;
    if (backend) {
      const child = await startStoppedCommand([fio, ...args, `--output=${output}`]);
      let status: Deno.CommandStatus;
      try {
        const session = await startTrace(
          { pids: [child.pid], comm: "fio", cmdline: command },
          { backend },
        );
        await new Promise((r) => setTimeout(r, settleMs));
        child.resume();
        run = await session.done;
      } finally {
        // Reaped on every path, so a failed attach leaves no fio behind.
        status = await child.reap();
      }
      if (!status.success) throw new RunError(`fio failed with exit status ${status.code}`);
    } else {
      const out = await new Deno.Command(fio, {
        args: [...args, `--output=${output}`],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!out.success) {
        const err = new TextDecoder().decode(out.stderr).trim().split("\n").pop() ?? "";
        throw new RunError(`fio failed: ${err}`);
      }
    }
    const result = parseFio(await Deno.readTextFile(output), FIO_ENGINES[o.path]!, command);
    if (run) result.run = run;
    return result;
  } finally {
    if (options.dir === undefined) await Deno.remove(dir, { recursive: true }).catch(() => {});
    else await Deno.remove(output).catch(() => {});
  }
}

/**
 * Reads fio's JSON output.
 * @param text fio's stdout with `--output-format=json`
 * @param engine the engine, for the result
 * @param command the command, for the result
 * @returns throughput and CPU seconds
 */
export function parseFio(text: string, engine: string, command: string): FioResult {
  // fio may print notes before the JSON.
  const start = text.indexOf("{");
  const doc = JSON.parse(text.slice(start)) as {
    jobs: {
      read: { io_bytes: number; runtime: number; bw_bytes: number };
      job_runtime: number;
      usr_cpu: number;
      sys_cpu: number;
    }[];
  };
  const job = doc.jobs[0];
  if (!job) throw new RunError("fio printed no job");
  const seconds = job.read.runtime / 1000;
  return {
    engine,
    throughput_mib_s: Math.round(job.read.io_bytes / 2 ** 20 / seconds * 10) / 10,
    cpu_user_s: Math.round(job.usr_cpu / 100 * job.job_runtime) / 1000,
    cpu_sys_s: Math.round(job.sys_cpu / 100 * job.job_runtime) / 1000,
    command,
  };
}
