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
  row("madvise", 28, "none", false),
  row("sendfile64", 40, "zero_copy"),
  row("sendto", 44, "copy"),
  row("recvfrom", 45, "copy"),
  row("sendmsg", 46, "copy"),
  row("recvmsg", 47, "copy"),
  row("fsync", 74, "none"),
  row("fdatasync", 75, "none"),
  row("splice", 275, "zero_copy"),
  row("tee", 276, "zero_copy"),
  row("vmsplice", 278, "zero_copy"),
  row("preadv", 295, "copy"),
  row("pwritev", 296, "copy"),
  row("copy_file_range", 326, "zero_copy"),
  row("preadv2", 327, "copy"),
  row("pwritev2", 328, "copy"),
  row("io_uring_enter", 426, "none"),
];

/** x86_64 syscall numbers of the traced calls, to the kernel's tracepoint names. */
export const SYSCALL_NAMES_X86_64: ReadonlyMap<number, string> = new Map(
  SYSCALLS.map((s) => [s.nr_x86_64, s.name]),
);

const named = (bytes: SyscallBytes) => SYSCALLS.filter((s) => s.bytes === bytes).map((s) => s.name);

/** Syscalls whose return value counts bytes moved through a user buffer. */
export const COPYING_SYSCALLS: readonly string[] = named("copy");

/** Syscalls that move bytes without copying them through user space. */
export const ZERO_COPY_SYSCALLS: readonly string[] = named("zero_copy");

/** Syscalls traced for latency and errors but whose return is not a byte count. */
export const OTHER_SYSCALLS: readonly string[] = named("none");
