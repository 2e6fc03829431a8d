/**
 * The bpf backend: ioscope's own kernel programs (probes/bpf/), loaded
 * through bpf(2) with no package and no compiler, attached the cheapest way
 * this kernel allows, found by trying: fentry/fexit on the syscall functions
 * (only traced syscalls pay), else raw tracepoints, else classic
 * tracepoints. Histograms and counters stay in per-CPU maps, read once a
 * second; the traced set is a map the programs keep themselves as processes
 * fork, exec and exit.
 *
 * Every counting program reads a gate first (probes/bpf/layout.ts GATE):
 * nothing counts until every program is attached and /proc has been read,
 * and nothing after the window's end, when the gate closes before /proc is
 * read again and the programs detach one by one (a classic tracepoint's
 * detach waits for RCU, in which /proc went on counting and sys_enter
 * outlived sys_exit). The Run's duration is the gate's open interval on the
 * kernel's clock.
 *
 * Nothing survives the agent: every program and link is a descriptor of this
 * process, so when it ends, however it ends (`kill -9` included), the kernel
 * detaches and frees them.
 * @module
 */

import type { AttachReport, BackendOptions, TraceBackend } from "./trace_backend.ts";
import { RunError } from "../../errors.ts";
import { eventFormat, hasTracepoint } from "../tracefs.ts";
import { SYSCALLS, type Unsupported } from "../../../schema/mod.ts";
import {
  AttachType,
  BpfLink,
  BpfProgram,
  canLoad,
  ErrnoError,
  exit,
  firstArgsReadable,
  haveRawTracepoint,
  haveTaskStorage,
  monotonicNs,
  mov,
  type ProgramSpec,
  ProgType,
  R0,
  syscallFunction,
  vmlinuxBtf,
} from "../../../ffi/mod.ts";
import type { BuildContext, FieldPlace, TargetFilter } from "../../../probes/bpf/_emit.ts";
import { BpfMapSet, slotValue, type TracedSyscall } from "../../../probes/bpf/maps.ts";
import { type PlannedProgram, planPrograms } from "../../../probes/bpf/programs.ts";
import { type FtraceEventFormat, parseEventFormat } from "../../../probes/ftrace_format.ts";
import type { Snapshot } from "../../../probes/snapshot.ts";
import { prepareWhy, type WhyRun } from "./_bpf_why.ts";

/** How the programs are attached, best first. */
export const ATTACH_KINDS = ["fentry", "raw_tp", "tp"] as const;
/** An attach kind: fentry/fexit, raw tracepoints, classic tracepoints. */
export type AttachKind = typeof ATTACH_KINDS[number];
/**
 * The environment variable that caps the attach kind tried first (tests force
 * fallbacks): `raw_tp`, `tp`; `off` makes the backend refuse to load, so that
 * `auto` falls back to bpftrace, then ftrace.
 */
export const ATTACH_ENV = "IOSCOPE_BPF_ATTACH";
/** The environment variable that forces starts into a hash keyed by thread id (`hash`). */
export const STARTS_ENV = "IOSCOPE_BPF_STARTS";

/** The bpf backend's options beyond every backend's. */
export interface BpfBackendOptions extends BackendOptions {
  /** The best attach kind to try. @default $IOSCOPE_BPF_ATTACH, else "fentry" */
  attach?: AttachKind;
  /** Keep starts in a hash keyed by thread id even where task storage works. @default $IOSCOPE_BPF_STARTS === "hash" */
  startsInHash?: boolean;
}

/** The running bpf backend: a TraceBackend that also says how it attached. */
export interface BpfBackend extends TraceBackend {
  readonly name: "bpf";
  readonly attach: AttachReport;
  /** The kernel ids of this backend's programs and links (tests check they go away). */
  objectIds(): { programs: number[]; links: number[] };
  /** The thread group ids in the traced set now (as the programs keep it). */
  tracedNow(): number[];
}

