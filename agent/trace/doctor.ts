/**
 * What this host offers the agent: one check per facility, with the reason.
 * Reads only; changes nothing.
 * @module
 */

import { bpfAttachPlan, findBpftrace, unsupportedArch } from "./backends/mod.ts";
import { cpuPmuName, findPerf } from "./perf.ts";
import { TRACEFS } from "./tracefs.ts";
import { exists } from "../mod.ts";

/** One facility: available or not, and why. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What is lost without it. */
  needed_for: string;
}

function read(path: string): string | null {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return null;
  }
}

/**
 * What a tool says about itself (`bpftrace --version`), as one line of at most
 * 80 printable ASCII characters: anything else (an escape sequence, a C1
 * control, a second line) becomes `?`. The tool is whatever PATH found.
 */
function run(cmd: string, args: string[]): string | null {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return out.success
      ? (text.trim().split("\n")[0] ?? "").replace(/[^\x20-\x7e]/g, "?").slice(0, 80)
      : null;
  } catch {
    return null;
  }
}

const TRACEPOINTS: [string, string][] = [
  ["raw_syscalls/sys_enter", "syscall latency (bpftrace, ftrace)"],
  ["raw_syscalls/sys_exit", "syscall latency (bpftrace, ftrace)"],
  ["syscalls/sys_enter_pread64", "per-syscall events (ftrace)"],
  ["exceptions/page_fault_user", "page faults"],
  ["tlb/tlb_flush", "TLB flushes by reason"],
  ["sched/sched_switch", "context switches"],
  ["sched/sched_process_fork", "following new processes"],
  ["io_uring/io_uring_submit_req", "io_uring request latency"],
  ["io_uring/io_uring_complete", "io_uring request latency"],
  ["io_uring/io_uring_queue_async_work", "io_uring async punts"],
];

/** One check's result. */
function check(name: string, ok: boolean, detail: string, needed_for: string): Check {
  return { name, ok, detail, needed_for };
}

/** Root, and CAP_SYS_ADMIN: every backend needs both. */
function privilegeChecks(): Check[] {
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(read("/proc/self/status") ?? "")?.[1];
  const caps = capEff ? BigInt(`0x${capEff}`) : 0n;
  const sysAdmin = (caps >> 21n & 1n) === 1n;
  return [check(
    "privileges",
    Deno.uid() === 0 && sysAdmin,
    Deno.uid() === 0
      ? (sysAdmin ? "root with CAP_SYS_ADMIN" : "root without CAP_SYS_ADMIN")
      : `uid ${Deno.uid()}, not root: run with sudo`,
    "every backend",
  )];
}

/** The architecture, tracefs, BTF, the tracepoints, kprobes and uprobes. */
function kernelChecks(): Check[] {
  // The same answer the backend's choice gets (backends/resolve.ts).
  const archOk = unsupportedArch(Deno.build.arch) === null;
  const checks = [check(
    "architecture",
    archOk,
    `${Deno.build.arch}${archOk ? "" : ": the bpftrace program's syscall numbers are x86_64's"}`,
    "bpftrace backend",
  )];
  const mounted = exists(`${TRACEFS}/events`);
  checks.push(check(
    "tracefs",
    mounted,
    mounted
      ? `mounted at ${TRACEFS}`
      : exists(TRACEFS)
      ? `not mounted (ioscope trace mounts it)`
      : "no tracefs in this kernel",
    "every backend",
  ));
  checks.push(check(
    "BTF",
    exists("/sys/kernel/btf/vmlinux"),
    exists("/sys/kernel/btf/vmlinux")
      ? "/sys/kernel/btf/vmlinux"
      : "no /sys/kernel/btf/vmlinux (CONFIG_DEBUG_INFO_BTF)",
    "bpftrace struct access",
  ));
  for (const [tp, why] of TRACEPOINTS) {
    const ok = exists(`${TRACEFS}/events/${tp}`);
    checks.push(check(
      `tp ${tp.replace("/", ":")}`,
      ok,
      ok ? "present" : mounted ? "not in this kernel" : "tracefs not mounted",
      why,
    ));
  }
  const kprobes = exists(`${TRACEFS}/kprobe_events`) ||
    exists("/sys/bus/event_source/devices/kprobe");
  checks.push(check(
    "kprobes",
    kprobes,
    kprobes ? "available" : "none (CONFIG_KPROBES off); not needed",
    "nothing: not used",
  ));
  const uprobes = exists("/sys/bus/event_source/devices/uprobe");
  checks.push(
    check("uprobes", uprobes, uprobes ? "available" : "not in this kernel", "nothing yet"),
  );
  return checks;
}

