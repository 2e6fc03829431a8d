/**
 * Process file descriptors (pidfd_open(2), pidfd_send_signal(2)): a handle on
 * one process, so a signal sent through it reaches that process or none,
 * never a later process given the same PID.
 * @module
 */

import { ErrnoError, unwrap } from "./errno.ts";
import { Fd } from "./fd.ts";
import { libc } from "./libc.ts";
import { pidfdOpen } from "./bpf/mod.ts";

/** pidfd_send_signal(2): the same number on every Linux architecture (the unified table). */
export const SYS_pidfd_send_signal = 424;

/**
 * A pidfd for a process, owned (Linux 5.3 and later).
 * @param pid the process
 * @returns the owned descriptor
 * @throws {ErrnoError} ESRCH when there is no such process, ENOSYS on older kernels
 * @example
 * ```ts
 * import { pidfdHandle, pidfdSignal } from "./pidfd.ts";
 * using me = pidfdHandle(Deno.pid);
 * console.assert(pidfdSignal(me, 0) === true);
 * ```
 */
export function pidfdHandle(pid: number): Fd {
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`Invalid PID ${pid}`);
  return new Fd(pidfdOpen(pid), `pidfd of ${pid}`);
}

const SIGNALS: Partial<Record<Deno.Signal | "0", number>> = {
  "0": 0,
  SIGINT: 2,
  SIGKILL: 9,
  SIGTERM: 15,
};

/**
 * Sends a signal to the process a pidfd holds (signal 0: only checks that it lives).
 * @param pidfd from {@linkcode pidfdHandle}
 * @param signal `SIGKILL`, `SIGTERM`, `SIGINT`, or 0
 * @returns true when sent; false when that process has exited (ESRCH)
 * @throws {ErrnoError} for any other failure (EPERM)
 */
export function pidfdSignal(pidfd: Fd, signal: Deno.Signal | 0): boolean {
  const sig = SIGNALS[signal === 0 ? "0" : signal];
  if (sig === undefined) throw new RangeError(`Unsupported signal ${signal}`);
  try {
    unwrap(
      libc().syscall(BigInt(SYS_pidfd_send_signal), BigInt(pidfd.fd), BigInt(sig), 0n, 0n, 0n, 0n),
      "pidfd_send_signal",
      pidfd.what,
    );
    return true;
  } catch (e: unknown) {
    if (e instanceof ErrnoError && e.code === "ESRCH") return false;
    throw e;
  }
}
