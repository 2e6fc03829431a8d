/**
 * io_uring with raw syscalls, no liburing: `io_uring_setup`, the SQ ring, CQ
 * ring and SQE array mapped into this process, SQEs prepared in place,
 * submission and reaping through the shared ring indices, `io_uring_enter`
 * to submit and wait, and registered files and buffers.
 *
 * Memory ordering: the kernel reads the SQ tail and writes the SQ head and
 * the CQ tail; we write the SQ tail and the CQ head. Every access to a shared
 * index is an `Atomics` operation on a Uint32Array over the mapped ring (a
 * sequentially consistent store after the SQEs are written publishes them, as
 * smp_store_release does in liburing; a sequentially consistent load of the CQ
 * tail comes before reading the CQEs it covers, as smp_load_acquire does), and
 * the JIT does not move plain typed-array accesses across an Atomics operation.
 *
 * Layouts are those of include/uapi/linux/io_uring.h (Linux 5.1 onwards; the
 * SQE is 64 bytes, the CQE 16 unless IORING_SETUP_CQE32).
 *
 * ```ts
 * import { Ring } from "./uring.ts";
 * using ring = new Ring(8);
 * ring.prepNop({ userData: 42 });
 * ring.submit({ waitFor: 1 });
 * const [cqe] = ring.completions();
 * console.assert(cqe?.userData === 42 && cqe.res === 0);
 * ```
 * @module
 */

import { ErrnoError, lastErrno } from "./errno.ts";
import {
  address,
  libc,
  SYS_io_uring_enter,
  SYS_io_uring_register,
  SYS_io_uring_setup,
} from "./libc.ts";
import { type BufferAddress, IoVec } from "./io.ts";
import { MAP_POPULATE, MAP_SHARED, type Mapping, mmap, PROT_READ, PROT_WRITE } from "./memory.ts";

/** Opcodes (enum io_uring_op). */
export const IORING_OP = {
  NOP: 0,
  READV: 1,
  WRITEV: 2,
  FSYNC: 3,
  READ_FIXED: 4,
  WRITE_FIXED: 5,
  POLL_ADD: 6,
  SENDMSG: 9,
  RECVMSG: 10,
  TIMEOUT: 11,
  ACCEPT: 13,
  ASYNC_CANCEL: 14,
  CONNECT: 16,
  CLOSE: 19,
  READ: 22,
  WRITE: 23,
  SEND: 26,
  RECV: 27,
  SPLICE: 30,
  TEE: 33,
} as const;

/** SQE flags. */
export const IOSQE_FIXED_FILE = 1 << 0;
/** Start only after every earlier SQE has completed. */
export const IOSQE_IO_DRAIN = 1 << 1;
/** The next SQE starts when this one completes (with its full result). */
export const IOSQE_IO_LINK = 1 << 2;
/** Like IO_LINK, but the chain is not broken by an error or short result. */
export const IOSQE_IO_HARDLINK = 1 << 3;
/** Always issue from an async worker. */
export const IOSQE_ASYNC = 1 << 4;
/** SQE flag: post no completion when the request succeeds. */
export const IOSQE_CQE_SKIP_SUCCESS = 1 << 6;
/** `ioprio` of an ACCEPT: keep accepting, one completion per connection. */
export const IORING_ACCEPT_MULTISHOT = 1 << 0;
/** `len` of a POLL_ADD: keep polling, one completion per wake-up. */
export const IORING_POLL_ADD_MULTI = 1 << 0;

/** Setup flags (`RingOptions.flags`). */
export const IORING_SETUP_CQSIZE = 1 << 3;
/** Clamp too-large entry counts instead of failing. */
export const IORING_SETUP_CLAMP = 1 << 4;
/** Do not interrupt the task to run completions; they run at the next enter. */
export const IORING_SETUP_COOP_TASKRUN = 1 << 8;
/** Only one task submits. */
export const IORING_SETUP_SINGLE_ISSUER = 1 << 12;
/** 32-byte CQEs. */
export const IORING_SETUP_CQE32 = 1 << 11;