/** The syscalls the programs time on this architecture. */
export function tracedSyscalls(): TracedSyscall[] {
  if (Deno.build.arch !== "x86_64") {
    throw new RunError(
      `the bpf backend knows syscall numbers for x86_64 only, not ${Deno.build.arch}`,
    );
  }
  return SYSCALLS.map((s) => ({
    nr: s.nr_x86_64,
    name: s.name,
    bytes: s.bytes !== "none",
    fd: s.fd,
  }));
}

function oneLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  return s.split("\n")[0] ?? s;
}

/** A classic tracepoint's fields, read from tracefs once. */
function fieldReader(): (event: string, field: string) => FieldPlace {
  const formats = new Map<string, FtraceEventFormat>();
  return (event, field) => {
    let f = formats.get(event);
    if (!f) {
      const [group = "", name = ""] = event.split(":");
      f = parseEventFormat(
        eventFormat(group, name),
        group,
      );
      formats.set(event, f);
    }
    const place = f.fields.get(field);
    if (!place) throw new Error(`The tracepoint ${event} has no field ${field}`);
    return place;
  };
}

/**
 * Where x86's `thread_info.status` (its TS_COMPAT bit: a 32-bit syscall) lies
 * in `task_struct`, from the kernel's BTF (the types up to it indexed: about 3 ms here); or why
 * 32-bit syscalls cannot be told apart.
 * @returns the byte offset, or the reason
 */
export function compatStatusOffset(): number | string {
  if (Deno.build.arch !== "x86_64") return `no TS_COMPAT on ${Deno.build.arch}`;
  try {
    return vmlinuxBtf().memberOffset("task_struct", "thread_info.status").offset;
  } catch (e: unknown) {
    return `32-bit syscalls are not told apart: ${oneLine(e)}`;
  }
}

/** The cgroup v2 level of a cgroup directory (0: the root). */
export function cgroupLevel(path: string): number {
  let mount = "/sys/fs/cgroup";
  try {
    for (const line of Deno.readTextFileSync("/proc/self/mounts").split("\n")) {
      const [, dir, type] = line.split(" ");
      if (type === "cgroup2" && dir && path.startsWith(dir)) mount = dir;
    }
  } catch {
    // keep the usual mount point
  }
  return path.slice(mount.length).split("/").filter((p) => p !== "").length;
}

/**
 * Whether the bpf backend can run here: its programs are raw tracepoint (or
 * classic tracepoint) programs, so those must load and attach. Tried once
 * (a two-instruction program on sys_enter), cached.
 * @returns ok, and why not
 */
export function bpfLoads(): { ok: boolean; reason: string } {
  if (Deno.env.get(ATTACH_ENV) === "off") return { ok: false, reason: `${ATTACH_ENV}=off` };
  if (Deno.build.arch !== "x86_64") {
    return {
      ok: false,
      reason: `syscall numbers are known for x86_64 only, not ${Deno.build.arch}`,
    };
  }
  const raw = haveRawTracepoint();
  if (raw.ok) return raw;
  const tp = canLoad(ProgType.TRACEPOINT);
  return tp.ok ? tp : { ok: false, reason: `${raw.reason}; ${tp.reason}` };
}

/**
 * What the bpf backend would do on this host, found by the same trials it
 * makes (cheap ones: two-instruction programs, a task storage map): the
 * attach kind and where starts live, and why each better way is out.
 * @returns the kind (null: none loads), starts, and the reasons
 */
