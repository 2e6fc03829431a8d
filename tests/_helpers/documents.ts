/**
 * Documents for report tests: the recorded real Run (tests/testdata/run_demo.json),
 * small hand-made Runs for the findings rules, a hand-made Bench document
 * (until `ioscope bench` writes real ones), and hostile variants.
 * @module
 */

import {
  type BenchDocument,
  benchOpStats,
  type BenchPathResult,
  type Bucket,
  bucketIndex,
  type IoUringOpStats,
  percentiles,
  type RunDocument,
  type SyscallStats,
  toBuckets,
} from "../../schema/mod.ts";
import { ROOT } from "./common.ts";
import type { BuildRunOptions } from "../../agent/trace/run_builder.ts";

/**
 * A Run document from a file (`--json` output, a fixture, a store entry).
 * @param path the file
 * @returns the document, as parsed
 */
export function readRun(path: string | URL): RunDocument {
  return JSON.parse(Deno.readTextFileSync(path)) as RunDocument;
}

/** The recorded Run of the demo workload (see tests/testdata/README.md). */
export function demoRun(): RunDocument {
  return JSON.parse(Deno.readTextFileSync(`${ROOT}tests/testdata/run_demo.json`));
}

/** A deterministic pseudo-random source (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal latencies around `medianNs`, with a share `tail` slowed by `tailFactor`. */
export function latencies(
  n: number,
  medianNs: number,
  options: { seed?: number; spread?: number; tail?: number; tailFactor?: number } = {},
): number[] {
  const { seed = 1, spread = 0.35, tail = 0, tailFactor = 30 } = options;
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
    let v = medianNs * Math.exp(spread * g);
    if (r() < tail) v *= tailFactor * (1 + r());
    out.push(Math.max(1, Math.round(v)));
  }
  return out;
}

/** Per-syscall stats from latencies, as the agent computes them. */
export function statsOf(
  samples: number[],
  options: { bytes?: number; errors?: number } = {},
): SyscallStats {
  const { bytes = 0, errors = 0 } = options;
  const counts = new Map<number, number>();
  for (const v of samples) {
    const i = bucketIndex(v);
    counts.set(i, (counts.get(i) ?? 0) + 1);
  }
  const buckets: Bucket[] = toBuckets(counts);
  const max = samples.reduce((m, v) => Math.max(m, v), 0);
  const p = percentiles(buckets);
  return {
    count: samples.length,
    errors,
    bytes,
    total_ns: samples.reduce((t, v) => t + v, 0),
    p50_ns: Math.min(p.p50_ns, max),
    p90_ns: Math.min(p.p90_ns, max),
    p99_ns: Math.min(p.p99_ns, max),
    p999_ns: Math.min(p.p999_ns, max),
    max_ns: max,
    buckets,
  };
}

/** Stats with the given summary figures and no histogram (for rule tests). */
export function stats(fields: Partial<SyscallStats> & { count: number }): SyscallStats {
  return {
    errors: 0,
    bytes: 0,
    total_ns: fields.count * 2_000,
    p50_ns: 1_000,
    p90_ns: 1_500,
    p99_ns: 3_000,
    p999_ns: 5_000,
    max_ns: 10_000,
    buckets: [],
    ...fields,
  };
}

/** An empty Run of `seconds` seconds: no syscalls, no faults, nothing unsupported. */
export function emptyRun(seconds = 10): RunDocument {
  return {
    schema: "ioscope.run/2",
    meta: {
      pid: 4242,
      pids: [4242],
      comm: "worker",
      cmdline: "worker --serve",
      host: "testhost",
      kernel: "6.1.0-test",
      backend: "bpftrace",
      started_at: "2026-01-01T00:00:00.000Z",
      duration_s: seconds,
      target_exited: false,
      lost_events: 0,
      unsupported: [],
      end_reason: "duration",
      attach_s: 0.4,
    },
    syscalls: {},
    io_uring: {},
    copy: { copied_bytes: 0, zero_copy_bytes: 0, zero_copy_ratio: 0 },
    faults: { minor: 0, major: 0, total: 0 },
    tlb: { flushes: 0, by_reason: {}, dtlb_load_misses: null },
    sched: { voluntary: 0, involuntary: 0 },
    timeline: [],
  };
}

/** A Run with the given syscalls (and anything else overridden). */
export function runWith(
  syscalls: Record<string, SyscallStats>,
  overrides: Partial<RunDocument> = {},
): RunDocument {
  return { ...emptyRun(), syscalls, ...overrides };
}

