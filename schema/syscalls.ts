/**
 * The syscalls ioscope traces, by what their return value means: bytes
 * copied through a user buffer, bytes moved without a copy, or neither.
 * @module
 */

/** Syscalls whose return value counts bytes moved through a user buffer. */
export const COPYING_SYSCALLS: readonly string[] = [
  "read",
  "pread64",
  "readv",
  "preadv",
  "preadv2",
  "write",
  "pwrite64",
  "writev",
  "pwritev",
  "pwritev2",
  "recvfrom",
  "recvmsg",
  "sendto",
  "sendmsg",
];

/** Syscalls that move bytes without copying them through user space. */
export const ZERO_COPY_SYSCALLS: readonly string[] = [
  "sendfile64",
  "splice",
  "tee",
  "vmsplice",
  "copy_file_range",
];

/** Syscalls traced for latency and errors but whose return is not a byte count. */
export const OTHER_SYSCALLS: readonly string[] = [
  "mmap",
  "munmap",
  "madvise",
  "io_uring_enter",
  "fsync",
  "fdatasync",
  "msync",
  "sync_file_range",
  "fallocate",
  "io_submit",
  "io_getevents",
  "io_pgetevents",
  "sendmmsg",
  "recvmmsg",
];

/**
 * Where a call's bytes go (README, "Copies"): `user` through user memory (the
 * kernel copies them to or from a user buffer); `kernel` moved by the kernel
 * without user memory; `kernel-copy` moved by the kernel alone but still
 * copied inside it (page cache to page cache); `none` nothing moved (tee
 * duplicates pipe buffers); `vmsplice` depends on the direction: into a pipe
 * it maps user pages (`kernel`), out of a pipe it copies (`user`); `sendfile`
 * is `kernel-copy` into a file, `kernel` into a socket or pipe.
 */
export type CopyClass = "user" | "kernel" | "kernel-copy" | "none" | "vmsplice" | "sendfile";

/** The copy class of each traced syscall that returns a byte count. */
export const SYSCALL_COPY_CLASS: Readonly<Record<string, CopyClass>> = {
  read: "user",
  pread64: "user",
  readv: "user",
  preadv: "user",
  preadv2: "user",
  write: "user",
  pwrite64: "user",
  writev: "user",
  pwritev: "user",
  pwritev2: "user",
  recvfrom: "user",
  recvmsg: "user",
  sendto: "user",
  sendmsg: "user",
  sendfile64: "sendfile",
  splice: "kernel",
  tee: "none",
  vmsplice: "vmsplice",
  copy_file_range: "kernel-copy",
};

/**
 * The copy class of each io_uring opcode whose result is a byte count: the
 * read, write, send and receive families copy through user memory (fixed
 * buffers too: registered user pages); SPLICE and the zero-copy send and
 * receive do not; TEE moves nothing.
 */
export const IO_URING_COPY_CLASS: Readonly<Record<string, CopyClass>> = {
  READV: "user",
  WRITEV: "user",
  READ_FIXED: "user",
  WRITE_FIXED: "user",
  SENDMSG: "user",
  RECVMSG: "user",
  READ: "user",
  WRITE: "user",
  SEND: "user",
  RECV: "user",
  READ_MULTISHOT: "user",
  READV_FIXED: "user",
  WRITEV_FIXED: "user",
  SPLICE: "kernel",
  TEE: "none",
  SEND_ZC: "kernel",
  SENDMSG_ZC: "kernel",
  RECV_ZC: "kernel",
};