export function bpfAttachPlan(): {
  kind: AttachKind | null;
  starts: "task_storage" | "hash";
  reasons: { kind: string; reason: string }[];
} {
  const reasons: { kind: string; reason: string }[] = [];
  const storage = haveTaskStorage();
  if (!storage.ok) reasons.push({ kind: "task_storage", reason: storage.reason });
  const starts = storage.ok ? "task_storage" : "hash";
  const tracing = tracingRefused() ?? deepTracingRefused();
  if (tracing === null) return { kind: "fentry", starts, reasons };
  reasons.push({ kind: "fentry", reason: tracing });
  const raw = haveRawTracepoint();
  if (raw.ok) return { kind: "raw_tp", starts, reasons };
  reasons.push({ kind: "raw_tp", reason: raw.reason });
  const tp = canLoad(ProgType.TRACEPOINT);
  if (tp.ok) return { kind: "tp", starts, reasons };
  reasons.push({ kind: "tp", reason: tp.reason });
  return { kind: null, starts, reasons };
}

/**
 * Why TRACING (fentry/fexit) programs cannot load here, or null when they
 * can: a program with no target is handed to the kernel, which answers
 * EINVAL ("needs a BTF id") where tracing is allowed and EPERM where it is
 * refused before the verifier runs, without reading the kernel's BTF
 * (0.2-0.5 s) on a host that cannot use it.
 */
function tracingRefused(): string | null {
  try {
    BpfProgram.load({
      type: ProgType.TRACING,
      name: "ios_probe",
      insns: [mov.imm(R0, 0), exit()],
      expectedAttachType: AttachType.TRACE_FENTRY,
    }).close();
    return null;
  } catch (e: unknown) {
    if (e instanceof ErrnoError && e.code === "EINVAL") return null;
    return `BPF_PROG_TYPE_TRACING programs do not load: ${oneLine(e)}`;
  }
}

/**
 * Why TRACING programs on the syscall functions cannot read their first
 * argument (Debian's 5.10 loads them, then refuses the read where BTF only
 * declares `pt_regs`), or null when they can; reads the kernel's BTF, so
 * only asked where tracing programs load at all.
 */
function deepTracingRefused(): string | null {
  const f = canLoad(ProgType.TRACING);
  if (!f.ok) return f.reason;
  const args = firstArgsReadable(
    tracedSyscalls().filter((s) => s.fd).map((s) => syscallFunction(s.name)),
  );
  return args.ok ? null : args.reason;
}

/**
 * What PROG_LOAD gets for a planned program: fentry/fexit programs are
 * TRACING programs with their attach type and the BTF id of the syscall's
 * kernel function; the others are raw tracepoint or tracepoint programs.
 * @param p the planned program
 * @param funcId the BTF id of a kernel function (vmlinux BTF)
 * @returns the spec
 * @throws Error when the kernel has no such function
 */
export function programSpec(
  p: PlannedProgram,
  funcId: (name: string) => number | undefined,
): ProgramSpec {
  if ("function" in p.at) {
    const id = funcId(p.at.function);
    if (id === undefined) throw new Error(`The kernel has no function ${p.at.function}`);
    return {
      type: ProgType.TRACING,
      name: p.name,
      insns: p.insns,
      expectedAttachType: p.at.exit ? AttachType.TRACE_FEXIT : AttachType.TRACE_FENTRY,
      attachBtfId: id,
    };
  }
  return {
    type: p.kind === "tp" ? ProgType.TRACEPOINT : ProgType.RAW_TRACEPOINT,
    name: p.name,
    insns: p.insns,
  };
}

/** The programs of one attach kind, loaded and attached; `close()` undoes it all. */
class AttachedSet {
  readonly programs: BpfProgram[] = [];
  readonly links: BpfLink[] = [];

  constructor(plan: readonly PlannedProgram[]) {
    try {
      const funcId = (name: string) => vmlinuxBtf().funcId(name);
      for (const p of plan) this.programs.push(BpfProgram.load(programSpec(p, funcId)));
      plan.forEach((p, i) => {
        const prog = this.programs[i] as BpfProgram;
        if ("function" in p.at) this.links.push(BpfLink.attachTracing(prog));
        else if (p.kind === "tp") {
          const [group = "", name = ""] = p.at.tracepoint.split(":");
          this.links.push(BpfLink.attachTracepoint(prog, group, name));
        } else this.links.push(BpfLink.attachRawTracepoint(prog, p.at.tracepoint));
      });
    } catch (e: unknown) {
      this.close();
      throw e;
    }
  }