function uringOp(samples: number[], bytes: number, asyncCount: number): IoUringOpStats {
  const s = statsOf(samples, { bytes });
  return { ...s, async: asyncCount };
}

/** The figures a hand-made bench path gives; the rest is derived as bench derives it. */
type BenchFigures =
  & Pick<
    BenchPathResult,
    | "throughput_mib_s"
    | "p50_ns"
    | "p99_ns"
    | "syscalls"
    | "faults"
    | "cpu_s"
    | "cpu_user_s"
    | "cpu_sys_s"
    | "elapsed_s"
  >
  & { checksum_ok?: boolean };

function benchPath(
  name: string,
  op: string,
  fields: BenchFigures,
  syscalls: Record<string, SyscallStats>,
  io_uring: Record<string, IoUringOpStats> = {},
): BenchPathResult {
  const bytes = 256 * 2 ** 20;
  const run = runWith(syscalls, {
    io_uring,
    meta: {
      ...emptyRun().meta,
      comm: `bench-${name}`,
      cmdline: `ioscope bench worker ${name}`,
      duration_s: fields.elapsed_s,
      end_reason: "target-exit",
      target_exited: true,
    },
    faults: { minor: fields.faults, major: 0, total: fields.faults },
  });
  return {
    ...fields,
    bytes,
    checksum_ok: fields.checksum_ok ?? true,
    op,
    latency_source: benchOpStats(run, op) ? "trace" : "worker",
    cpu_s_per_gib: fields.cpu_s / (bytes / 2 ** 30),
    worker_calls: fields.syscalls,
    worker_faults: fields.faults,
    block_p50_ns: null,
    block_p99_ns: null,
    teardown_s: 0,
    description: name,
    run,
  };
}

/**
 * A hand-made Bench document of the scan scenario (256 MiB in 1 MiB blocks):
 * read, readv, mmap, sendfile, splice and io_uring, with latency histograms.
 */
export function benchDoc(): BenchDocument {
  const blocks = 256;
  const mib = 2 ** 20;
  return {
    schema: "ioscope.bench/1",
    scenario: "scan",
    file_size: 256 * mib,
    block_size: mib,
    queue_depth: 8,
    host: { host: "testhost", kernel: "6.1.0-test", cpus: 2, mem_bytes: 8 * 2 ** 30 },
    backend: "bpftrace",
    repeat: 1,
    unsupported: [],
    paths: {
      read: benchPath("read", "pread64", {
        throughput_mib_s: 2100,
        p50_ns: 95_000,
        p99_ns: 180_000,
        syscalls: blocks * 2 + 6,
        faults: 40,
        cpu_s: 0.118,
        cpu_user_s: 0.004,
        cpu_sys_s: 0.114,
        elapsed_s: 0.122,
      }, {
        pread64: statsOf(latencies(blocks, 95_000, { seed: 1, tail: 0.02 }), { bytes: 256 * mib }),
        write: statsOf(latencies(blocks, 80_000, { seed: 2 }), { bytes: 256 * mib }),
      }),
      readv: benchPath("readv", "preadv", {
        throughput_mib_s: 2250,
        p50_ns: 360_000,
        p99_ns: 600_000,
        syscalls: blocks / 4 + 6,
        faults: 38,
        cpu_s: 0.11,
        cpu_user_s: 0.003,
        cpu_sys_s: 0.107,
        elapsed_s: 0.114,
      }, {
        preadv: statsOf(latencies(blocks / 4, 360_000, { seed: 3 }), { bytes: 256 * mib }),
      }),
      mmap: benchPath("mmap", "memcpy", {
        throughput_mib_s: 1500,
        p50_ns: 30_000,
        p99_ns: 60_000,
        syscalls: 12,
        faults: 65_536,
        cpu_s: 0.16,
        cpu_user_s: 0.05,
        cpu_sys_s: 0.11,
        elapsed_s: 0.171,
      }, {
        mmap: statsOf(latencies(4, 30_000, { seed: 4 })),
        munmap: statsOf(latencies(4, 90_000, { seed: 5 })),
      }),
      sendfile: benchPath("sendfile", "sendfile64", {
        throughput_mib_s: 5200,
        p50_ns: 180_000,
        p99_ns: 260_000,
        syscalls: blocks + 6,
        faults: 12,
        cpu_s: 0.047,
        cpu_user_s: 0.001,
        cpu_sys_s: 0.046,
        elapsed_s: 0.049,
      }, {
        sendfile64: statsOf(latencies(blocks, 180_000, { seed: 6 }), { bytes: 256 * mib }),
      }),
      splice: benchPath("splice", "splice", {
        throughput_mib_s: 4600,
        p50_ns: 100_000,
        p99_ns: 150_000,
        syscalls: blocks * 2 + 8,
        faults: 14,
        cpu_s: 0.053,
        cpu_user_s: 0.001,
        cpu_sys_s: 0.052,
        elapsed_s: 0.056,
      }, {
        splice: statsOf(latencies(blocks * 2, 100_000, { seed: 7 }), { bytes: 512 * mib }),
      }),
      io_uring: benchPath("io_uring", "io_uring READ", {
        throughput_mib_s: 2600,
        p50_ns: 310_000,
        p99_ns: 700_000,
        syscalls: 40,
        faults: 30,
        cpu_s: 0.09,
        cpu_user_s: 0.004,
        cpu_sys_s: 0.086,
        elapsed_s: 0.098,
      }, {
        io_uring_enter: statsOf(latencies(34, 900_000, { seed: 8 })),
      }, {
        READ: uringOp(latencies(blocks, 310_000, { seed: 9, tail: 0.01 }), 256 * mib, 200),
      }),
    },
  };
}

