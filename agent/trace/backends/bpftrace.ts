/**
 * The bpftrace backend: runs probes/io_syscalls.bt (with io_uring.bt when
 * present) for the target PIDs and reads its cumulative maps once a second.
 *
 * bpftrace runs in its own session (so a Ctrl-C at the terminal reaches only
 * the agent, which then stops bpftrace in order) and with a parent-death
 * signal (so it ends if the agent is killed with SIGKILL). Its probes are file
 * descriptors: they detach when it exits, whatever way it exits.
 * @module
 */

import type { BackendOptions, TraceBackend } from "./trace_backend.ts";
import { cgroupTreeIds } from "../cgroup.ts";
import { findCommand, RunError } from "../../mod.ts";
import { eventFormat, hasTracepoint } from "../tracefs.ts";
import { forEachLine } from "../read_lines.ts";
import type { Unsupported } from "../../../schema/mod.ts";
import { BpftraceParser, IO_SYSCALLS_BT, programFor, type Snapshot } from "../../../probes/mod.ts";
import { compatStatusOffset } from "./bpf.ts";
import { VMLINUX_BTF_PATH } from "../../../ffi/bpf/mod.ts";
import { libc, pidfdHandle, pidfdSignal } from "../../../ffi/mod.ts";

/** The marker put in every program we start, so a stale one can be found. */
export const AGENT_MARKER = "// ioscope-agent=";

/**
 * How long bpftrace may take to attach before the trace is given up: 30 s, or
 * IOSCOPE_ATTACH_TIMEOUT_S where a host is known to be slow (the kernel
 * matrix's emulated guests, 10-30x slower, where bpftrace parses a 5.10
 * kernel's BTF from a file).
 */
const ATTACH_TIMEOUT_MS = (() => {
  const s = Number(Deno.env.get("IOSCOPE_ATTACH_TIMEOUT_S") ?? "");
  return Number.isFinite(s) && s > 0 ? s * 1000 : 30_000;
})();
/** How long bpftrace may take to print its last maps after SIGINT. */
const STOP_TIMEOUT_MS = 5_000;

/** Where bpftrace is, or null. */
export function findBpftrace(): string | null {
  return findCommand("bpftrace");
}

/**
 * The most keys a bpftrace map holds (bpftrace 0.17's default is 4096: 4096
 * threads blocked at once filled the start-time map and the rest of their
 * calls went uncounted). Maps are preallocated: at 32768 keys each costs
 * 2-3 MiB of locked kernel memory on 2 CPUs, its per-CPU ones more per CPU.
 * A full map's failed inserts are counted (meta.map_full).
 */
export const BPFTRACE_MAP_KEYS_MAX = 32768;

/**
 * The map capacity bpftrace is given: {@linkcode BPFTRACE_MAP_KEYS_MAX}, or
 * IOSCOPE_BPFTRACE_MAP_KEYS_MAX (tests set it low to see a full map counted).
 */
function mapKeysMax(): number {
  const v = Number(Deno.env.get("IOSCOPE_BPFTRACE_MAP_KEYS_MAX"));
  return Number.isInteger(v) && v > 0 ? v : BPFTRACE_MAP_KEYS_MAX;
}

/** True when the kernel's sched_process_exit says whether the group died. */
function exitHasGroupDead(): boolean {
  try {
    return eventFormat("sched", "sched_process_exit").includes(" group_dead;");
  } catch {
    return false;
  }
}

/**
 * io_syscalls.bt with this kernel's offset of `thread_info.status` (the
 * TS_COMPAT bit) in `task_struct`, from BTF: the program's `curtask + 16`
 * holds since 5.11 (thread_info gained syscall_work); Debian's 5.10 has it
 * at 8, where 16 is the task's state, so 32-bit calls were timed under
 * x86_64 names there. Unchanged where BTF cannot say.
 * @param source the program's text
 * @returns the text
 */
export function withCompatOffset(source: string): string {
  const offset = compatStatusOffset();
  return typeof offset === "number"
    ? source.replaceAll("(uint64)curtask + 16)", `(uint64)curtask + ${offset})`)
    : source;
}

/**
 * BPFTRACE_BTF naming the kernel's BTF where bpftrace is not told otherwise:
 * bpftrace 0.17 on Debian's 5.10 finds none by itself (`bpftrace --info`:
 * "btf: no") and then cannot resolve the tracepoints' `pid_t` fields
 * ("unknown type name 'pid_t'": the backend did not start there); told the
 * file, it works. Here (6.18) it changes nothing: 0.42 s either way.
 */
function btfEnv(): Record<string, string> {
  if (Deno.env.get("BPFTRACE_BTF") !== undefined) return {};
  try {
    Deno.statSync(VMLINUX_BTF_PATH);
    return { BPFTRACE_BTF: VMLINUX_BTF_PATH };
  } catch {
    return {};
  }
}

/** getpgid(2)'s number by architecture: the agent's call that opens the window. */
const SYS_GETPGID: Record<string, number> = { x86_64: 121, aarch64: 155 };
/** Open tokens are above any PID (pid_max is at most 2^22). */
const OPEN_TOKEN_BASE = 1_000_000_000;

