/**
 * Errno: the names of Linux error numbers, the typed error that carries one,
 * and the one helper that turns a C return code into a value or that error.
 * @module
 */

import { libc } from "./libc.ts";

/** Linux errno numbers (x86_64 and the generic table: aarch64, riscv64 share it). */
const NAMES: Record<number, [string, string]> = {
  1: ["EPERM", "Operation not permitted"],
  2: ["ENOENT", "No such file or directory"],
  3: ["ESRCH", "No such process"],
  4: ["EINTR", "Interrupted system call"],
  5: ["EIO", "Input/output error"],
  6: ["ENXIO", "No such device or address"],
  7: ["E2BIG", "Argument list too long"],
  8: ["ENOEXEC", "Exec format error"],
  9: ["EBADF", "Bad file descriptor"],
  10: ["ECHILD", "No child processes"],
  11: ["EAGAIN", "Resource temporarily unavailable"],
  12: ["ENOMEM", "Cannot allocate memory"],
  13: ["EACCES", "Permission denied"],
  14: ["EFAULT", "Bad address"],
  15: ["ENOTBLK", "Block device required"],
  16: ["EBUSY", "Device or resource busy"],
  17: ["EEXIST", "File exists"],
  18: ["EXDEV", "Invalid cross-device link"],
  19: ["ENODEV", "No such device"],
  20: ["ENOTDIR", "Not a directory"],
  21: ["EISDIR", "Is a directory"],
  22: ["EINVAL", "Invalid argument"],
  23: ["ENFILE", "Too many open files in system"],
  24: ["EMFILE", "Too many open files"],
  25: ["ENOTTY", "Inappropriate ioctl for device"],
  26: ["ETXTBSY", "Text file busy"],
  27: ["EFBIG", "File too large"],
  28: ["ENOSPC", "No space left on device"],
  29: ["ESPIPE", "Illegal seek"],
  30: ["EROFS", "Read-only file system"],
  31: ["EMLINK", "Too many links"],
  32: ["EPIPE", "Broken pipe"],
  33: ["EDOM", "Numerical argument out of domain"],
  34: ["ERANGE", "Numerical result out of range"],
  35: ["EDEADLK", "Resource deadlock avoided"],
  36: ["ENAMETOOLONG", "File name too long"],
  37: ["ENOLCK", "No locks available"],
  38: ["ENOSYS", "Function not implemented"],
  39: ["ENOTEMPTY", "Directory not empty"],
  40: ["ELOOP", "Too many levels of symbolic links"],
  42: ["ENOMSG", "No message of desired type"],
  43: ["EIDRM", "Identifier removed"],
  61: ["ENODATA", "No data available"],
  62: ["ETIME", "Timer expired"],
  71: ["EPROTO", "Protocol error"],
  74: ["EBADMSG", "Bad message"],
  75: ["EOVERFLOW", "Value too large for defined data type"],
  84: ["EILSEQ", "Invalid or incomplete multibyte or wide character"],
  88: ["ENOTSOCK", "Socket operation on non-socket"],
  89: ["EDESTADDRREQ", "Destination address required"],
  90: ["EMSGSIZE", "Message too long"],
  91: ["EPROTOTYPE", "Protocol wrong type for socket"],
  92: ["ENOPROTOOPT", "Protocol not available"],
  93: ["EPROTONOSUPPORT", "Protocol not supported"],
  94: ["ESOCKTNOSUPPORT", "Socket type not supported"],
  95: ["EOPNOTSUPP", "Operation not supported"],
  96: ["EPFNOSUPPORT", "Protocol family not supported"],
  97: ["EAFNOSUPPORT", "Address family not supported by protocol"],
  98: ["EADDRINUSE", "Address already in use"],
  99: ["EADDRNOTAVAIL", "Cannot assign requested address"],
  100: ["ENETDOWN", "Network is down"],
  101: ["ENETUNREACH", "Network is unreachable"],
  102: ["ENETRESET", "Network dropped connection on reset"],
  103: ["ECONNABORTED", "Software caused connection abort"],
  104: ["ECONNRESET", "Connection reset by peer"],
  105: ["ENOBUFS", "No buffer space available"],
  106: ["EISCONN", "Transport endpoint is already connected"],
  107: ["ENOTCONN", "Transport endpoint is not connected"],
  108: ["ESHUTDOWN", "Cannot send after transport endpoint shutdown"],
  110: ["ETIMEDOUT", "Connection timed out"],
  111: ["ECONNREFUSED", "Connection refused"],
  112: ["EHOSTDOWN", "Host is down"],
  113: ["EHOSTUNREACH", "No route to host"],
  114: ["EALREADY", "Operation already in progress"],
  115: ["EINPROGRESS", "Operation now in progress"],
  116: ["ESTALE", "Stale file handle"],
  122: ["EDQUOT", "Disk quota exceeded"],
  125: ["ECANCELED", "Operation canceled"],
  130: ["EOWNERDEAD", "Owner died"],
  131: ["ENOTRECOVERABLE", "State not recoverable"],
};

