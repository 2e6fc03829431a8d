/**
 * Attaching programs: `BpfLink` owns what keeps a program attached (a link
 * descriptor, or a perf event with the program set on it) and detaches it on
 * close. Because the kernel detaches when the last descriptor closes, even a
 * `kill -9` of the agent leaves nothing attached.
 * @module
 */

import { Fd } from "../fd.ts";
import type { BpfProgram } from "./program.ts";
import {
  AttachType,
  ioctl,
  linkCreate,
  linkInfo,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_IOC_SET_BPF,
  perfEventOpenTracepoint,
  rawTracepointOpen,
} from "./sys.ts";

/** How a link was made. */
export type LinkKind =
  | "raw_tracepoint" // BPF_RAW_TRACEPOINT_OPEN with a name
  | "tracing" // fentry/fexit: LINK_CREATE or RAW_TRACEPOINT_OPEN without a name
  | "tracepoint"; // perf_event_open on a tracefs event, then LINK_CREATE or ioctl

/** Options of {@linkcode BpfLink.attachTracing}. */
export interface TracingOptions {
  /** "link" (LINK_CREATE), "raw_tracepoint_open", or "auto": the first that works. @default "auto" */
  method?: "auto" | "link" | "raw_tracepoint_open";
}

/** Options of {@linkcode BpfLink.attachTracepoint}. */
export interface TracepointOptions {
  /** "link" (LINK_CREATE with BPF_PERF_EVENT), "ioctl" (PERF_EVENT_IOC_SET_BPF), or "auto". @default "auto" */
  method?: "auto" | "link" | "ioctl";
  /** The tracefs mount. @default "/sys/kernel/tracing" */
  tracefs?: string;
}

/** An attached program; `close()` or `using` detaches it. */
export class BpfLink implements Disposable {
  #link: Fd | null;
  #perf: Fd | null;
  /** How it was attached. */
  readonly kind: LinkKind;
  /** Where: the tracepoint's or function's name. */
  readonly target: string;
  /** For tracepoints: "link" or "ioctl"; for tracing: "link" or "raw_tracepoint_open". */
  readonly method: string;

  /**
   * Takes ownership of the descriptors that keep a program attached (use the
   * `attach*` functions).
   * @param parts how and where it was attached, and the link and perf event
   *   descriptors (either may be null)
   */
  constructor(
    parts: { kind: LinkKind; target: string; method: string; link: Fd | null; perf: Fd | null },
  ) {
    this.kind = parts.kind;
    this.target = parts.target;
    this.method = parts.method;
    this.#link = parts.link;
    this.#perf = parts.perf;
  }

  /**
   * Attaches a RAW_TRACEPOINT program to a raw tracepoint.
   * @param prog the program
   * @param name the tracepoint, e.g. `sys_enter`, `sys_exit`, `sched_process_fork`
   * @returns the link
   * @throws ErrnoError (ENOENT: no such tracepoint)
   * @example
   * ```ts
   * import { BpfLink, BpfProgram, exit, mov, ProgType, R0 } from "./mod.ts";
   * using prog = BpfProgram.load({
   *   type: ProgType.RAW_TRACEPOINT,
   *   name: "doc_raw_tp",
   *   insns: [mov.imm(R0, 0), exit()],
   * });
   * using link = BpfLink.attachRawTracepoint(prog, "sys_enter");
   * console.assert(link.id() > 0);
   * ```
   */
  static attachRawTracepoint(prog: BpfProgram, name: string): BpfLink {
    const fd = new Fd(rawTracepointOpen(prog.fd, name), `the BPF link ${name}`);
    return new BpfLink({
      kind: "raw_tracepoint",
      target: name,
      method: "raw_tracepoint_open",
      link: fd,
      perf: null,
    });
  }

