/**
 * File descriptors as resources: `Fd` owns one and closes it once; `openFile`
 * and `pipe` make them.
 * @module
 */

import { unwrap } from "./errno.ts";
import { libc } from "./libc.ts";

/** `open(2)` flags (Linux, x86_64 and aarch64 agree on these). */
export const O_RDONLY = 0;
/** Open for writing only. */
export const O_WRONLY = 1;
/** Open for reading and writing. */
export const O_RDWR = 2;
/** Create the file if it does not exist. */
export const O_CREAT = 0o100;
/** Truncate to zero length. */
export const O_TRUNC = 0o1000;
/** Non-blocking I/O. */
export const O_NONBLOCK = 0o4000;
/** Close on exec. */
export const O_CLOEXEC = 0o2000000;

/** `fcntl(2)` command: set a pipe's capacity. */
export const F_SETPIPE_SZ = 1031;
/** `fcntl(2)` command: read a pipe's capacity. */
export const F_GETPIPE_SZ = 1032;

// Safety net only: an Fd that is garbage-collected without close() closes its descriptor.
const leaked = new FinalizationRegistry<number>((fd) => {
  libc().close(fd);
});

/** An owned file descriptor, closed once by `close()` or `using`. */
export class Fd implements Disposable {
  #fd: number;
  #what: string;

  /**
   * Takes ownership of a descriptor.
   * @param fd the descriptor (>= 0)
   * @param what what it is, for messages (`socket`, `/tmp/x`)
   */
  constructor(fd: number, what = "fd") {
    if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`Invalid file descriptor ${fd}`);
    this.#fd = fd;
    this.#what = what;
    leaked.register(this, fd, this);
  }

  /** The descriptor's number; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new Error(`Cannot use ${this.#what}: it is closed`);
    return this.#fd;
  }

  /** True once closed or released. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** What this descriptor is, as given when it was made. */
  get what(): string {
    return this.#what;
  }

  /**
   * Gives up ownership without closing.
   * @returns the descriptor's number, now the caller's to close
   */
  release(): number {
    const fd = this.fd;
    this.#fd = -1;
    leaked.unregister(this);
    return fd;
  }

  /** Closes the descriptor; a second call does nothing. */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    leaked.unregister(this);
    unwrap(libc().close(fd), "close", this.#what);
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Options of {@linkcode openFile}. */
export interface OpenOptions {
  /** `open(2)` flags; O_CLOEXEC is always added. @default O_RDONLY */
  flags?: number;
  /** Permission bits for a created file. @default 0o644 */
  mode?: number;
}

/**
 * Opens a file with `open(2)`.
 * @param path the file's path
 * @param options flags and mode
 * @returns the owned descriptor
 * @throws ErrnoError naming the path, e.g. `open failed: ENOENT (...): /nope`
 * @example
 * ```ts
 * import { openFile } from "./fd.ts";
 * using f = openFile("/proc/self/stat");
 * console.assert(f.fd >= 0);
 * ```
 */
export function openFile(path: string, options: OpenOptions = {}): Fd {
  const { flags = O_RDONLY, mode = 0o644 } = options;
  const cpath = new TextEncoder().encode(path + "\0");
  const fd = unwrap(libc().open(cpath, flags | O_CLOEXEC, mode), "open", path);
  return new Fd(fd, path);
}

/** Both ends of a pipe, closed together. */
export class Pipe implements Disposable {
  /** The end to read from. */
  readonly readEnd: Fd;
  /** The end to write to. */
  readonly writeEnd: Fd;

  /** @internal use {@linkcode pipe} */
  constructor(readEnd: Fd, writeEnd: Fd) {
    this.readEnd = readEnd;
    this.writeEnd = writeEnd;
  }

  /** The pipe's capacity in bytes (`F_GETPIPE_SZ`). */
  get sizeBytes(): number {
    return unwrap(libc().fcntl(this.readEnd.fd, F_GETPIPE_SZ, 0), "fcntl(F_GETPIPE_SZ)");
  }

  /**
   * Sets the pipe's capacity (`F_SETPIPE_SZ`); the kernel rounds it up to a
   * power-of-two number of pages and refuses more than fs.pipe-max-size.
   * @param bytes the capacity wanted
   * @returns the capacity set
   */
  resize(bytes: number): number {
    return unwrap(libc().fcntl(this.readEnd.fd, F_SETPIPE_SZ, bytes), "fcntl(F_SETPIPE_SZ)");
  }

  /** Closes both ends; a second call does nothing. */
  close(): void {
    try {
      this.readEnd.close();
    } finally {
      this.writeEnd.close();
    }
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Makes a pipe with `pipe2(2)` (close-on-exec).
 * @param options `nonblocking`: O_NONBLOCK on both ends (@default false)
 * @returns the pipe
 * @example
 * ```ts
 * import { pipe } from "./fd.ts";
 * using p = pipe();
 * console.assert(p.sizeBytes >= 4096);
 * ```
 */
export function pipe(options: { nonblocking?: boolean } = {}): Pipe {
  const { nonblocking = false } = options;
  const fds = new Int32Array(2);
  unwrap(libc().pipe2(fds, O_CLOEXEC | (nonblocking ? O_NONBLOCK : 0)), "pipe2");
  return new Pipe(new Fd(fds[0]!, "pipe read end"), new Fd(fds[1]!, "pipe write end"));
}
