/**
 * The io_uring opcode table: the kernel's names by number, which opcodes move
 * bytes, and the completion flags the probes read. The io_uring part of the
 * Run document is keyed by these names.
 * @module
 */

/**
 * The kernel's names for io_uring opcodes (enum io_uring_op, as
 * io_uring_get_opcode() prints them; Linux 6.15+ has all 63), by number.
 */
export const IO_URING_OP_NAMES: readonly string[] = [
  "NOP",
  "READV",
  "WRITEV",
  "FSYNC",
  "READ_FIXED",
  "WRITE_FIXED",
  "POLL_ADD",
  "POLL_REMOVE",
  "SYNC_FILE_RANGE",
  "SENDMSG",
  "RECVMSG",
  "TIMEOUT",
  "TIMEOUT_REMOVE",
  "ACCEPT",
  "ASYNC_CANCEL",
  "LINK_TIMEOUT",
  "CONNECT",
  "FALLOCATE",
  "OPENAT",
  "CLOSE",
  "FILES_UPDATE",
  "STATX",
  "READ",
  "WRITE",
  "FADVISE",
  "MADVISE",
  "SEND",
  "RECV",
  "OPENAT2",
  "EPOLL",
  "SPLICE",
  "PROVIDE_BUFFERS",
  "REMOVE_BUFFERS",
  "TEE",
  "SHUTDOWN",
  "RENAMEAT",
  "UNLINKAT",
  "MKDIRAT",
  "SYMLINKAT",
  "LINKAT",
  "MSG_RING",
  "FSETXATTR",
  "SETXATTR",
  "FGETXATTR",
  "GETXATTR",
  "SOCKET",
  "URING_CMD",
  "SEND_ZC",
  "SENDMSG_ZC",
  "READ_MULTISHOT",
  "WAITID",
  "FUTEX_WAIT",
  "FUTEX_WAKE",
  "FUTEX_WAITV",
  "FIXED_FD_INSTALL",
  "FTRUNCATE",
  "BIND",
  "LISTEN",
  "RECV_ZC",
  "EPOLL_WAIT",
  "READV_FIXED",
  "WRITEV_FIXED",
  "PIPE",
];

/**
 * The name of an io_uring opcode number (`OP_<n>` for one this table lacks).
 * @param opcode the opcode (`sqe->opcode`)
 * @returns its name, as the Run document keys it
 * @example
 * ```ts
 * import { ioUringOpName } from "./io_uring.ts";
 * console.assert(ioUringOpName(22) === "READ" && ioUringOpName(250) === "OP_250");
 * ```
 */
export function ioUringOpName(opcode: number): string {
  return IO_URING_OP_NAMES[opcode] ?? `OP_${opcode}`;
}

/**
 * io_uring opcodes whose positive result is a byte count (the probes add it
 * to `bytes`): the read, write, send, receive and splice families.
 */
export const IO_URING_DATA_OPS: ReadonlySet<number> = new Set([
  1, // READV
  2, // WRITEV
  4, // READ_FIXED
  5, // WRITE_FIXED
  9, // SENDMSG
  10, // RECVMSG
  22, // READ
  23, // WRITE
  26, // SEND
  27, // RECV
  30, // SPLICE
  33, // TEE
  47, // SEND_ZC
  48, // SENDMSG_ZC
  49, // READ_MULTISHOT
  58, // RECV_ZC
  60, // READV_FIXED
  61, // WRITEV_FIXED
]);

/** `cqe->flags` bit: more completions will follow for this request (multishot). */
export const IORING_CQE_F_MORE = 1 << 1;
/** `cqe->flags` bit: a zero-copy send's buffer notification, not a result. */
export const IORING_CQE_F_NOTIF = 1 << 3;