/** Feature bits (`Ring.features`): SQ and CQ rings share one mapping. */
export const IORING_FEAT_SINGLE_MMAP = 1 << 0;
/** Completions are never dropped when the CQ ring is full. */
export const IORING_FEAT_NODROP = 1 << 1;
/** Data for submission need only be stable until submit returns. */
export const IORING_FEAT_SUBMIT_STABLE = 1 << 2;

/** `io_uring_enter` flags. */
export const IORING_ENTER_GETEVENTS = 1 << 0;

/** SQ ring flags (read from the ring). */
const IORING_SQ_CQ_OVERFLOW = 1 << 1;

const IORING_OFF_SQ_RING = 0;
const IORING_OFF_CQ_RING = 0x8000000;
const IORING_OFF_SQES = 0x10000000;

const IORING_REGISTER_BUFFERS = 0;
const IORING_UNREGISTER_BUFFERS = 1;
const IORING_REGISTER_FILES = 2;
const IORING_UNREGISTER_FILES = 3;

const SQE_BYTES = 64;
const U32_MAX = 0xffff_ffff;

/** One completion. */
export interface Cqe {
  /** The SQE's user_data. */
  userData: number;
  /** The result: bytes or 0 on success, `-errno` on failure. */
  res: number;
  /** IORING_CQE_F_* bits. */
  flags: number;
}

/** Options of {@linkcode Ring}. */
export interface RingOptions {
  /** CQ ring size (IORING_SETUP_CQSIZE). @default twice the SQ size */
  cqEntries?: number;
  /** More IORING_SETUP_* flags. @default 0 */
  flags?: number;
}

/** What every prep method takes besides its operation's own fields. */
export interface SqeOptions {
  /** Returned in the CQE. Integers up to 2^53. @default 0 */
  userData?: number;
  /** IOSQE_IO_LINK: the next SQE waits for this one. @default false */
  link?: boolean;
  /** IOSQE_IO_HARDLINK. @default false */
  hardLink?: boolean;
  /** IOSQE_FIXED_FILE: `fd` is an index into the registered files. @default false */
  fixedFile?: boolean;
  /** IOSQE_IO_DRAIN. @default false */
  drain?: boolean;
  /** IOSQE_ASYNC. @default false */
  async?: boolean;
  /** IOSQE_CQE_SKIP_SUCCESS: no completion unless it fails. @default false */
  skipSuccess?: boolean;
}

/** A read or write: a buffer, its length, and the file offset. */
export interface RwOptions extends SqeOptions {
  /** The buffer's start. */
  buffer: BufferAddress;
  /** Bytes. */
  length: number;
  /** File offset; -1 uses and advances the file position. @default -1 */
  offset?: number;
  /** Use READ_FIXED/WRITE_FIXED with this registered buffer's index. */
  bufferIndex?: number;
}

/** A readv or writev. */
export interface RwvOptions extends SqeOptions {
  /** The iovec array; its memory must not move until submitted (see IORING_FEAT_SUBMIT_STABLE). */
  iovecs: BufferAddress;
  /** Entries in it. */
  count: number;
  /** File offset; -1 uses the file position. @default -1 */
  offset?: number;
}

/** A send or recv. */
export interface MsgOptions extends SqeOptions {
  /** The buffer's start. */
  buffer: BufferAddress;
  /** Bytes. */
  length: number;
  /** MSG_* flags. @default 0 */
  msgFlags?: number;
}

/** A splice. */
export interface SpliceOptions extends SqeOptions {
  /** Where to read; a pipe, or a file with `offsetIn`. */
  fdIn: number;
  /** Offset in `fdIn`; null for a pipe or the file position. @default null */
  offsetIn?: number | null;
  /** Offset in the output; null for a pipe or socket. @default null */
  offsetOut?: number | null;
  /** Bytes. */
  length: number;
  /** SPLICE_F_* flags. @default 0 */
  spliceFlags?: number;
  /** `fdIn` is a registered file index (SPLICE_F_FD_IN_FIXED). @default false */
  fixedFileIn?: boolean;
}

