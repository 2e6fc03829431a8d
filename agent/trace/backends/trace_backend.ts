/**
 * What the trace session needs from a backend (bpftrace, ftrace): attach to a
 * set of processes, report cumulative snapshots, and detach everything on stop.
 * @module
 */

import type { Unsupported } from "../../../schema/mod.ts";
import type { Snapshot } from "../../../probes/mod.ts";

/** A running backend. One per trace session. */
export interface TraceBackend {
  readonly name: "bpf" | "bpftrace" | "ftrace";
  /** How the probes were attached and why better ways were not (the bpf backend). */
  readonly attach?: AttachReport;
  /** Resolves once every probe is attached; rejects (RunError) if it could not start. */
  readonly attached: Promise<void>;
  /** Resolves with a reason if the backend ends by itself (it should not). */
  readonly died: Promise<string>;
  /** The latest complete cumulative snapshot (cheap; called every second). */
  latest(): Snapshot;
  /**
   * Detaches every probe, reaps every child, removes every tracefs change, and
   * returns the final snapshot. Idempotent; safe before `attached` settles.
   * @param onClosed called once, the moment the probes stop counting (before
   *   the last reads), so that /proc can be read at the same window's end
   */
  stop(onClosed?: () => void): Promise<Snapshot>;
  /** Metrics this backend cannot measure here, with the reason. */
  readonly unsupported: Unsupported[];
  /** How 32-bit (compat) syscalls are told apart and counted (the Run's meta.compat_check). */
  readonly compatCheck?: string;
  /**
   * When the backend's counting window opened and closed in the kernel, as
   * `performance.now()` values (`toMs` null while open): what it counted
   * lies exactly in it, so the Run's duration is taken from it.
   */
  window?(): { fromMs: number; toMs: number | null } | null;
}

/** How a backend attached its programs, and why the better ways were not taken. */
export interface AttachReport {
  /** `fentry` (fentry/fexit), `raw_tp` (raw tracepoints) or `tp` (classic tracepoints). */
  kind: string;
  /** Where call start times live: task storage, or a hash keyed by thread id. */
  starts: "task_storage" | "hash";
  /** Each better way (and task storage) not used, with the kernel's reason. */
  reasons: { kind: string; reason: string }[];
}

/** What a backend is started with. */
export interface BackendOptions {
  /** Thread group ids to trace (every thread of each, new threads included). */
  pids: number[];
  /** Also trace every process the targets fork (and theirs), as `strace -f` does. */
  followChildren?: boolean;
  /**
   * `--comm NAME`: also every process that takes this name later (by exec),
   * and what those fork; one that execs another name leaves the set.
   */
  comm?: string;
  /**
   * `--cgroup DIR`: every process in this cgroup v2 directory, those that join
   * later too; `id` is the directory's inode number, the kernel's cgroup id.
   * `pids` are its members at the start (maybe none).
   */
  cgroup?: { path: string; id: number };
  /** Called with each complete cumulative snapshot (about once a second). */
  onSnapshot?: (snapshot: Snapshot) => void;
  /**
   * Called once, the moment before the probes start counting (every probe
   * attached), so that /proc is read at the same window's start (the mirror of
   * `stop`'s `onClosed`). A backend that cannot say when lets the caller read
   * /proc once `attached` resolves.
   */
  onOpening?: () => void;
}