  /**
   * Attaches a TRACING program (fentry/fexit) to the function it was loaded
   * for (its `attachBtfId`), with LINK_CREATE, else RAW_TRACEPOINT_OPEN.
   * @param prog the program, loaded with an expected attach type
   * @param options which call to use
   * @returns the link
   * @throws ErrnoError from the last call tried
   */
  static attachTracing(prog: BpfProgram, options: TracingOptions = {}): BpfLink {
    const { method = "auto" } = options;
    const attachType = prog.expectedAttachType || AttachType.TRACE_FENTRY;
    if (method !== "raw_tracepoint_open") {
      try {
        const fd = linkCreate({ progFd: prog.fd, targetFd: 0, attachType });
        const link = new Fd(fd, `the BPF link ${prog.name}`);
        return new BpfLink({
          kind: "tracing",
          target: prog.name,
          method: "link",
          link,
          perf: null,
        });
      } catch (e: unknown) {
        if (method === "link") throw e;
      }
    }
    const fd = new Fd(rawTracepointOpen(prog.fd, null), `the BPF link ${prog.name}`);
    return new BpfLink({
      kind: "tracing",
      target: prog.name,
      method: "raw_tracepoint_open",
      link: fd,
      perf: null,
    });
  }

  /**
   * Attaches a TRACEPOINT program to a classic tracepoint: a perf event on
   * it, then LINK_CREATE (BPF_PERF_EVENT), else PERF_EVENT_IOC_SET_BPF.
   * The program's return value decides whether perf also records the event:
   * return 0 (the perf event has no ring buffer to fill).
   * @param prog the program
   * @param category the tracefs category, e.g. `syscalls`
   * @param name the event, e.g. `sys_enter_read`
   * @param options which call to use, and where tracefs is
   * @returns the link
   * @throws Error when the event does not exist; ErrnoError from the kernel
   */
  static attachTracepoint(
    prog: BpfProgram,
    category: string,
    name: string,
    options: TracepointOptions = {},
  ): BpfLink {
    const { method = "auto", tracefs = "/sys/kernel/tracing" } = options;
    const target = `${category}:${name}`;
    const id = tracepointId(tracefs, category, name);
    const perf = new Fd(perfEventOpenTracepoint(id), `the perf event ${target}`);
    try {
      if (method !== "ioctl") {
        try {
          const fd = linkCreate({
            progFd: prog.fd,
            targetFd: perf.fd,
            attachType: AttachType.PERF_EVENT,
          });
          const link = new Fd(fd, `the BPF link ${target}`);
          return new BpfLink({ kind: "tracepoint", target, method: "link", link, perf });
        } catch (e: unknown) {
          if (method === "link") throw e;
        }
      }
      ioctl(perf.fd, PERF_EVENT_IOC_SET_BPF, prog.fd);
      ioctl(perf.fd, PERF_EVENT_IOC_ENABLE, 0);
      return new BpfLink({ kind: "tracepoint", target, method: "ioctl", link: null, perf });
    } catch (e: unknown) {
      perf.close();
      throw e;
    }
  }

  /** True once detached. */
  get closed(): boolean {
    return this.#link === null && this.#perf === null;
  }

  /** The link's descriptor, or -1 for a tracepoint attached by ioctl. */
  get fd(): number {
    if (this.closed) throw new Error(`Cannot use the BPF link ${this.target}: it is closed`);
    return this.#link?.fd ?? -1;
  }

  /**
   * The kernel's link id (what `bpftool link` shows), or 0 for an ioctl attach.
   * @returns the id
   */
  id(): number {
    const fd = this.fd;
    return fd < 0 ? 0 : linkInfo(fd).id;
  }

  /** Detaches: closes the link and the perf event; a second call does nothing. */
  close(): void {
    const link = this.#link, perf = this.#perf;
    this.#link = null;
    this.#perf = null;
    try {
      link?.close();
    } finally {
      perf?.close();
    }
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A classic tracepoint's id, from tracefs.
 * @param tracefs the tracefs mount
 * @param category e.g. `syscalls`
 * @param name e.g. `sys_enter_read`
 * @returns the id perf_event_open takes as `config`
 * @throws Error when the event is missing
 */
export function tracepointId(tracefs: string, category: string, name: string): number {
  if (!/^[\w.-]+$/.test(category) || !/^[\w.-]+$/.test(name)) {
    throw new RangeError(`Invalid tracepoint name ${category}:${name}`);
  }
  const path = `${tracefs}/events/${category}/${name}/id`;
  try {
    return Number(Deno.readTextFileSync(path).trim());
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`Cannot find the tracepoint ${category}:${name} (${path}): ${why}`);
  }
}
