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
import { RunError } from "../../mod.ts";
import { eventFormat, hasTracepoint } from "../tracefs.ts";
import { SYSCALLS, SYSCALLS_I386, type Unsupported } from "../../../schema/mod.ts";
import {
  AttachType,
  BpfLink,
  type BpfMap,
  BpfProgram,
  canLoad,
  compatSyscallFunctions,
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
import {
  BPF_MODULES,
  type BpfModule,
  type BuildContext,
  type FieldPlace,
  MAP_NAMES,
  pageCache,
  type PlannedProgram,
  planPrograms,
  slotValue,
  type TargetFilter,
  type TracedSyscall,
} from "../../../probes/bpf/mod.ts";
import { BpfMapSet, closeMaps, createMaps } from "./_bpf_maps.ts";
import {
  type FtraceEventFormat,
  parseEventFormat,
  type Snapshot,
  SNAPSHOT_MS,
} from "../../../probes/mod.ts";
import { prepareWhy, type WhyReady, type WhyRun } from "./_bpf_why.ts";

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
  /** The program modules to run beside the backend's own. @default BPF_MODULES (probes/bpf/modules.ts) */
  modules?: readonly BpfModule[];
}

/** The running bpf backend: a TraceBackend that also says how it attached. */
export interface BpfBackend extends TraceBackend {
  readonly name: "bpf";
  readonly compatCheck: string;
  readonly attach: AttachReport;
  /** The kernel ids of this backend's programs and links (tests check they go away). */
  objectIds(): { programs: number[]; links: number[] };
  /** The thread group ids in the traced set now (as the programs keep it). */
  tracedNow(): number[];
  /** Each loaded program module's read-back (probes/bpf/modules.ts), by module name. */
  modules(): Record<string, unknown>;
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

/**
 * How 32-bit (compat) calls of a traced syscall are found with an attach
 * kind: raw and classic tracepoints see every call with its number, so they
 * get the syscall's i386 numbers (and test the task's TS_COMPAT flag);
 * fentry's `__x64_sys_*` functions see 64-bit calls only, so it gets the
 * syscall's i386 functions, those this kernel has (none without IA32
 * emulation).
 */
function compatPlan(
  kind: AttachKind,
  name: string,
): { i386?: readonly number[]; compatFunctions?: readonly string[] } {
  if (kind !== "fentry") return { i386: SYSCALLS_I386.get(name) ?? [] };
  ia32Functions ??= vmlinuxBtf().funcNamesStartingWith("__ia32_");
  return { compatFunctions: compatSyscallFunctions(ia32Functions, name) };
}
let ia32Functions: string[] | undefined;

/** What the Run says of 32-bit calls (meta.compat_check), for the programs attached. */
function compatReport(kind: AttachKind, plan: readonly PlannedProgram[]): string {
  if (kind !== "fentry") {
    return "counted apart by i386 number where the task's TS_COMPAT flag is set, not timed";
  }
  const fns = plan.filter((p) => "function" in p.at && p.at.function.startsWith("__ia32_"));
  return fns.length > 0
    ? `counted apart by fentry on ${fns.length} i386 syscall functions (__ia32_*), not timed`
    : "not seen: fentry sits on __x64_sys_* and this kernel has no __ia32_ syscall functions";
}

/** The programs of one attach kind, loaded and attached; `close()` undoes it all. */
class AttachedSet {
  readonly programs: BpfProgram[] = [];
  readonly links: BpfLink[] = [];