const SPLICE_F_FD_IN_FIXED = 1 << 31;

function addr(b: BufferAddress): number {
  return typeof b === "number" ? b : address(b);
}

function checkEntries(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || n > 32768) {
    throw new RangeError(`Invalid io_uring ${what} ${n}: use 1 to 32768`);
  }
}

/** Why io_uring_setup failed, in words a user can act on. */
function setupFailure(errno: number): ErrnoError {
  const e = new ErrnoError("io_uring_setup", errno);
  let why = "";
  if (e.code === "ENOSYS") why = "this kernel has no io_uring (built without CONFIG_IO_URING)";
  else if (e.code === "EPERM") {
    let sysctl = "";
    try {
      sysctl = Deno.readTextFileSync("/proc/sys/kernel/io_uring_disabled").trim();
    } catch {
      // older kernels have no such sysctl
    }
    why = sysctl && sysctl !== "0"
      ? `io_uring is disabled on this host (kernel.io_uring_disabled=${sysctl}; set it to 0)`
      : "io_uring is forbidden here (a seccomp policy, such as a container runtime's, or " +
        "kernel.io_uring_disabled)";
  } else if (e.code === "ENOMEM") why = "not enough locked memory for the rings (ulimit -l)";
  else if (e.code === "EINVAL") why = "the kernel refused the ring parameters";
  else if (e.code === "EMFILE" || e.code === "ENFILE") why = "too many open files";
  return why ? new ErrnoError("io_uring_setup", errno, why) : e;
}

// Safety net only: a Ring garbage-collected without close() is torn down.
const leaked = new FinalizationRegistry<{ fd: number; maps: Mapping[] }>(({ fd, maps }) => {
  for (const m of maps) m.close();
  libc().close(fd);
});

/**
 * An io_uring instance: its rings mapped into this process. One thread (the
 * one that made it) prepares, submits and reaps.
 */
export class Ring implements Disposable {
  #fd: number;
  #maps: Mapping[] = [];
  #sq: Uint32Array;
  #cq: Uint32Array;
  #sqHead: number;
  #sqTail: number;
  #sqFlags: number;
  #sqDropped: number;
  #cqHead: number;
  #cqTail: number;
  #cqOverflow: number;
  #sqMask: number;
  #cqMask: number;
  #cqes: Uint32Array;
  #cqeWords: number;
  #sqeU8: Uint8Array;
  #sqeU16: Uint16Array;
  #sqeU32: Uint32Array;
  #sqeI32: Int32Array;
  /** SQEs prepared, in ring order; kernel head..#sqeTail are not yet consumed. */
  #sqeTail = 0;
  #waiting = false;
  #iovecs: Mapping | null = null;
  /** Entries in the SQ ring. */
  readonly sqEntries: number;
  /** Entries in the CQ ring. */
  readonly cqEntries: number;
  /** IORING_FEAT_* bits the kernel reported. */
  readonly features: number;
  /** The IORING_SETUP_* flags used. */
  readonly flags: number;