/**
 * The program text the agent runs for these PIDs: counting starts when the
 * agent calls getpgid(`openToken`), ends when it calls getpgid(-`openToken`).
 */
export function bpftraceProgram(
  pids: number[],
  options: { followChildren?: boolean; comm?: string; cgroupIds?: number[]; openToken?: number } =
    {},
): string {
  const { openToken = OPEN_TOKEN_BASE, ...select } = options;
  let source = withCompatOffset(Deno.readTextFileSync(IO_SYSCALLS_BT));
  const uring = new URL("./io_uring.bt", IO_SYSCALLS_BT);
  try {
    if (hasTracepoint("io_uring", "io_uring_submit_req")) {
      source += "\n" + Deno.readTextFileSync(uring);
    }
  } catch {
    // no io_uring program or no io_uring tracepoints: syscalls only
  }
  // bpftrace prints "attached_probes" before it attaches, and BEGIN runs before
  // the other probes attach; but it attaches in program order, so when this
  // last probe fires on the agent's own getppid() (it calls it until then),
  // every probe is live. A syscall no one else makes: a probe on every
  // syscall exit would cost every process on the host for the whole trace.
  const sentinel = `
tracepoint:syscalls:sys_exit_getppid
/pid == ${Deno.pid} && @ioscope_ready == 0/
{
  @ioscope_ready = 1;
  printf("{\\"type\\": \\"ready\\"}\\n");
}
`;
  // The window's end: the agent's getpgid(-openToken) at stop closes the gate
  // at once (probes detach only when bpftrace exits, a few hundred ms after
  // SIGINT), so every count, and /proc read then, covers one window; another
  // trace in the same agent (its own token) stays open.
  // The window's start: the agent's getpgid(openToken) once it has seen
  // "ready", the moment its own clock starts (bpftrace prints "ready" some
  // time after the sentinel fired: 0.1 s and more on a busy host).
  const closer = `
tracepoint:syscalls:sys_enter_getpgid
/pid == ${Deno.pid} && args->pid == ${openToken}/
{
  @ioscope_on = 1;
}

tracepoint:syscalls:sys_enter_getpgid
/pid == ${Deno.pid} && args->pid == -${openToken} && @ioscope_ready == 1/
{
  @ioscope_ready = 2;
  delete(@ioscope_on);
}
`;
  return `${AGENT_MARKER}${Deno.pid}\n${
    programFor(source, pids, { ...select, groupDead: exitHasGroupDead(), gate: true })
  }${closer}${sentinel}`;
}

/**
 * Starts bpftrace for the given PIDs.
 * @param options what to trace
 * @param bpftrace its path, when the caller has looked it up already
 */
