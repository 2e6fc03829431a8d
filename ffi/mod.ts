/**
 * Deno FFI bindings for ioscope's I/O paths: libc (loaded once through
 * Deno.dlopen), errno as typed errors, file descriptors, pipes, TCP sockets,
 * memory mappings, the data-moving calls (read, pread, readv, preadv, write,
 * writev, sendfile, splice), getrusage, io_uring on raw syscalls, and our
 * own BPF loader over bpf(2) (bpf/: maps, programs, links, an assembler, BTF).
 * Every native resource has an idempotent `close()` and `[Symbol.dispose]`.
 * ffi/ knows nothing of tracing or reports.
 *
 * ```ts
 * import { allocPages, openFile, pread, Ring } from "./mod.ts";
 * using f = openFile("/proc/self/cmdline");
 * using buf = allocPages(4096);
 * console.assert(pread(f.fd, buf.pointer, 4096, 0) > 0);
 * using ring = new Ring(4);
 * ring.prepRead(f.fd, { buffer: buf.address, length: 4096, offset: 0, userData: 1 });
 * ring.submit({ waitFor: 1 });
 * console.assert(ring.completions()[0]!.res > 0);
 * ```
 * @module
 */

export * from "./bpf/mod.ts";
export * from "./clock.ts";
export * from "./errno.ts";
export * from "./fd.ts";
export * from "./io.ts";
export * from "./memory.ts";
export * from "./pidfd.ts";
export * from "./rusage.ts";
export * from "./socket.ts";
export * from "./uring.ts";
export { address, libc, offsetPointer } from "./libc.ts";