  /**
   * Sets up a ring.
   * @param entries SQ size, 1 to 32768 (the kernel rounds up to a power of two)
   * @param options CQ size, setup flags
   * @throws ErrnoError from io_uring_setup with the reason (disabled, no kernel support, ...)
   */
  constructor(entries: number, options: RingOptions = {}) {
    const { cqEntries, flags = 0 } = options;
    checkEntries(entries, "queue depth");
    const params = new Uint32Array(30); // struct io_uring_params, 120 bytes
    let setupFlags = flags;
    if (cqEntries !== undefined) {
      checkEntries(cqEntries, "completion queue size");
      setupFlags |= IORING_SETUP_CQSIZE;
      params[1] = cqEntries;
    }
    params[2] = setupFlags;
    const ret = Number(libc().io_uring_setup(BigInt(SYS_io_uring_setup), entries, params));
    if (ret < 0) throw setupFailure(lastErrno());
    this.#fd = ret;
    this.flags = setupFlags;
    try {
      this.sqEntries = params[0]!;
      this.cqEntries = params[1]!;
      this.features = params[5]!;
      // struct io_sqring_offsets at byte 40, io_cqring_offsets at byte 80.
      const sqOff = params.subarray(10, 20);
      const cqOff = params.subarray(20, 30);
      const cqeBytes = setupFlags & IORING_SETUP_CQE32 ? 32 : 16;
      const sqSize = sqOff[6]! + this.sqEntries * 4; // array + entries * u32
      const cqSize = cqOff[5]! + this.cqEntries * cqeBytes; // cqes + entries * cqe
      const rw = PROT_READ | PROT_WRITE;
      const single = (this.features & IORING_FEAT_SINGLE_MMAP) !== 0;
      const sqMap = mmap(
        single ? Math.max(sqSize, cqSize) : sqSize,
        rw,
        MAP_SHARED | MAP_POPULATE,
        ret,
        IORING_OFF_SQ_RING,
      );
      this.#maps.push(sqMap);
      const cqMap = single
        ? sqMap
        : mmap(cqSize, rw, MAP_SHARED | MAP_POPULATE, ret, IORING_OFF_CQ_RING);
      if (!single) this.#maps.push(cqMap);
      const sqes = mmap(
        this.sqEntries * SQE_BYTES,
        rw,
        MAP_SHARED | MAP_POPULATE,
        ret,
        IORING_OFF_SQES,
      );
      this.#maps.push(sqes);

      this.#sq = new Uint32Array(sqMap.bytes().buffer);
      this.#cq = new Uint32Array(cqMap.bytes().buffer);
      this.#sqHead = sqOff[0]! / 4;
      this.#sqTail = sqOff[1]! / 4;
      this.#sqMask = this.#sq[sqOff[2]! / 4]!;
      this.#sqFlags = sqOff[4]! / 4;
      this.#sqDropped = sqOff[5]! / 4;
      this.#cqHead = cqOff[0]! / 4;
      this.#cqTail = cqOff[1]! / 4;
      this.#cqMask = this.#cq[cqOff[2]! / 4]!;
      this.#cqOverflow = cqOff[4]! / 4;
      this.#cqes = this.#cq.subarray(cqOff[5]! / 4);
      this.#cqeWords = cqeBytes / 4;
      // SQE slot i is always ring entry i: fill the index array once.
      const array = this.#sq.subarray(sqOff[6]! / 4, sqOff[6]! / 4 + this.sqEntries);
      for (let i = 0; i < this.sqEntries; i++) array[i] = i;
      const sqeBuf = sqes.bytes().buffer;
      this.#sqeU8 = new Uint8Array(sqeBuf);
      this.#sqeU16 = new Uint16Array(sqeBuf);
      this.#sqeU32 = new Uint32Array(sqeBuf);
      this.#sqeI32 = new Int32Array(sqeBuf);
      this.#sqeTail = Atomics.load(this.#sq, this.#sqTail);
    } catch (e: unknown) {
      for (const m of this.#maps) m.close();
      libc().close(ret);
      throw e;
    }
    leaked.register(this, { fd: ret, maps: [...this.#maps] }, this);
  }

  /** The ring's file descriptor; throws once closed. */
  get fd(): number {
    if (this.#fd < 0) throw new Error("Cannot use an io_uring after close()");
    return this.#fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd < 0;
  }

  /** SQEs that can be prepared now. */
  sqSpace(): number {
    return this.sqEntries - (this.#sqeTail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
  }

  /** SQEs prepared and not yet taken by the kernel. */
  pending(): number {
    return (this.#sqeTail - Atomics.load(this.#sq, this.#sqHead)) >>> 0;
  }

  /** SQEs the kernel dropped as invalid since setup. */
  get dropped(): number {
    return Atomics.load(this.#sq, this.#sqDropped);
  }

  /** Completions lost to a full CQ ring (only without IORING_FEAT_NODROP). */
  get overflowed(): number {
    return Atomics.load(this.#cq, this.#cqOverflow);
  }

  /** Claims the next SQE, zeroes it, writes the common fields; returns its byte offset. */
  #sqe(opcode: number, fd: number, o: SqeOptions): number {
    this.fd;
    if (this.#waiting) throw new Error("Cannot prepare an SQE while waitAsync() is pending");
    if (this.sqSpace() === 0) {
      throw new RangeError(
        `The submission queue is full (${this.sqEntries} entries): submit() before preparing more`,
      );
    }
    const ud = o.userData ?? 0;
    if (!Number.isSafeInteger(ud) || ud < 0) {
      throw new RangeError(`Invalid userData ${ud}: use an integer from 0 to 2^53`);
    }
    const slot = this.#sqeTail & this.#sqMask;
    this.#sqeTail = (this.#sqeTail + 1) >>> 0;
    const b = slot * SQE_BYTES;
    const w = b >> 2;
    this.#sqeU32.fill(0, w, w + SQE_BYTES / 4);
    this.#sqeU8[b] = opcode;
    this.#sqeU8[b + 1] = (o.fixedFile ? IOSQE_FIXED_FILE : 0) | (o.drain ? IOSQE_IO_DRAIN : 0) |
      (o.link ? IOSQE_IO_LINK : 0) | (o.hardLink ? IOSQE_IO_HARDLINK : 0) |
      (o.async ? IOSQE_ASYNC : 0) | (o.skipSuccess ? IOSQE_CQE_SKIP_SUCCESS : 0);
    this.#sqeI32[w + 1] = fd;
    this.#sqeU32[w + 8] = ud >>> 0;
    this.#sqeU32[w + 9] = Math.floor(ud / 2 ** 32);
    return b;
  }

  /** Writes a u64 field at word `w` (-1 is all ones: "no offset"). */
  #u64(w: number, v: number): void {
    if (v === -1) {
      this.#sqeU32[w] = U32_MAX;
      this.#sqeU32[w + 1] = U32_MAX;
    } else {
      this.#sqeU32[w] = v >>> 0;
      this.#sqeU32[w + 1] = Math.floor(v / 2 ** 32);
    }
  }

  #rw(op: number, fixedOp: number, fd: number, o: RwOptions): number {
    const fixed = o.bufferIndex !== undefined;
    const b = this.#sqe(fixed ? fixedOp : op, fd, o);
    const w = b >> 2;
    this.#u64(w + 2, o.offset ?? -1);
    this.#u64(w + 4, addr(o.buffer));
    this.#sqeU32[w + 6] = o.length;
    if (fixed) this.#sqeU16[(b + 40) >> 1] = o.bufferIndex!;
    return b / SQE_BYTES;
  }

  /**
   * Prepares any opcode from its raw fields, for operations without a prep
   * method of their own (FSYNC, POLL_ADD, ...).
   * @param opcode an IORING_OP value
   * @param fd the SQE's fd
   * @param options `address`, `length`, `offset` (-1: none), `opFlags`
   *   (the union at byte 28), `ioprio` (byte 2: IORING_ACCEPT_MULTISHOT for
   *   an ACCEPT), and the common SQE options
   * @returns the SQE's slot
   */
  prepRaw(
    opcode: number,
    fd: number,
    options: SqeOptions & {
      address?: number;
      length?: number;
      offset?: number;
      opFlags?: number;
      ioprio?: number;
    } = {},
  ): number {
    const b = this.#sqe(opcode, fd, options);
    const w = b >> 2;
    this.#sqeU16[(b + 2) >> 1] = options.ioprio ?? 0;
    this.#u64(w + 2, options.offset ?? 0);
    this.#u64(w + 4, options.address ?? 0);
    this.#sqeU32[w + 6] = options.length ?? 0;
    this.#sqeU32[w + 7] = options.opFlags ?? 0;
    return b / SQE_BYTES;
  }

  /**
   * Prepares a NOP: completes with res 0; for round trips and ordering.
   * @param options user data, flags
   * @returns the SQE's slot
   */
  prepNop(options: SqeOptions = {}): number {
    return this.#sqe(IORING_OP.NOP, -1, options) / SQE_BYTES;
  }

  /**
   * Prepares a READ (READ_FIXED with `bufferIndex`).
   * @param fd the file (an index with `fixedFile`)
   * @param options buffer, length, offset, user data, flags
   * @returns the SQE's slot
   */
  prepRead(fd: number, options: RwOptions): number {
    return this.#rw(IORING_OP.READ, IORING_OP.READ_FIXED, fd, options);
  }

  /**
   * Prepares a WRITE (WRITE_FIXED with `bufferIndex`).
   * @param fd the file (an index with `fixedFile`)
   * @param options buffer, length, offset, user data, flags
   * @returns the SQE's slot
   */
  prepWrite(fd: number, options: RwOptions): number {
    return this.#rw(IORING_OP.WRITE, IORING_OP.WRITE_FIXED, fd, options);
  }

  #rwv(op: number, fd: number, o: RwvOptions): number {
    const b = this.#sqe(op, fd, o);
    const w = b >> 2;
    this.#u64(w + 2, o.offset ?? -1);
    this.#u64(w + 4, addr(o.iovecs));
    this.#sqeU32[w + 6] = o.count;
    return b / SQE_BYTES;
  }

  /**
   * Prepares a READV.
   * @param fd the file (an index with `fixedFile`)
   * @param options the iovec array's address and count, offset, user data, flags
   * @returns the SQE's slot
   */
  prepReadv(fd: number, options: RwvOptions): number {
    return this.#rwv(IORING_OP.READV, fd, options);
  }

  /**
   * Prepares a WRITEV.
   * @param fd the file (an index with `fixedFile`)
   * @param options the iovec array's address and count, offset, user data, flags
   * @returns the SQE's slot
   */
  prepWritev(fd: number, options: RwvOptions): number {
    return this.#rwv(IORING_OP.WRITEV, fd, options);
  }

  #msg(op: number, fd: number, o: MsgOptions): number {
    const b = this.#sqe(op, fd, o);
    const w = b >> 2;
    this.#u64(w + 4, addr(o.buffer));
    this.#sqeU32[w + 6] = o.length;
    this.#sqeU32[w + 7] = o.msgFlags ?? 0;
    return b / SQE_BYTES;
  }

  /**
   * Prepares a SEND on a socket.
   * @param fd the socket (an index with `fixedFile`)
   * @param options buffer, length, MSG_* flags, user data, flags
   * @returns the SQE's slot
   */
  prepSend(fd: number, options: MsgOptions): number {
    return this.#msg(IORING_OP.SEND, fd, options);
  }

  /**
   * Prepares a RECV from a socket.
   * @param fd the socket (an index with `fixedFile`)
   * @param options buffer, length, MSG_* flags, user data, flags
   * @returns the SQE's slot
   */
  prepRecv(fd: number, options: MsgOptions): number {
    return this.#msg(IORING_OP.RECV, fd, options);
  }

  /**
   * Prepares a SPLICE from `options.fdIn` to `fdOut` (one of them a pipe).
   * @param fdOut where to (an index with `fixedFile`)
   * @param options the input and its offset, length, SPLICE_F_* flags, user data, flags
   * @returns the SQE's slot
   */
  prepSplice(fdOut: number, options: SpliceOptions): number {
    const b = this.#sqe(IORING_OP.SPLICE, fdOut, options);
    const w = b >> 2;
    this.#u64(w + 2, options.offsetOut ?? -1);
    this.#u64(w + 4, options.offsetIn ?? -1);
    this.#sqeU32[w + 6] = options.length;
    this.#sqeU32[w + 7] = ((options.spliceFlags ?? 0) |
      (options.fixedFileIn ? SPLICE_F_FD_IN_FIXED : 0)) >>> 0;
    this.#sqeI32[w + 11] = options.fdIn;
    return b / SQE_BYTES;
  }

  /** Publishes prepared SQEs to the kernel (release store of the SQ tail). */
  #publish(): number {
    Atomics.store(this.#sq, this.#sqTail, this.#sqeTail);
    return this.pending();
  }

  #enter(toSubmit: number, waitFor: number, flags: number): number {
    return Number(
      libc().io_uring_enter(
        BigInt(SYS_io_uring_enter),
        this.fd,
        toSubmit,
        waitFor,
        flags,
        null,
        0n,
      ),
    );
  }

  /**
   * Submits the prepared SQEs with `io_uring_enter`, and waits for completions
   * if asked. Blocks the calling thread while it waits: use it in a worker
   * process, or waitAsync() where the event loop has other work.
   * @param options `waitFor`: return once this many completions are in the
   *   CQ ring (@default 0)
   * @returns SQEs the kernel took
   * @throws ErrnoError from io_uring_enter (EINTR is retried)
   */
  submit(options: { waitFor?: number } = {}): number {
    const { waitFor = 0 } = options;
    const toSubmit = this.#publish();
    if (toSubmit === 0 && waitFor === 0) return 0;
    if (waitFor > 0 && this.#ready() >= waitFor && toSubmit === 0) return 0;
    let flags = waitFor > 0 ? IORING_ENTER_GETEVENTS : 0;
    // A completion held back by a full CQ ring is flushed by GETEVENTS.
    if (Atomics.load(this.#sq, this.#sqFlags) & IORING_SQ_CQ_OVERFLOW) {
      flags |= IORING_ENTER_GETEVENTS;
    }
    for (;;) {
      const before = this.pending();
      const ret = this.#enter(before, waitFor, flags);
      if (ret >= 0) return toSubmit - this.pending();
      const errno = lastErrno();
      const e = new ErrnoError("io_uring_enter", errno);
      if (e.code !== "EINTR") throw e;
    }
  }

  /**
   * Waits for `waitFor` completions without blocking the event loop: submits
   * what is prepared, then waits on a thread of Deno's blocking pool. While
   * it waits, the ring must not be touched.
   * @param waitFor completions to wait for (>= 1)
   */
  async waitAsync(waitFor: number): Promise<void> {
    this.submit();
    if (this.#ready() >= waitFor) return;
    this.#waiting = true;
    try {
      for (;;) {
        const ret = Number(
          await libc().io_uring_enter_nonblocking(
            BigInt(SYS_io_uring_enter),
            this.fd,
            0,
            waitFor,
            IORING_ENTER_GETEVENTS,
            null,
            0n,
          ),
        );
        if (ret >= 0) return;
        // errno belongs to the pool thread; an enter that waits for nothing,
        // on this thread, shows whether the error persists (EBADF, EFAULT,
        // ...) or was an interruption worth retrying.
        if (this.#enter(0, 0, IORING_ENTER_GETEVENTS) < 0) {
          throw new ErrnoError("io_uring_enter", lastErrno());
        }
        if (this.#ready() >= waitFor) return;
      }
    } finally {
      this.#waiting = false;
    }
  }

  /** Completions ready to reap (acquire load of the CQ tail). */
  #ready(): number {
    return (Atomics.load(this.#cq, this.#cqTail) - Atomics.load(this.#cq, this.#cqHead)) >>> 0;
  }

  /** Completions in the CQ ring, not yet reaped. */
  ready(): number {
    this.fd;
    return this.#ready();
  }

  /**
   * The oldest completion, left in the ring.
   * @returns it, or null when there is none
   */
  peek(): Cqe | null {
    if (this.#ready() === 0) return null;
    const head = Atomics.load(this.#cq, this.#cqHead);
    return this.#read(head);
  }

  #read(head: number): Cqe {
    const w = (head & this.#cqMask) * this.#cqeWords;
    const c = this.#cqes;
    return {
      userData: c[w]! + c[w + 1]! * 2 ** 32,
      res: c[w + 2]! | 0,
      flags: c[w + 3]!,
    };
  }

  /**
   * Calls `fn` for each ready completion, oldest first, then releases their
   * slots to the kernel (release store of the CQ head). No allocation.
   * @param fn gets user data, result and flags
   * @returns how many
   */
  forEachCompletion(fn: (userData: number, res: number, flags: number) => void): number {
    this.fd;
    let head = Atomics.load(this.#cq, this.#cqHead);
    const tail = Atomics.load(this.#cq, this.#cqTail);
    const c = this.#cqes;
    let n = 0;
    try {
      while (head !== tail) {
        const w = (head & this.#cqMask) * this.#cqeWords;
        const ud = c[w]! + c[w + 1]! * 2 ** 32;
        const res = c[w + 2]! | 0;
        const flags = c[w + 3]!;
        head = (head + 1) >>> 0;
        n++;
        fn(ud, res, flags);
      }
    } finally {
      Atomics.store(this.#cq, this.#cqHead, head);
    }
    return n;
  }

  /**
   * Reaps every ready completion, oldest first.
   * @returns them
   */
  completions(): Cqe[] {
    const out: Cqe[] = [];
    this.forEachCompletion((userData, res, flags) => out.push({ userData, res, flags }));
    return out;
  }

  #register(opcode: number, arg: BufferSource | null, n: number, what: string): void {
    const ret = Number(
      libc().io_uring_register(BigInt(SYS_io_uring_register), this.fd, opcode, arg, n),
    );
    if (ret < 0) throw new ErrnoError("io_uring_register", lastErrno(), what);
  }

  /**
   * Registers files: SQEs with `fixedFile` then name them by index, which
   * saves a file reference count per request.
   * @param fds the descriptors; index i stands for fds[i]
   */
  registerFiles(fds: number[]): void {
    this.#register(IORING_REGISTER_FILES, new Int32Array(fds), fds.length, "register files");
  }

  /** Drops the registered files. */
  unregisterFiles(): void {
    this.#register(IORING_UNREGISTER_FILES, null, 0, "unregister files");
  }

  /**
   * Registers buffers (pins their pages once): reads and writes with
   * `bufferIndex` then skip mapping them per request.
   * @param buffers each buffer's start and length; its memory must stay mapped
   */
  registerBuffers(buffers: { buffer: BufferAddress; length: number }[]): void {
    const iov = new IoVec(buffers);
    this.#register(IORING_REGISTER_BUFFERS, iov.array, iov.count, "register buffers");
  }

  /** Drops the registered buffers. */
  unregisterBuffers(): void {
    this.#register(IORING_UNREGISTER_BUFFERS, null, 0, "unregister buffers");
  }

  /**
   * Stable memory for iovec arrays used by READV/WRITEV SQEs: `count`
   * entries, as an IoVec-shaped view plus its address.
   * @param count entries wanted
   * @returns the words to fill (base lo/hi, length lo/hi per entry) and their address
   */
  iovecMemory(count: number): { words: Uint32Array; address: number } {
    const bytes = count * 16;
    if (!this.#iovecs || this.#iovecs.length < bytes) {
      this.#iovecs?.close();
      this.#iovecs = mmap(
        Math.max(bytes, 4096),
        PROT_READ | PROT_WRITE,
        0x22, // MAP_PRIVATE | MAP_ANONYMOUS
        -1,
        0,
      );
    }
    return {
      words: new Uint32Array(this.#iovecs.bytes().buffer, 0, count * 4),
      address: this.#iovecs.address,
    };
  }

  /** Unmaps the rings and closes the ring's descriptor; a second call does nothing. */
  close(): void {
    if (this.#fd < 0) return;
    if (this.#waiting) throw new Error("Cannot close an io_uring while waitAsync() is pending");
    const fd = this.#fd;
    this.#fd = -1;
    leaked.unregister(this);
    try {
      for (const m of this.#maps) m.close();
      this.#iovecs?.close();
    } finally {
      libc().close(fd);
    }
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Whether io_uring can be used here: sets up and closes a one-entry ring.
 * @returns null when it works, else the reason (from io_uring_setup's error)
 * @example
 * ```ts
 * import { ioUringUnavailable } from "./uring.ts";
 * const why = ioUringUnavailable();
 * console.assert(why === null || why.length > 0);
 * ```
 */
export function ioUringUnavailable(): string | null {
  try {
    new Ring(1).close();
    return null;
  } catch (e: unknown) {
    return e instanceof Error ? e.message : String(e);
  }
}