export function startBpftrace(
  options: BackendOptions,
  bpftrace: string | null = findBpftrace(),
): TraceBackend {
  if (!bpftrace) {
    throw new RunError(
      "bpftrace is not installed: apt-get install bpftrace, or use --backend ftrace",
    );
  }
  const openToken = OPEN_TOKEN_BASE + Math.floor(Math.random() * OPEN_TOKEN_BASE);
  /** When the counting window opened and closed (performance.now()). */
  const edges: { fromMs: number; toMs: number | null } = { fromMs: 0, toMs: null };
  const nr = SYS_GETPGID[Deno.build.arch];
  const program = bpftraceProgram(options.pids, {
    openToken,
    followChildren: options.followChildren === true,
    ...(options.comm !== undefined ? { comm: options.comm } : {}),
    ...(options.cgroup ? { cgroupIds: cgroupTreeIds(options.cgroup.path, options.cgroup.id) } : {}),
  });
  const child = new Deno.Command("setsid", {
    args: ["setpriv", "--pdeathsig", "TERM", "--", bpftrace, "-f", "json", "-e", program],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { BPFTRACE_STRLEN: "64", BPFTRACE_MAP_KEYS_MAX: String(mapKeysMax()), ...btfEnv() },
  }).spawn();

  const parser = new BpftraceParser();
  const errors: string[] = [];
  let resolveAttached!: () => void;
  let rejectAttached!: (e: Error) => void;
  const attached = new Promise<void>((res, rej) => {
    resolveAttached = res;
    rejectAttached = rej;
  });
  attached.catch(() => {}); // observed by the session; avoid an unhandled rejection here
  let isAttached = false;

  const stdoutDone = forEachLine(child.stdout, (line) => {
    if (parser.feed(line)) options.onSnapshot?.(parser.latest());

    if (!isAttached && parser.ready) {
      isAttached = true;
      // The trace window starts now, in the kernel as in the agent, /proc read just before.
      options.onOpening?.();
      if (nr !== undefined) libc().syscall(BigInt(nr), BigInt(openToken), 0n, 0n, 0n, 0n, 0n);
      edges.fromMs = performance.now();
      resolveAttached();
    }
  });
  const stderrDone = forEachLine(child.stderr, (line) => {
    // bpftrace warns that it cannot raise RLIMIT_MEMLOCK where `ulimit -l` is fixed; harmless.
    if (line.includes("RLIMIT_MEMLOCK") || line.trim() === "") return;
    if (errors.length < 20) errors.push(line.trim());
  });

  let stopping = false;
  const exited = child.status.then(async (status) => {
    await Promise.allSettled([stdoutDone, stderrDone]);
    if (!isAttached) {
      const why = errors.find((l) => l.startsWith("ERROR")) ?? errors[0] ??
        `exit status ${status.code}`;
      rejectAttached(new RunError(`bpftrace could not attach its probes: ${why}`));
    }
    return status;
  });
  const died = exited.then((status) =>
    stopping
      ? new Promise<string>(() => {})
      : `bpftrace ended by itself (status ${status.code}): ${errors[0] ?? "no message"}`
  );

  // The sentinel's trigger: one getppid() every 10 ms until it has fired.
  const poke = setInterval(() => {
    if (isAttached) clearInterval(poke);
    else void Deno.ppid;
  }, 10);
  attached.finally(() => clearInterval(poke)).catch(() => {});
  const timer = setTimeout(() => {
    if (!isAttached) {
      rejectAttached(new RunError(`bpftrace did not attach within ${ATTACH_TIMEOUT_MS / 1000} s`));
      kill("SIGKILL");
    }
  }, ATTACH_TIMEOUT_MS);

  function kill(signal: Deno.Signal): void {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }

  let stopped: Promise<Snapshot> | null = null;
  const unsupported: Unsupported[] = [];
  if (!hasTracepoint("tlb", "tlb_flush")) {
    unsupported.push({
      metric: "tlb.flushes",
      reason: "no tlb:tlb_flush tracepoint on this kernel",
    });
  }

  return {
    name: "bpftrace",
    attached,
    died,
    unsupported,
    compatCheck:
      "counted apart by i386 number where the task's TS_COMPAT flag (offset from BTF) is set, not timed",
    latest: () => parser.latest(),
    window: () => (isAttached && nr !== undefined ? { ...edges } : null),
    stop(onClosed?: () => void): Promise<Snapshot> {
      if (isAttached && !stopping) {
        // Closes the probes' gate (the closer probe above): nothing counts after this.
        if (nr !== undefined) libc().syscall(BigInt(nr), BigInt(-openToken), 0n, 0n, 0n, 0n, 0n);
        edges.toMs = performance.now();
      }
      stopping = true;
      onClosed?.();
      stopped ??= (async () => {
        clearTimeout(timer);
        // SIGINT makes bpftrace run END and print its maps one last time.
        kill("SIGINT");
        const deadline = setTimeout(() => kill("SIGKILL"), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(deadline);
        return parser.final();
      })();
      return stopped;
    },
  };
}

/** Options of {@linkcode sweepStaleBpftrace}. */
export interface SweepOptions {
  /**
   * Reads a process's command line (NUL-separated), or null when it is gone.
   * Tests put a process under the PID between the check and the kill here.
   * @default a read of /proc/PID/cmdline
   */
  readCmdline?: (pid: number) => string | null;
}

function procCmdline(pid: number): string | null {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`);
  } catch {
    return null;
  }
}

/** The PID of the agent a stale bpftrace's command line names, or null when it is not one. */
function staleOwner(cmdline: string): number | null {
  const at = cmdline.indexOf(AGENT_MARKER);
  if (at < 0 || !cmdline.startsWith("bpftrace") && !cmdline.includes("/bpftrace\0")) return null;
  const owner = Number(/^\d+/.exec(cmdline.slice(at + AGENT_MARKER.length))?.[0]);
  if (!(owner > 0) || owner === Deno.pid) return null;
  return (procCmdline(owner) ?? "").length > 0 ? null : owner;
}

/**
 * Kills bpftrace programs left by an ioscope agent that no longer exists
 * (one killed with SIGKILL before its child noticed). Each is held by a
 * pidfd opened before its command line is read, and killed through it: if
 * it exits meanwhile and another process gets its PID, the kill reaches no
 * one (it is never the new process's command line that was judged, and
 * never the new process that is killed).
 * @param options a command-line reader (tests)
 * @returns the PIDs killed
 */
export function sweepStaleBpftrace(options: SweepOptions = {}): number[] {
  const { readCmdline = procCmdline } = options;
  const killed: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    // A cheap first look; the verdict is taken again once the process is held.
    if (staleOwner(procCmdline(pid) ?? "") === null) continue;
    let pidfd;
    try {
      pidfd = pidfdHandle(pid);
    } catch {
      continue; // gone meanwhile
    }
    try {
      const cmdline = readCmdline(pid);
      if (cmdline === null || staleOwner(cmdline) === null) continue;
      if (pidfdSignal(pidfd, "SIGKILL")) killed.push(pid);
    } catch {
      // not ours to signal after all
    } finally {
      pidfd.close();
    }
  }
  return killed;
}