/** The bpf backend: which attach it would use here, and why not a better one. */
function bpfChecks(): Check[] {
  const bpf = Deno.uid() === 0 ? bpfAttachPlan() : null;
  const checks = [check(
    "bpf backend",
    bpf !== null && bpf.kind !== null,
    bpf === null
      ? "needs root"
      : bpf.kind === null
      ? "no BPF program type loads (see below)"
      : `attaches with ${bpf.kind}, starts in ${bpf.starts.replace("_", " ")}`,
    "bpf backend (default)",
  )];
  const better: Record<string, string> = {
    fentry: "bpf fentry/fexit: only traced syscalls pay",
    raw_tp: "bpf raw tracepoints",
    tp: "bpf classic tracepoints",
    task_storage: "bpf starts in task storage (cheaper than a tid hash)",
  };
  for (const r of bpf?.reasons ?? []) {
    checks.push(check(`bpf ${r.kind}`, false, r.reason, better[r.kind] ?? ""));
  }
  return checks;
}

/** The tools found on PATH (bpftrace, perf) and the PMU perf would count with. */
function toolChecks(): Check[] {
  const bt = findBpftrace();
  const btVersion = bt ? run(bt, ["--version"]) : null;
  const perf = findPerf();
  const perfVersion = perf ? run(perf, ["--version"]) : null;
  const pmu = cpuPmuName();
  return [
    check(
      "bpftrace",
      bt !== null && btVersion !== null,
      bt
        ? `${btVersion ?? "does not run"} (${bt})`
        : "not installed: apt-get install bpftrace (ftrace backend works without it)",
      "bpftrace backend (where bpf does not load)",
    ),
    check(
      "perf",
      perfVersion !== null,
      perf
        ? perfVersion ?? "installed but does not run for this kernel"
        : "not installed: apt-get install linux-perf",
      "--perf, --flamegraph",
    ),
    check(
      "hardware PMU",
      pmu !== null,
      pmu ? `/sys/bus/event_source/devices/${pmu}` : "none exposed (a VM?): no TLB misses, cycles",
      "--perf TLB misses, cycles",
    ),
  ];
}

/** The sysctls that limit what ioscope may use: io_uring_disabled, perf_event_paranoid. */
function sysctlChecks(): Check[] {
  const uringDisabled = read("/proc/sys/kernel/io_uring_disabled");
  const uringOk = uringDisabled === null || uringDisabled === "0";
  const paranoid = read("/proc/sys/kernel/perf_event_paranoid");
  return [
    check(
      "io_uring",
      uringOk || uringDisabled === "1",
      uringDisabled === null
        ? "no kernel.io_uring_disabled (older kernel): enabled"
        : uringDisabled === "0"
        ? "enabled (kernel.io_uring_disabled=0)"
        : uringDisabled === "1"
        ? "root and io_uring_group only (kernel.io_uring_disabled=1)"
        : "disabled (kernel.io_uring_disabled=2)",
      "bench io_uring path",
    ),
    check(
      "perf_event_paranoid",
      paranoid !== null,
      paranoid === null ? "unknown" : `${paranoid} (root is not limited by it)`,
      "perf as non-root",
    ),
  ];
}

/**
 * Runs every check, in the order `ioscope doctor` prints them: privileges,
 * the kernel, the bpf backend, the tools, the sysctls. A new check goes in
 * the group it belongs to.
 * @returns one Check per facility
 */
export function doctorChecks(): Check[] {
  return [
    ...privilegeChecks(),
    ...kernelChecks(),
    ...bpfChecks(),
    ...toolChecks(),
    ...sysctlChecks(),
  ];
}

/** The checks as lines of at most 80 columns. */
export function doctorText(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => {
    const line = `${c.ok ? "yes" : "no "}  ${c.name.padEnd(width)}  ${c.detail}`;
    return line.length > 80 ? line.slice(0, 77) + "..." : line;
  }).join("\n");
}