  /** Runs skipped because a program was already running on that CPU. */
  recursionMisses(): number {
    let n = 0;
    for (const p of this.programs) {
      try {
        n += p.recursionMisses();
      } catch {
        // closed
      }
    }
    return n;
  }

  /** Detaches (links first), then unloads. Idempotent. */
  close(): void {
    for (const l of this.links) l.close();
    for (const p of this.programs) p.close();
  }
}

/**
 * Starts the bpf backend: creates the maps, seeds the traced set, loads and
 * attaches the programs of the best kind that works.
 * @param options targets, filters, and forced fallbacks
 * @returns the running backend, attached
 * @throws RunError when no attach kind works (each kind's reason in the message)
 */
export function startBpf(options: BpfBackendOptions): BpfBackend {
  if (Deno.env.get(ATTACH_ENV) === "off") {
    throw new RunError(`the bpf backend is turned off (${ATTACH_ENV}=off)`);
  }
  const envAttach = Deno.env.get(ATTACH_ENV);
  const best = options.attach ??
    ((ATTACH_KINDS as readonly string[]).includes(envAttach ?? "")
      ? envAttach as AttachKind
      : "fentry");
  const startsInHash = options.startsInHash ?? Deno.env.get(STARTS_ENV) === "hash";
  const reasons: AttachReport["reasons"] = [];
  for (const k of ATTACH_KINDS.slice(0, ATTACH_KINDS.indexOf(best))) {
    reasons.push({ kind: k, reason: `not tried: ${ATTACH_ENV} or the caller asked for ${best}` });
  }

  let taskStorage = !startsInHash;
  if (startsInHash) reasons.push({ kind: "task_storage", reason: `not tried: ${STARTS_ENV}=hash` });

  const syscalls = tracedSyscalls();
  const uring = hasTracepoint("io_uring", "io_uring_submit_req") &&
    hasTracepoint("io_uring", "io_uring_complete");
  const tlb = hasTracepoint("tlb", "tlb_flush");
  const rename = hasTracepoint("task", "task_rename");
  const filter: TargetFilter = {};
  if (options.followChildren) filter.followChildren = true;
  if (options.comm) filter.comm = options.comm;
  if (options.cgroup) {
    filter.cgroup = { id: BigInt(options.cgroup.id), level: cgroupLevel(options.cgroup.path) };
  }

  let maps: BpfMapSet;
  try {
    maps = new BpfMapSet({ syscalls, taskStorage });
  } catch (e: unknown) {
    if (!taskStorage) throw new RunError(`the bpf backend cannot create its maps: ${oneLine(e)}`);
    reasons.push({ kind: "task_storage", reason: oneLine(e) });
    taskStorage = false;
    try {
      maps = new BpfMapSet({ syscalls, taskStorage });
    } catch (e2: unknown) {
      throw new RunError(`the bpf backend cannot create its maps: ${oneLine(e2)}`);
    }
  }

  // The targets go in first: the programs trace them from their first event.
  const full = maps.addTargets(options.pids);
  const compat = compatStatusOffset();
  let set: AttachedSet | null = null;
  const ready = prepareWhy(syscalls, (p) => new AttachedSet(p));
  let why: WhyRun | string = typeof ready === "string" ? ready : "";
  let built: BuildContext | null = null;
  let kind: AttachKind = best;
  const field = fieldReader();
  for (const k of ATTACH_KINDS.slice(ATTACH_KINDS.indexOf(best))) {
    try {
      if (k === "fentry") {
        const why = tracingRefused();
        if (why) throw new Error(why);
      }
      const b: BuildContext = {
        kind: k,
        field,
        maps: maps.fds,
        filter,
        ...(typeof compat === "number" ? { compatStatusOffset: compat } : {}),
      };
      const plan = planPrograms(b, {
        uring,
        tlb,
        rename,
        syscalls: syscalls.map((s, slot) => ({
          name: s.name,
          nr: s.nr,
          slotValue: slotValue(s, slot),
          function: syscallFunction(s.name),
        })),
        ...(typeof ready !== "string" && k !== "tp" ? { exitExtra: ready.exitExtra } : {}),
      });
      set = new AttachedSet(plan);
      built = b;
      kind = k;
      break;
    } catch (e: unknown) {
      reasons.push({ kind: k, reason: oneLine(e) });
    }
  }
  if (!set || !built) {
    if (typeof ready !== "string") ready.close();
    maps.close();
    throw new RunError(
      `the bpf backend could not attach: ${
        reasons.map((r) => `${r.kind}: ${r.reason}`).join("; ")
      }`,
    );
  }
  const attached = set;
  if (typeof ready !== "string") why = ready.start(built);

  const unsupported: Unsupported[] = [];
  if (!tlb) {
    unsupported.push({
      metric: "tlb.flushes",
      reason: "no tlb:tlb_flush tracepoint on this kernel",
    });
  }
  if (!uring) {
    unsupported.push({ metric: "io_uring", reason: "no io_uring tracepoints on this kernel" });
  }
  if (typeof compat === "string") unsupported.push({ metric: "compat_syscalls", reason: compat });
  const split = typeof why === "string" ? null : why;
  if (typeof why === "string") unsupported.push({ metric: "time_split", reason: why });

  function read(): Snapshot {
    const s = maps.read();
    s.recursionMisses = attached.recursionMisses();
    s.mapFull += full;
    if (split) split.fill(s);
    else s.whyUnsupported = why as string;
    return s;
  }

  let latest = read();
  // The window opens: /proc is read, then the gate opens, when every program
  // is attached; its edges on CLOCK_MONOTONIC, the programs' clock.
  options.onOpening?.();
  maps.setGate(true);
  const openNs = monotonicNs();
  const fromMs = performance.now();
  let closeNs: bigint | null = null;
  let resolveDied!: (why: string) => void;
  const died = new Promise<string>((res) => (resolveDied = res));
  const timer = setInterval(() => {
    try {
      latest = read();
      split?.interval(latest);
      options.onSnapshot?.(latest);
    } catch (e: unknown) {
      clearInterval(timer);
      resolveDied(`the bpf backend could not read its maps: ${oneLine(e)}`);
    }
  }, 1000);

  let stopped: Promise<Snapshot> | null = null;
  return {
    name: "bpf",
    attach: { kind, starts: taskStorage ? "task_storage" : "hash", reasons },
    attached: Promise.resolve(),
    died,
    unsupported,
    latest: () => latest,
    window: () => ({
      fromMs,
      toMs: closeNs === null ? null : fromMs + Number(closeNs - openNs) / 1e6,
    }),
    objectIds: () => ({
      programs: attached.programs.filter((p) => !p.closed).map((p) => p.id),
      links: attached.links.flatMap((l) => {
        try {
          return l.closed ? [] : [l.id()];
        } catch {
          return []; // attached by ioctl: no link object
        }
      }),
    }),
    tracedNow: () => maps.targets(),
    stop(onClosed?: () => void): Promise<Snapshot> {
      stopped ??= (() => {
        clearInterval(timer);
        // The window ends: the gate closes, then /proc is read (the same
        // window's end), then the last read, then everything is freed. A call
        // in flight now ends uncounted (in flight), whatever detaches first.
        try {
          maps.setGate(false);
          closeNs = monotonicNs();
        } catch {
          // maps gone: detaching below ends the counts
        }
        for (const l of closeNs === null ? attached.links : []) l.close();
        onClosed?.();
        try {
          latest = read();
        } catch {
          // keep the last good read
        }
        attached.close();
        split?.close();
        maps.close();
        return Promise.resolve(latest);
      })();
      return stopped;
    },
  };
}
