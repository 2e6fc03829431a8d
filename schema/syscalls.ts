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
];