  /**
   * @param plan the programs
   * @param maps map names by descriptor, for a verifier error's printed instruction
   */
  constructor(plan: readonly PlannedProgram[], maps: Record<number, string> = {}) {
    try {
      const funcId = (name: string) => vmlinuxBtf().funcId(name);
      for (const p of plan) {
        this.programs.push(BpfProgram.load({ ...programSpec(p, funcId), names: { maps } }));
      }
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

/** The attach kind to try first and where starts live, as the options and environment ask. */
function firstChoices(options: BpfBackendOptions): {
  best: AttachKind;
  startsInHash: boolean;
  reasons: AttachReport["reasons"];
} {
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
  if (startsInHash) reasons.push({ kind: "task_storage", reason: `not tried: ${STARTS_ENV}=hash` });
  return { best, startsInHash, reasons };
}

/** Who is traced beyond the targets map: --follow, --comm, --cgroup. */
function targetFilter(options: BpfBackendOptions): TargetFilter {
  const filter: TargetFilter = {};
  if (options.followChildren) filter.followChildren = true;
  if (options.comm) filter.comm = options.comm;
  if (options.cgroup) {
    filter.cgroup = { id: BigInt(options.cgroup.id), level: cgroupLevel(options.cgroup.path) };
  }
  return filter;
}

/** The maps, with starts in task storage unless that is refused (then in a hash, the reason kept). */
function createMapSet(
  syscalls: TracedSyscall[],
  taskStorage: boolean,
  reasons: AttachReport["reasons"],
): { maps: BpfMapSet; taskStorage: boolean } {
  try {
    return { maps: new BpfMapSet({ syscalls, taskStorage }), taskStorage };
  } catch (e: unknown) {
    if (!taskStorage) throw new RunError(`the bpf backend cannot create its maps: ${oneLine(e)}`);
    reasons.push({ kind: "task_storage", reason: oneLine(e) });
  }
  try {
    return { maps: new BpfMapSet({ syscalls, taskStorage: false }), taskStorage: false };
  } catch (e: unknown) {
    throw new RunError(`the bpf backend cannot create its maps: ${oneLine(e)}`);
  }
}

/** Which optional tracepoints this kernel has. */
interface HostEvents {
  uring: boolean;
  tlb: boolean;
  rename: boolean;
}

function hostEvents(): HostEvents {
  return {
    uring: hasTracepoint("io_uring", "io_uring_submit_req") &&
      hasTracepoint("io_uring", "io_uring_complete"),
    tlb: hasTracepoint("tlb", "tlb_flush"),
    rename: hasTracepoint("task", "task_rename"),
  };
}

/**
 * Loads and attaches the programs of the best kind that works, from `best` down.
 * @returns the attached set, its kind and the build context it was built with
 * @throws RunError when none does (each kind's reason in the message)
 */
function attachBest(
  best: AttachKind,
  base: Omit<BuildContext, "kind">,
  events: HostEvents,
  syscalls: TracedSyscall[],
  reasons: AttachReport["reasons"],
  why: WhyReady | string,
): { set: AttachedSet; kind: AttachKind; b: BuildContext; compatCheck: string } {
  const compat = base.compatStatusOffset;
  for (const k of ATTACH_KINDS.slice(ATTACH_KINDS.indexOf(best))) {
    try {
      if (k === "fentry") {
        // Decided by probing, before anything is loaded: TRACING programs at all
        // (no BTF read), then their first argument's type in BTF (5.10 loads
        // them but its verifier refuses sendto's pt_regs read).
        const why = tracingRefused() ?? deepTracingRefused();
        if (why) throw new Error(why);
      }
      const b: BuildContext = { ...base, kind: k };
      const plan = planPrograms(b, {
        ...events,
        syscalls: syscalls.map((s, slot) => ({
          name: s.name,
          nr: s.nr,
          slotValue: slotValue(s, slot),
          function: syscallFunction(s.name),
          ...(typeof compat === "number" ? compatPlan(k, s.name) : {}),
        })),
        ...(typeof why !== "string" && k !== "tp" ? { exitExtra: why.exitExtra } : {}),
      });
      const names = Object.fromEntries(
        (Object.keys(MAP_NAMES) as (keyof typeof MAP_NAMES)[]).map((
          m,
        ) => [b.maps[m], MAP_NAMES[m]]),
      );
      const compatCheck = typeof compat === "number" ? compatReport(k, plan) : "";
      return { set: new AttachedSet(plan, names), kind: k, b, compatCheck };
    } catch (e: unknown) {
      reasons.push({ kind: k, reason: oneLine(e) });
    }
  }
  throw new RunError(
    `the bpf backend could not attach: ${reasons.map((r) => `${r.kind}: ${r.reason}`).join("; ")}`,
  );
}

/** A program module (probes/bpf/modules.ts) loaded: its maps and attached programs. */
interface LoadedModule {
  module: BpfModule;
  maps: Record<string, BpfMap>;
  set: AttachedSet;
}

/**
 * Creates each module's maps and attaches its programs; one that does not
 * load here is left out, its reason kept (`module:NAME`).
 * @param b the build context the backend's own programs were built with
 * @param modules the modules
 * @param reasons where a module's failure goes
 * @returns the loaded ones
 */
export function loadModules(
  b: BuildContext,
  modules: readonly BpfModule[],
  reasons: AttachReport["reasons"],
): LoadedModule[] {
  const loaded: LoadedModule[] = [];
  for (const module of modules) {
    let maps: Record<string, BpfMap> = {};
    try {
      maps = createMaps(module.maps);
      const fds = Object.fromEntries(Object.entries(maps).map(([k, m]) => [k, m.fd]));
      const names = Object.fromEntries(Object.values(maps).map((m) => [m.fd, m.name]));
      loaded.push({ module, maps, set: new AttachedSet(module.programs(b, fds), names) });
    } catch (e: unknown) {
      closeMaps(maps);
      reasons.push({ kind: `module:${module.name}`, reason: oneLine(e) });
    }
  }
  return loaded;
}

/** What the bpf backend has no tracepoint (or no BTF) for on this kernel. */
function unsupportedOf(
  events: HostEvents,
  compat: number | string,
  why: WhyRun | string,
): Unsupported[] {
  const unsupported: Unsupported[] = [];
  if (!events.tlb) {
    unsupported.push({
      metric: "tlb.flushes",
      reason: "no tlb:tlb_flush tracepoint on this kernel",
    });
  }
  if (!events.uring) {
    unsupported.push({ metric: "io_uring", reason: "no io_uring tracepoints on this kernel" });
  }
  if (typeof compat === "string") unsupported.push({ metric: "compat_syscalls", reason: compat });
  if (typeof why === "string") unsupported.push({ metric: "time_split", reason: why });
  return unsupported;
}

/**
 * Starts the bpf backend: creates the maps, seeds the traced set, loads and
 * attaches the programs of the best kind that works, then the modules.
 * @param options targets, filters, and forced fallbacks
 * @returns the running backend, attached
 * @throws RunError when no attach kind works (each kind's reason in the message)
 */
export function startBpf(options: BpfBackendOptions): BpfBackend {
  const { best, startsInHash, reasons } = firstChoices(options);
  const syscalls = tracedSyscalls();
  const events = hostEvents();
  const { maps, taskStorage } = createMapSet(syscalls, !startsInHash, reasons);
  // The targets go in first: the programs trace them from their first event.
  const full = maps.addTargets(options.pids);
  const compat = compatStatusOffset();
  const base: Omit<BuildContext, "kind"> = {
    field: fieldReader(),
    maps: maps.fds,
    filter: targetFilter(options),
    ...(typeof compat === "number" ? { compatStatusOffset: compat } : {}),
  };
  // The time split's maps and programs (_bpf_why.ts), or why there is none.
  const ready = prepareWhy(syscalls, (p) => new AttachedSet(p));
  let attached: ReturnType<typeof attachBest>;
  try {
    attached = attachBest(best, base, events, syscalls, reasons, ready);
  } catch (e: unknown) {
    if (typeof ready !== "string") ready.close();
    maps.close();
    throw e;
  }
  const why = typeof ready === "string" ? ready : ready.start(attached.b);
  const modules = loadModules(attached.b, options.modules ?? BPF_MODULES, reasons);
  return running(options, {
    maps,
    full,
    sets: [attached.set, ...modules.map((m) => m.set)],
    modules,
    attach: { kind: attached.kind, starts: taskStorage ? "task_storage" : "hash", reasons },
    compatCheck: typeof compat === "string" ? `none: ${compat}` : attached.compatCheck,
    unsupported: unsupportedOf(events, compat, why),
    why,
  });
}

/** What a started backend runs with. */
interface Started {
  maps: BpfMapSet;
  /** Targets that did not fit in the traced set. */
  full: number;
  /** The backend's own programs first, then each module's. */
  sets: AttachedSet[];
  modules: LoadedModule[];
  attach: AttachReport;
  /** The time split, running, or why there is none. */
  why: WhyRun | string;
  /** How 32-bit calls are told apart (meta.compat_check). */
  compatCheck: string;
  unsupported: Unsupported[];
}

/** The running backend: the gate opened, the maps read once a second, stop. */
function running(options: BpfBackendOptions, started: Started): BpfBackend {
  const { maps, full, sets, modules, why } = started;
  const split = typeof why === "string" ? null : why;
  const cache = modules.find((m) => m.module === pageCache);
  const cacheReason = started.attach.reasons.find((r) => r.kind === `module:${pageCache.name}`)
    ?.reason ?? "the page-cache module is not loaded in this trace";
  function read(): Snapshot {
    const s = maps.read();
    s.recursionMisses = sets.reduce((n, set) => n + set.recursionMisses(), 0);
    s.mapFull += full;
    if (split) split.fill(s);
    else s.whyUnsupported = why as string;
    if (cache) s.pageCache = cache.module.read(cache.maps) as NonNullable<Snapshot["pageCache"]>;
    else s.pageCacheUnsupported = cacheReason;
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
  }, SNAPSHOT_MS);

  let stopped: Promise<Snapshot> | null = null;
  return {
    name: "bpf",
    attach: started.attach,
    compatCheck: started.compatCheck,
    attached: Promise.resolve(),
    died,
    unsupported: started.unsupported,
    latest: () => latest,
    window: () => ({
      fromMs,
      toMs: closeNs === null ? null : fromMs + Number(closeNs - openNs) / 1e6,
    }),
    objectIds: () => ({
      programs: sets.flatMap((s) => s.programs.filter((p) => !p.closed).map((p) => p.id)),
      links: sets.flatMap((s) =>
        s.links.flatMap((l) => {
          try {
            return l.closed ? [] : [l.id()];
          } catch {
            return []; // attached by ioctl: no link object
          }
        })
      ),
    }),
    tracedNow: () => maps.targets(),
    modules: () => Object.fromEntries(modules.map((m) => [m.module.name, m.module.read(m.maps)])),
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
        for (const l of closeNs === null ? sets.flatMap((s) => s.links) : []) l.close();
        onClosed?.();
        try {
          latest = read();
        } catch {
          // keep the last good read
        }
        for (const s of sets) s.close();
        for (const m of modules) closeMaps(m.maps);
        split?.close();
        maps.close();
        return Promise.resolve(latest);
      })();
      return stopped;
    },
  };
}
