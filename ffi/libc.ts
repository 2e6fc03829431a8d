/**
 * The one symbol table of libc functions ioscope calls through Deno.dlopen,
 * each symbol bound once, on its first use. Everything else in ffi/ goes
 * through `libc()`.
 * @module
 */

/** x86_64 and aarch64 share these numbers (the unified table from 5.1 on). */
export const SYS_io_uring_setup = 425;
/** `io_uring_enter(2)`. */
export const SYS_io_uring_enter = 426;
/** `io_uring_register(2)`. */
export const SYS_io_uring_register = 427;

const SYMBOLS = {
  // int *__errno_location(void)
  __errno_location: { parameters: [], result: "pointer" },
  // pid_t getpid(void)
  getpid: { parameters: [], result: "i32" },
  // int abs(int j): no syscall; the floor cost of an FFI call (benchmarks/ffi_bench.ts)
  abs: { parameters: ["i32"], result: "i32" },
  // int malloc_trim(size_t pad): gives malloc's free pages back to the kernel (every arena)
  malloc_trim: { parameters: ["usize"], result: "i32" },
  // int mallopt(int param, int value): malloc's thresholds (agent/trace/_reclaim.ts)
  mallopt: { parameters: ["i32", "i32"], result: "i32" },
  // int open(const char *pathname, int flags, mode_t mode)
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  // int close(int fd)
  close: { parameters: ["i32"], result: "i32" },
  // int fsync(int fd)
  fsync: { parameters: ["i32"], result: "i32" },
  // int fdatasync(int fd)
  fdatasync: { parameters: ["i32"], result: "i32" },
  // off_t lseek(int fd, off_t offset, int whence)
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  // int usleep(useconds_t usec): sleeps this thread, no event loop involved
  usleep: { parameters: ["u32"], result: "i32" },
  // pid_t waitpid(pid_t pid, int *wstatus, int options)
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // int ftruncate(int fd, off_t length)
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  // ssize_t read(int fd, void *buf, size_t count)
  read: { parameters: ["i32", "pointer", "usize"], result: "isize" },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
  pread: { parameters: ["i32", "pointer", "usize", "i64"], result: "isize" },
  // ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
  readv: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  // ssize_t preadv(int fd, const struct iovec *iov, int iovcnt, off_t offset)
  preadv: { parameters: ["i32", "buffer", "i32", "i64"], result: "isize" },
  // ssize_t write(int fd, const void *buf, size_t count)
  write: { parameters: ["i32", "pointer", "usize"], result: "isize" },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
  pwrite: { parameters: ["i32", "pointer", "usize", "i64"], result: "isize" },
  // ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
  writev: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  // void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  // int munmap(void *addr, size_t length)
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  // int madvise(void *addr, size_t length, int advice)
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  // void *memcpy(void *dest, const void *src, size_t n)
  memcpy: { parameters: ["pointer", "pointer", "usize"], result: "pointer" },
  // ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
  sendfile: { parameters: ["i32", "i32", "buffer", "usize"], result: "isize" },
  // ssize_t splice(int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len,
  //                unsigned int flags)
  splice: {
    parameters: ["i32", "buffer", "i32", "buffer", "usize", "u32"],
    result: "isize",
  },
  // int pipe2(int pipefd[2], int flags)
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  // int fcntl(int fd, int cmd, ... /* int arg */)
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int socket(int domain, int type, int protocol)
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen)
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int listen(int sockfd, int backlog)
  listen: { parameters: ["i32", "i32"], result: "i32" },
  // int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags)
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  // int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen)
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen)
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  // int getsockname(int sockfd, struct sockaddr *addr, socklen_t *addrlen)
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  // int shutdown(int sockfd, int how)
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  // ssize_t recv(int sockfd, void *buf, size_t len, int flags)
  recv: { parameters: ["i32", "pointer", "usize", "i32"], result: "isize" },
  // ssize_t send(int sockfd, const void *buf, size_t len, int flags)
  send: { parameters: ["i32", "pointer", "usize", "i32"], result: "isize" },
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout)
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // int getrusage(int who, struct rusage *usage)
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
  // int clock_gettime(clockid_t clockid, struct timespec *tp)
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  // int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
  //           unsigned long arg5)
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  // long syscall(long number, ...): six integer arguments, for calls libc does not wrap
  syscall: {
    parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
    result: "i64",
  },
  // long syscall(SYS_io_uring_setup, u32 entries, struct io_uring_params *p)
  io_uring_setup: { name: "syscall", parameters: ["i64", "u32", "buffer"], result: "i64" },
  // long syscall(SYS_io_uring_enter, unsigned int fd, u32 to_submit, u32 min_complete,
  //              u32 flags, const void *arg, size_t argsz)
  io_uring_enter: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "u32", "u32", "pointer", "usize"],
    result: "i64",
  },
  // The same, run on a thread of Deno's blocking pool so that a wait does not
  // freeze the event loop. errno is that thread's: see Ring.waitAsync.
  io_uring_enter_nonblocking: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "u32", "u32", "pointer", "usize"],
    result: "i64",
    nonblocking: true,
  },
  // long syscall(SYS_io_uring_register, unsigned int fd, unsigned int opcode, void *arg,
  //              unsigned int nr_args)
  io_uring_register: {
    name: "syscall",
    parameters: ["i64", "i32", "u32", "buffer", "u32"],
    result: "i64",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const LIBRARY = "libc.so.6";
let table: Libc | null = null;
// Each symbol's library handle, kept so that none is ever unloaded.
const handles: Deno.DynamicLibrary<Deno.ForeignLibraryInterface>[] = [];

/** Binds one symbol of the table: Deno.dlopen of libc with that symbol alone. */
function bind(name: keyof typeof SYMBOLS): unknown {
  try {
    const lib = Deno.dlopen(LIBRARY, { [name]: SYMBOLS[name] } as Deno.ForeignLibraryInterface);
    handles.push(lib);
    return lib.symbols[name];
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `Cannot load ${LIBRARY} through Deno.dlopen: ${why}; ioscope needs Linux with glibc ` +
        "and the --allow-ffi permission (run with -A)",
    );
  }
}

