/**
 * The data-moving calls: read, pread, readv, preadv, write, pwrite, writev,
 * sendfile and splice, each returning the bytes moved or throwing ErrnoError.
 * They block the calling thread: call them from a worker process (as bench
 * does) or where blocking is the point, never from an agent with other work.
 * @module
 */

import { unwrap } from "./errno.ts";
import { address, libc } from "./libc.ts";

/** `splice(2)` flag: move pages instead of copying, when possible. */
export const SPLICE_F_MOVE = 1;
/** Do not block on the pipe. */
export const SPLICE_F_NONBLOCK = 2;
/** More data will follow (a hint for sockets, like MSG_MORE). */
export const SPLICE_F_MORE = 4;

/** A buffer given to a call: a pointer, or an address as a number. */
export type BufferAddress = Deno.PointerObject | number;

function ptr(b: BufferAddress): Deno.PointerObject {
  if (typeof b !== "number") return b;
  const p = Deno.UnsafePointer.create(BigInt(b));
  if (p === null) throw new RangeError("Cannot use address 0 as a buffer");
  return p;
}

/**
 * An array of `struct iovec` for readv/writev, kept in JavaScript memory; the
 * buffers it points to must not move (use allocPages or mapFile memory).
 */
export class IoVec {
  /** The `struct iovec[]` bytes: base and length, 64-bit little-endian each. */
  readonly array: Uint32Array<ArrayBuffer>;
  /** How many entries. */
  readonly count: number;

  /**
   * @param parts each buffer's start and length
   * @example
   * ```ts
   * import { allocPages } from "./memory.ts";
   * import { IoVec } from "./io.ts";
   * using m = allocPages(8192);
   * const iov = new IoVec([{ buffer: m.address, length: 4096 },
   *   { buffer: m.address + 4096, length: 4096 }]);
   * console.assert(iov.totalLength === 8192);
   * ```
   */
  constructor(parts: { buffer: BufferAddress; length: number }[]) {
    if (parts.length === 0 || parts.length > 1024) {
      throw new RangeError(`An iovec array holds 1 to 1024 buffers, not ${parts.length}`);
    }
    this.count = parts.length;
    this.array = new Uint32Array(parts.length * 4);
    parts.forEach((p, i) => this.set(i, p.buffer, p.length));
  }

  /**
   * Points entry `i` at another buffer.
   * @param i the entry
   * @param buffer its start
   * @param length its length in bytes
   */
  set(i: number, buffer: BufferAddress, length: number): void {
    const a = typeof buffer === "number" ? buffer : address(buffer);
    this.array[i * 4] = a >>> 0;
    this.array[i * 4 + 1] = Math.floor(a / 2 ** 32);
    this.array[i * 4 + 2] = length >>> 0;
    this.array[i * 4 + 3] = Math.floor(length / 2 ** 32);
  }

  /** The sum of the entries' lengths. */
  get totalLength(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) {
      n += this.array[i * 4 + 2]! + this.array[i * 4 + 3]! * 2 ** 32;
    }
    return n;
  }
}

/**
 * `read(2)`.
 * @param fd the descriptor
 * @param buffer where to
 * @param length at most this many bytes
 * @returns bytes read; 0 at end of file
 * @example
 * ```ts
 * import { openFile } from "./fd.ts";
 * import { allocPages } from "./memory.ts";
 * import { read } from "./io.ts";
 * using f = openFile("/proc/self/stat");
 * using buf = allocPages(4096);
 * console.assert(read(f.fd, buf.pointer, 4096) > 0);
 * ```
 */
export function read(fd: number, buffer: BufferAddress, length: number): number {
  return unwrap(libc().read(fd, ptr(buffer), BigInt(length)), "read");
}

/**
 * `pread(2)` (the pread64 syscall): reads at an offset, the file position untouched.
 * @param fd the descriptor
 * @param buffer where to
 * @param length at most this many bytes
 * @param offset where in the file
 * @returns bytes read; 0 at end of file
 */
export function pread(fd: number, buffer: BufferAddress, length: number, offset: number): number {
  return unwrap(libc().pread(fd, ptr(buffer), BigInt(length), BigInt(offset)), "pread");
}

