/**
 * The tracers compared in the overhead benchmark: ioscope (each backend) and
 * the reference tools run the way their users run them.
 * @module
 */

/** A tracer attached to a process; `stop()` ends it and reaps it. */
export interface RunningTracer {
  stop(): Promise<void>;
}

/** How to start one tracer against a PID. */
export interface Tracer {
  name: string;
  command: (pid: number) => string[];
  start(pid: number): Promise<RunningTracer>;
}

const ROOT = new URL("../", import.meta.url).pathname;

async function spawnUntil(
  argv: string[],
  ready: (stderr: string, stdout: string) => boolean,
  settleMs: number,
): Promise<RunningTracer> {
  const [cmd = "", ...args] = argv;
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
    .spawn();
  let err = "";
  let out = "";
  const dec = new TextDecoder();
  const reading = Promise.all([
    (async () => {
      for await (const c of child.stderr) err += dec.decode(c, { stream: true });
    })(),
    (async () => {
      for await (const c of child.stdout) {
        out = (out + dec.decode(c, { stream: true })).slice(-4096);
      }
    })(),
  ]);
  const deadline = Date.now() + 30_000;
  while (!ready(err, out)) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new Error(`${cmd} did not start: ${err.slice(-300)}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, settleMs));
  return {
    async stop() {
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await child.status;
      clearTimeout(timer);
      await reading;
    },
  };
}

/**
 * ioscope trace with the given backend, until SIGINT.
 * @param backend the backend
 * @param root the checkout to run (another one: to compare two versions in one run)
 * @returns the tracer
 */
export function ioscope(backend: "bpf" | "bpftrace" | "ftrace", root = ROOT): Tracer {
  const command = (pid: number) => [
    Deno.execPath(),
    "run",
    "-A",
    `${root}mod.ts`,
    "trace",
    "--pid",
    String(pid),
    "--backend",
    backend,
  ];
  return {
    name: `ioscope --backend ${backend}${root === ROOT ? "" : ` (${root})`}`,
    command,
    start: (pid) => spawnUntil(command(pid), (err) => err.includes("Tracing pid"), 0),
  };
}

/** A plain bpftrace one-liner: a latency histogram of every syscall of the process. */
export const bpftraceOneLiner: Tracer = {
  name: "bpftrace one-liner (hist of every syscall)",
  command: (pid) => [
    "bpftrace",
    "-e",
    `tracepoint:raw_syscalls:sys_enter /pid == ${pid}/ { @s[tid] = nsecs; } ` +
    `tracepoint:raw_syscalls:sys_exit /pid == ${pid} && @s[tid]/ ` +
    `{ @us[args->id] = hist((nsecs - @s[tid]) / 1000); delete(@s[tid]); }`,
  ],
  // bpftrace prints "Attaching" before it attaches: give it a moment.
  start(pid) {
    return spawnUntil(this.command(pid), (_e, out) => out.includes("Attaching"), 1000);
  },
};

/**
 * The floor of any syscall tracer built on tracepoints: both raw_syscalls
 * probes with a PID filter and an empty body. Once a syscall tracepoint is
 * enabled, every syscall on the host takes the kernel's slow path and runs
 * the filter; what this costs nginx no program body can win back.
 */
export const bpftraceFloor: Tracer = {
  name: "bpftrace, empty raw_syscalls probes (the floor)",
  command: (pid) => [
    "bpftrace",
    "-e",
    `tracepoint:raw_syscalls:sys_enter /pid == ${pid}/ { } ` +
    `tracepoint:raw_syscalls:sys_exit /pid == ${pid}/ { }`,
  ],
  start(pid) {
    return spawnUntil(this.command(pid), (_e, out) => out.includes("Attaching"), 1000);
  },
};

/**
 * The bpf backend's floor: empty programs on the raw tracepoints sys_enter
 * and sys_exit, loaded by our own loader (benchmarks/bpf_floor.ts).
 */
export const bpfFloor: Tracer = {
  name: "empty raw_tp programs on sys_enter/sys_exit (the bpf floor)",
  command: () => [Deno.execPath(), "run", "-A", `${ROOT}benchmarks/bpf_floor.ts`],
  start(pid) {
    return spawnUntil(this.command(pid), (_e, out) => out.includes("attached"), 200);
  },
};

/** `perf trace -s -p PID`: per-syscall summary. */
export const perfTrace: Tracer = {
  name: "perf trace -s",
  command: (pid) => ["perf", "trace", "-s", "-p", String(pid)],
  start(pid) {
    return spawnUntil(this.command(pid), () => true, 1500);
  },
};

/** `strace -c -p PID`: per-syscall counts and times. */
export const straceC: Tracer = {
  name: "strace -c",
  command: (pid) => ["strace", "-c", "-f", "-p", String(pid)],
  start(pid) {
    return spawnUntil(this.command(pid), (err) => err.includes("attached"), 200);
  },
};