/**
 * The symbolic name of an errno value.
 * @param errno a positive errno value (a negative one, as io_uring CQEs carry, works too)
 * @returns its name, e.g. `EBADF`, or `E123` for a number this table lacks
 * @example
 * ```ts
 * import { errnoName } from "./errno.ts";
 * console.assert(errnoName(9) === "EBADF");
 * console.assert(errnoName(-9) === "EBADF");
 * ```
 */
export function errnoName(errno: number): string {
  return NAMES[Math.abs(errno)]?.[0] ?? `E${Math.abs(errno)}`;
}

/**
 * The errno value of a symbolic name.
 * @param name e.g. `EAGAIN`
 * @returns the number, or undefined when the name is unknown
 * @example
 * ```ts
 * import { errnoValue } from "./errno.ts";
 * console.assert(errnoValue("EAGAIN") === 11);
 * ```
 */
export function errnoValue(name: string): number | undefined {
  for (const [n, [sym]] of Object.entries(NAMES)) if (sym === name) return Number(n);
  return undefined;
}

/** A C call that failed, with its errno: `new ErrnoError("sendfile", "EAGAIN")`. */
export class ErrnoError extends Error {
  override name = "ErrnoError";
  /** The call that failed, e.g. `sendfile`. */
  readonly call: string;
  /** The errno's symbolic name, e.g. `EAGAIN`. */
  readonly code: string;
  /** The errno value, e.g. 11. */
  readonly errno: number;

  /**
   * @param call the C function or syscall that failed
   * @param code the errno name (`EAGAIN`) or value (11)
   * @param detail what was being done, added to the message
   */
  constructor(call: string, code: string | number, detail?: string) {
    const errno = typeof code === "number" ? Math.abs(code) : errnoValue(code) ?? 0;
    const sym = typeof code === "number" ? errnoName(code) : code;
    const text = NAMES[errno]?.[1] ?? "unknown error";
    super(`${call} failed: ${sym} (${text})${detail ? `: ${detail}` : ""}`);
    this.call = call;
    this.code = sym;
    this.errno = errno;
  }
}

/**
 * The calling thread's errno, read through `__errno_location()`. Meaningful
 * only right after a call on this thread returned its error value; a call made
 * with `nonblocking: true` runs on another thread, whose errno this is not.
 * @returns the errno value
 */
export function lastErrno(): number {
  const where = libc().__errno_location();
  if (where === null) return 0;
  return new Deno.UnsafePointerView(where).getInt32();
}

/**
 * Turns a C return code into a number, or throws ErrnoError with the errno of
 * the failed call. The one place where -1 becomes an error.
 * @param ret what the call returned (`-1` means failure, errno tells why)
 * @param call the call's name, for the error
 * @param detail what was being done, for the error
 * @returns `ret` as a number
 * @example
 * ```ts
 * import { ErrnoError, unwrap } from "./errno.ts";
 * import { libc } from "./libc.ts";
 * try {
 *   unwrap(libc().close(-1), "close");
 * } catch (e) {
 *   console.assert(e instanceof ErrnoError && e.code === "EBADF");
 * }
 * ```
 */
export function unwrap(ret: number | bigint, call: string, detail?: string): number {
  const n = Number(ret);
  if (n === -1) throw new ErrnoError(call, lastErrno(), detail);
  return n;
}
