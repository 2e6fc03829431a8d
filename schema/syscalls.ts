/**
 * The one syscall table: every syscall ioscope traces, its x86_64 number,
 * what its return value counts (bytes copied through a user buffer, bytes
 * moved without a copy, or nothing), and whether its first argument is a
 * descriptor. The backends, the parsers and the Run builder read it from
 * here; the lists inside probes/io_syscalls.bt are checked against it by
 * tests/schema/syscalls_test.ts.
 * @module
 */

/** What a traced syscall's positive return value counts. */
export type SyscallBytes = "copy" | "zero_copy" | "none";

/** One traced syscall. */
export interface SyscallInfo {
  /** The kernel's tracepoint name (`sys_enter_<name>`), the Run document's key. */
  readonly name: string;
  /** Its number on x86_64. */
  readonly nr_x86_64: number;
  /** What its return value counts. */
  readonly bytes: SyscallBytes;
  /** Whether its first argument is a file descriptor. */
  readonly fd: boolean;
}

const row = (name: string, nr: number, bytes: SyscallBytes, fd = true): SyscallInfo => ({
  name,
  nr_x86_64: nr,
  bytes,
  fd,
});

/** Every syscall ioscope traces, by x86_64 number. */
export const SYSCALLS: readonly SyscallInfo[] = [
  row("read", 0, "copy"),
  row("write", 1, "copy"),
  row("mmap", 9, "none", false),
  row("munmap", 11, "none", false),
  row("pread64", 17, "copy"),
  row("pwrite64", 18, "copy"),
  row("readv", 19, "copy"),
  row("writev", 20, "copy"),
  row("msync", 26, "none", false),
  row("madvise", 28, "none", false),
  row("sendfile64", 40, "zero_copy"),
  row("sendto", 44, "copy"),
  row("recvfrom", 45, "copy"),
  row("sendmsg", 46, "copy"),
  row("recvmsg", 47, "copy"),
  row("fsync", 74, "none"),
  row("fdatasync", 75, "none"),
  row("io_getevents", 208, "none", false),
  row("io_submit", 209, "none", false),
  row("splice", 275, "zero_copy"),
  row("tee", 276, "zero_copy"),
  row("sync_file_range", 277, "none"),
  row("vmsplice", 278, "zero_copy"),
  row("fallocate", 285, "none"),
  row("preadv", 295, "copy"),
  row("pwritev", 296, "copy"),
  // Their return counts messages, not bytes.
  row("recvmmsg", 299, "none"),
  row("sendmmsg", 307, "none"),
  row("copy_file_range", 326, "zero_copy"),
  row("preadv2", 327, "copy"),
  row("pwritev2", 328, "copy"),
  row("io_pgetevents", 333, "none", false),
  // Its descriptor is the ring's: its I/O is keyed by io_uring opcode instead.
  row("io_uring_enter", 426, "none", false),
];

/** x86_64 syscall numbers of the traced calls, to the kernel's tracepoint names. */
export const SYSCALL_NAMES_X86_64: ReadonlyMap<number, string> = new Map(
  SYSCALLS.map((s) => [s.nr_x86_64, s.name]),
);

const named = (bytes: SyscallBytes) => SYSCALLS.filter((s) => s.bytes === bytes).map((s) => s.name);

/** Syscalls whose return value counts bytes moved through a user buffer. */
export const COPYING_SYSCALLS: readonly string[] = named("copy");

/** The copying syscalls that bring bytes from the kernel into user buffers. */
export const COPYING_READS: readonly string[] = [
  "read",
  "pread64",
  "readv",
  "preadv",
  "preadv2",
  "recvfrom",
  "recvmsg",
];

/** The copying syscalls that take bytes from user buffers into the kernel: the rest. */
export const COPYING_WRITES: readonly string[] = COPYING_SYSCALLS.filter((n) =>
  !COPYING_READS.includes(n)
);

/** Syscalls that move bytes without copying them through user space. */
export const ZERO_COPY_SYSCALLS: readonly string[] = named("zero_copy");

/** Syscalls traced for latency and errors but whose return is not a byte count. */
export const OTHER_SYSCALLS: readonly string[] = named("none");

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