/** Strings that would run or inject markup if a report did not escape them. */
export const HOSTILE = {
  comm: "<svg onload=a>",
  cmdline: `/usr/bin/x </script><script>alert(1)</script> "><img src=x onerror=alert(2)> ` +
    `'><svg onload=alert(3)> <!-- <iframe srcdoc=x> \u2028\u2029 {{7*7}} ]]>`,
  name: `<img src=x onerror=alert(4)>`,
};

/** The demo Run with hostile text in every place a document carries text. */
export function hostileRun(): RunDocument {
  const run = demoRun();
  run.meta.comm = HOSTILE.comm;
  run.meta.cmdline = HOSTILE.cmdline;
  run.meta.host = `host${HOSTILE.name}`;
  run.meta.kernel = `</style><script>alert(5)</script>`;
  run.meta.started_at = `<b onmouseover=alert(6)>`;
  run.meta.end_reason = HOSTILE.name;
  run.meta.unsupported = [
    ...run.meta.unsupported,
    { metric: HOSTILE.name, reason: `</script><script>alert(7)</script>` },
  ];
  const first = Object.values(run.syscalls)[0];
  if (first) run.syscalls[HOSTILE.name] = first;
  run.tlb.by_reason[HOSTILE.name] = 5;
  run.io_uring[`</script>${HOSTILE.name}`] = { ...uringOp([1000, 2000], 10, 0) };
  run.perf = { ...(run.perf ?? {}), [HOSTILE.name]: 1, [`${HOSTILE.name}2`]: null };
  run.flamegraph = {
    folded: [
      ...(run.flamegraph?.folded ?? []),
      `${HOSTILE.comm};${HOSTILE.name};</script><script>alert(8)</script>_[k] 400`,
    ],
    samples: (run.flamegraph?.samples ?? 0) + 400,
  };
  return run;
}

/** The Bench document with hostile path names and host facts. */
export function hostileBench(): BenchDocument {
  const doc = benchDoc();
  const read = doc.paths.read;
  if (read) doc.paths[HOSTILE.name] = read;
  doc.host = { host: HOSTILE.name, kernel: HOSTILE.cmdline, cpus: 2, mem_bytes: 1 };
  return doc;
}

/**
 * The facts buildRun would take to write this meta (the inverse of its meta
 * part): for tests that build a Run around a recorded one's meta.
 * @param meta a Run's meta
 * @returns buildRun's options; /proc's deltas known (0), no timeline
 */
export function runOptionsOf(meta: RunDocument["meta"]): BuildRunOptions {
  return {
    target: {
      pids: meta.pids ?? [meta.pid],
      comm: meta.comm,
      cmdline: meta.cmdline,
      ...(meta.thread_given !== undefined ? { threadGiven: meta.thread_given } : {}),
      ...(meta.followed_children ? { followedChildren: true } : {}),
      ...(meta.cgroup ? { cgroup: meta.cgroup } : {}),
      ...(meta.pid_namespace ? { pidNamespace: meta.pid_namespace } : {}),
    },
    backend: {
      name: meta.backend,
      ...(meta.attach ? { attach: meta.attach } : {}),
      unsupported: meta.unsupported,
    },
    host: meta.host,
    kernel: meta.kernel,
    startedAt: new Date(meta.started_at),
    durationMs: meta.duration_s * 1000,
    attachMs: meta.attach_s * 1000,
    targetExited: meta.target_exited,
    endReason: meta.end_reason,
    proc: { minflt: 0, majflt: 0 },
  };
}
