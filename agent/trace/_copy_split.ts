/**
 * Where the traced bytes went: through user memory, or moved by the kernel
 * alone (and of those, still copied inside the kernel), by each call's copy
 * class (schema/syscalls.ts). Pure.
 * @module
 */

import {
  type CopyClass,
  type CopyStats,
  type FdKind,
  IO_URING_COPY_CLASS,
  SYSCALL_COPY_CLASS,
} from "../../schema/mod.ts";
import type { Snapshot } from "../../probes/mod.ts";

/** What the agent learnt of a descriptor from /proc/PID/fd and fdinfo. */
export interface FdInfo {
  kind: FdKind;
  target: string;
  /** Opened write-only (a pipe's write end). */
  writeOnly: boolean;
  /** What it names, from stat(2) through the link: `st_dev` (as user space numbers it) and `st_ino`. */
  stat?: { dev: number; ino: number };
}

function round4(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}

/**
 * Splits a snapshot's bytes by copy class. sendfile and vmsplice are split
 * by their descriptor (the first argument: sendfile's output, vmsplice's
 * pipe) where the snapshot keys bytes by descriptor and the descriptor was
 * resolved; else sendfile counts as moved by the kernel, vmsplice as
 * through user memory.
 * @param snapshot the backend's totals
 * @param fds descriptor facts keyed "pid:fd"
 * @returns the copy block of the Run document
 * @example
 * ```ts
 * import { copySplit } from "./_copy_split.ts";
 * import { emptyOpTotals, emptySnapshot } from "../../probes/snapshot.ts";
 * const s = emptySnapshot();
 * s.syscalls.set("read", { ...emptyOpTotals(), bytes: 300 });
 * s.syscalls.set("tee", { ...emptyOpTotals(), bytes: 50 });
 * s.io_uring.set("SPLICE", { ...emptyOpTotals(), bytes: 100 });
 * const c = copySplit(s, new Map());
 * console.assert(c.user_bytes === 300 && c.kernel_bytes === 100 && c.tee_bytes === 50);
 * ```
 */
export function copySplit(snapshot: Snapshot, fds: ReadonlyMap<string, FdInfo>): CopyStats {
  let user = 0;
  let kernel = 0;
  let kernelCopy = 0;
  let none = 0;
  const add = (cls: CopyClass | "user" | "kernel", bytes: number) => {
    if (cls === "user") user += bytes;
    else if (cls === "kernel") kernel += bytes;
    else if (cls === "kernel-copy") {
      kernel += bytes;
      kernelCopy += bytes;
    } else if (cls === "none") none += bytes;
  };
  // Bytes of sendfile and vmsplice by descriptor, where known.
  const byFd = { sendfile64: 0, vmsplice: 0 };
  for (const [key, t] of snapshot.fds) {
    const info = fds.get(key);
    if (!info) continue;
    for (const name of ["sendfile64", "vmsplice"] as const) {
      const bytes = t.callBytes.get(name) ?? 0;
      if (bytes === 0) continue;
      if (name === "sendfile64") add(info.kind === "file" ? "kernel-copy" : "kernel", bytes);
      else add(info.writeOnly ? "kernel" : "user", bytes);
      byFd[name] += bytes;
    }
  }
  for (const [name, op] of snapshot.syscalls) {
    const cls = SYSCALL_COPY_CLASS[name];
    if (!cls) continue;
    const rest = op.bytes - (name === "sendfile64" || name === "vmsplice" ? byFd[name] : 0);
    add(cls === "sendfile" ? "kernel" : cls === "vmsplice" ? "user" : cls, Math.max(0, rest));
  }
  for (const [name, op] of snapshot.io_uring) {
    const cls = IO_URING_COPY_CLASS[name];
    if (cls) add(cls, op.bytes);
  }
  return {
    copied_bytes: user,
    zero_copy_bytes: kernel,
    zero_copy_ratio: user + kernel > 0 ? round4(kernel / (user + kernel)) : 0,
    user_bytes: user,
    kernel_bytes: kernel,
    kernel_copied_bytes: kernelCopy,
    tee_bytes: none,
    kernel_ratio: user + kernel > 0 ? round4(kernel / (user + kernel)) : 0,
  };
}
