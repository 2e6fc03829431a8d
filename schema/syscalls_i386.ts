/**
 * The traced syscalls' numbers on i386: what a 32-bit (compat) task, or a
 * 64-bit one that uses `int 0x80`, passes. The kernel's raw_syscalls
 * tracepoints carry these numbers as they are (i386's 3 is read, x86_64's 3
 * is close), so a backend that reads numbers must know which table a call
 * used before it names it. From the kernel's
 * arch/x86/entry/syscalls/syscall_32.tbl (6.1; these numbers never change).
 * @module
 */

/**
 * Each traced syscall (schema/syscalls.ts's name) to its i386 numbers: some
 * have two (sendfile and sendfile64; mmap and mmap2; a time32 and a time64
 * form).
 */
export const SYSCALLS_I386: ReadonlyMap<string, readonly number[]> = new Map([
  ["read", [3]],
  ["write", [4]],
  ["mmap", [90, 192]],
  ["munmap", [91]],
  ["pread64", [180]],
  ["pwrite64", [181]],
  ["readv", [145]],
  ["writev", [146]],
  ["msync", [144]],
  ["madvise", [219]],
  ["sendfile64", [187, 239]],
  ["sendto", [369]],
  ["recvfrom", [371]],
  ["sendmsg", [370]],
  ["recvmsg", [372]],
  ["fsync", [118]],
  ["fdatasync", [148]],
  ["io_getevents", [247]],
  ["io_submit", [248]],
  ["splice", [313]],
  ["tee", [315]],
  ["sync_file_range", [314]],
  ["vmsplice", [316]],
  ["fallocate", [324]],
  ["preadv", [333]],
  ["pwritev", [334]],
  ["recvmmsg", [337, 417]],
  ["sendmmsg", [345]],
  ["copy_file_range", [377]],
  ["preadv2", [378]],
  ["pwritev2", [379]],
  ["io_pgetevents", [385, 416]],
  ["io_uring_enter", [426]],
]);

/** i386 numbers of the traced syscalls, to their names. */
export const SYSCALL_NAMES_I386: ReadonlyMap<number, string> = new Map(
  [...SYSCALLS_I386].flatMap(([name, nrs]) => nrs.map((nr) => [nr, name] as const)),
);