/**
 * The libc symbols. Each is bound on its first use, not all at once: Deno
 * compiles a call stub for every symbol it binds (about 0.25 ms each, 12 ms
 * for the whole table), and `ioscope trace` needs a handful of them before its
 * first data. A bound symbol replaces its getter, so later calls cost what a
 * table loaded at once would.
 * @returns the symbol table's functions
 * @throws Error on the first use of a symbol when libc cannot be loaded, saying what was tried and the fix
 * @example
 * ```ts
 * import { libc } from "./libc.ts";
 * console.assert(libc().getpid() === Deno.pid);
 * ```
 */
export function libc(): Libc {
  if (table) return table;
  const t: Record<string, unknown> = {};
  for (const name of Object.keys(SYMBOLS) as (keyof typeof SYMBOLS)[]) {
    Object.defineProperty(t, name, {
      configurable: true,
      enumerable: true,
      get() {
        const fn = bind(name);
        Object.defineProperty(t, name, { value: fn, enumerable: true });
        return fn;
      },
    });
  }
  table = t as unknown as Libc;
  return table;
}

/**
 * A pointer's address as a number (user-space addresses fit in 53 bits).
 * @param p a pointer, or null for 0
 * @returns the address
 */
export function address(p: Deno.PointerValue): number {
  return p === null ? 0 : Number(Deno.UnsafePointer.value(p));
}

/**
 * A pointer `offset` bytes past `p`.
 * @param p the base pointer (not null)
 * @param offset bytes to add
 * @returns the new pointer
 */
export function offsetPointer(p: Deno.PointerObject, offset: number): Deno.PointerObject {
  const q = Deno.UnsafePointer.offset(p, offset);
  if (q === null) throw new RangeError("pointer arithmetic reached address 0");
  return q;
}
