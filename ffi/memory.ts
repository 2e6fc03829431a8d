/**
 * Memory through mmap(2): file mappings, page-aligned anonymous buffers (I/O
 * buffers whose address never moves, as io_uring and iovecs need), madvise,
 * and memcpy.
 * @module
 */

import { ErrnoError, lastErrno, unwrap } from "./errno.ts";
import { address, libc } from "./libc.ts";

/** `mmap(2)` protection: readable. */
export const PROT_READ = 1;
/** Writable. */
export const PROT_WRITE = 2;
/** `mmap(2)` flags: shared with the file and other mappings. */
export const MAP_SHARED = 0x01;
/** Private copy-on-write. */
export const MAP_PRIVATE = 0x02;
/** Not backed by a file. */
export const MAP_ANONYMOUS = 0x20;
/** Prefault the pages. */
export const MAP_POPULATE = 0x8000;
/** `madvise(2)`: no special treatment. */
export const MADV_NORMAL = 0;
/** Expect random access. */
export const MADV_RANDOM = 1;
/** Expect sequential access: read ahead aggressively, free behind. */
export const MADV_SEQUENTIAL = 2;
/** Expect access soon. */
export const MADV_WILLNEED = 3;
/** Do not expect access soon. */
export const MADV_DONTNEED = 4;

const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

// Safety net only: a Mapping garbage-collected without close() is unmapped.
const leaked = new FinalizationRegistry<{ p: Deno.PointerObject; n: number }>(({ p, n }) => {
  libc().munmap(p, BigInt(n));
});

/** A mapped range of memory, unmapped once by `close()` or `using`. */
export class Mapping implements Disposable {
  #pointer: Deno.PointerObject | null;
  #length: number;
  #bytes: Uint8Array | null = null;

  /** @internal use {@linkcode mapFile} or {@linkcode allocPages} */
  constructor(pointer: Deno.PointerObject, length: number) {
    this.#pointer = pointer;
    this.#length = length;
    leaked.register(this, { p: pointer, n: length }, this);
  }

  /** The mapping's start; throws once unmapped. */
  get pointer(): Deno.PointerObject {
    if (this.#pointer === null) throw new Error("Cannot use a mapping after close()");
    return this.#pointer;
  }

  /** The start address as a number. */
  get address(): number {
    return address(this.pointer);
  }

  /** Length in bytes. */
  get length(): number {
    return this.#length;
  }

  /** True once unmapped. */
  get closed(): boolean {
    return this.#pointer === null;
  }

  /**
   * The mapping as bytes, without copying. The view must not be used after
   * close(): the memory behind it is gone.
   * @returns a Uint8Array over the whole mapping
   */
  bytes(): Uint8Array {
    this.#bytes ??= new Uint8Array(
      Deno.UnsafePointerView.getArrayBuffer(this.pointer, this.#length),
    );
    return this.#bytes;
  }

  /**
   * `madvise(2)` on the whole mapping (or a part).
   * @param advice MADV_SEQUENTIAL, MADV_WILLNEED, ...
   * @param range `offset` and `length` of the part (@default the whole mapping)
   */
  advise(advice: number, range: { offset?: number; length?: number } = {}): void {
    const { offset = 0, length = this.#length - offset } = range;
    const p = Deno.UnsafePointer.offset(this.pointer, offset);
    unwrap(libc().madvise(p, BigInt(length), advice), "madvise");
  }

  /** Unmaps; a second call does nothing. */
  close(): void {
    if (this.#pointer === null) return;
    const p = this.#pointer;
    this.#pointer = null;
    this.#bytes = null;
    leaked.unregister(this);
    unwrap(libc().munmap(p, BigInt(this.#length)), "munmap");
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Calls mmap(2), turning MAP_FAILED into ErrnoError.
 * @param length bytes (> 0)
 * @param prot PROT_* bits
 * @param flags MAP_* bits
 * @param fd the file, or -1
 * @param offset in the file, a multiple of the page size
 * @returns the mapping
 */
export function mmap(
  length: number,
  prot: number,
  flags: number,
  fd: number,
  offset: number,
): Mapping {
  if (!(length > 0)) throw new RangeError(`Cannot map ${length} bytes: the length must be > 0`);
  const p = libc().mmap(null, BigInt(length), prot, flags, fd, BigInt(offset));
  if (p === null || BigInt(Deno.UnsafePointer.value(p)) === MAP_FAILED) {
    throw new ErrnoError("mmap", lastErrno(), `${length} bytes`);
  }
  return new Mapping(p, length);
}

/** Options of {@linkcode mapFile}. */
export interface MapFileOptions {
  /** Offset in the file, a multiple of the page size. @default 0 */
  offset?: number;
  /** Map it writable too. @default false */
  writable?: boolean;
  /** MAP_POPULATE: fault every page in now. @default false */
  populate?: boolean;
}

/**
 * Maps a file shared, read-only unless asked.
 * @param fd the open file
 * @param length bytes to map (> 0)
 * @param options offset, writable, populate
 * @returns the mapping
 * @example
 * ```ts
 * import { openFile } from "./fd.ts";
 * import { mapFile } from "./memory.ts";
 * using f = openFile("/etc/hostname");
 * using m = mapFile(f.fd, 1);
 * console.assert(m.bytes().length === 1);
 * ```
 */
export function mapFile(fd: number, length: number, options: MapFileOptions = {}): Mapping {
  const { offset = 0, writable = false, populate = false } = options;
  const prot = PROT_READ | (writable ? PROT_WRITE : 0);
  return mmap(length, prot, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, offset);
}

/**
 * Allocates zeroed, page-aligned, read-write memory that never moves (an
 * anonymous private mapping, pages touched now so that first use does not
 * fault).
 * @param length bytes (> 0), rounded up to pages by the kernel
 * @returns the mapping
 * @example
 * ```ts
 * import { allocPages } from "./memory.ts";
 * using buf = allocPages(8192);
 * console.assert(buf.address % 4096 === 0 && buf.bytes()[8191] === 0);
 * ```
 */
export function allocPages(length: number): Mapping {
  return mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
}

/**
 * `memcpy(3)`: copies `n` bytes, at native speed.
 * @param dest where to
 * @param src where from
 * @param n bytes
 */
export function copyMemory(dest: Deno.PointerObject, src: Deno.PointerObject, n: number): void {
  libc().memcpy(dest, src, BigInt(n));
}