/**
 * `readv(2)`: one read scattered over several buffers.
 * @param fd the descriptor
 * @param iov the buffers, filled in order
 * @returns bytes read; 0 at end of file
 */
export function readv(fd: number, iov: IoVec): number {
  return unwrap(libc().readv(fd, iov.array, iov.count), "readv");
}

/**
 * `preadv(2)`: readv at an offset.
 * @param fd the descriptor
 * @param iov the buffers, filled in order
 * @param offset where in the file
 * @returns bytes read; 0 at end of file
 */
export function preadv(fd: number, iov: IoVec, offset: number): number {
  return unwrap(libc().preadv(fd, iov.array, iov.count, BigInt(offset)), "preadv");
}

/**
 * `write(2)`.
 * @param fd the descriptor
 * @param buffer where from
 * @param length bytes
 * @returns bytes written (may be fewer than asked)
 */
export function write(fd: number, buffer: BufferAddress, length: number): number {
  return unwrap(libc().write(fd, ptr(buffer), BigInt(length)), "write");
}

/**
 * `pwrite(2)`: writes at an offset.
 * @param fd the descriptor
 * @param buffer where from
 * @param length bytes
 * @param offset where in the file
 * @returns bytes written (may be fewer than asked)
 */
export function pwrite(fd: number, buffer: BufferAddress, length: number, offset: number): number {
  return unwrap(libc().pwrite(fd, ptr(buffer), BigInt(length), BigInt(offset)), "pwrite");
}

/**
 * `writev(2)`: one write gathered from several buffers.
 * @param fd the descriptor
 * @param iov the buffers, sent in order
 * @returns bytes written (may be fewer than asked)
 */
export function writev(fd: number, iov: IoVec): number {
  return unwrap(libc().writev(fd, iov.array, iov.count), "writev");
}

/**
 * Writes all of `length` bytes, looping over short writes.
 * @param fd the descriptor (blocking)
 * @param buffer where from
 * @param length bytes
 */
export function writeAll(fd: number, buffer: BufferAddress, length: number): void {
  const base = typeof buffer === "number" ? buffer : address(buffer);
  let done = 0;
  while (done < length) done += write(fd, base + done, length - done);
}

// off_t cells for sendfile and splice, as two 32-bit halves (no BigInt per call).
const offIn = new Uint32Array(2);
const offOut = new Uint32Array(2);

function cell(c: Uint32Array, offset: number | null): Uint32Array | null {
  if (offset === null) return null;
  c[0] = offset >>> 0;
  c[1] = Math.floor(offset / 2 ** 32);
  return c;
}

/**
 * `sendfile(2)` (the sendfile64 syscall): file to socket (or any fd) inside
 * the kernel.
 * @param outFd where to
 * @param inFd from (a file that can be mapped)
 * @param offset where in `inFd` to start; null to use and advance its position
 * @param length at most this many bytes
 * @returns bytes sent
 */
export function sendfile(
  outFd: number,
  inFd: number,
  offset: number | null,
  length: number,
): number {
  return unwrap(libc().sendfile(outFd, inFd, cell(offIn, offset), BigInt(length)), "sendfile");
}

/**
 * `splice(2)`: moves pages between a pipe and a file or socket without copying
 * them through user space. One of the two descriptors must be a pipe, and a
 * pipe's offset must be null.
 * @param fdIn from
 * @param offsetIn where in `fdIn`; null for a pipe or to use its position
 * @param fdOut to
 * @param offsetOut where in `fdOut`; null for a pipe or socket
 * @param length at most this many bytes
 * @param flags SPLICE_F_* (@default 0)
 * @returns bytes moved; 0 at end of input
 */
export function splice(
  fdIn: number,
  offsetIn: number | null,
  fdOut: number,
  offsetOut: number | null,
  length: number,
  flags = 0,
): number {
  return unwrap(
    libc().splice(
      fdIn,
      cell(offIn, offsetIn),
      fdOut,
      cell(offOut, offsetOut),
      BigInt(length),
      flags,
    ),
    "splice",
  );
}
