/**
 * The I/O paths bench drives, each through ffi/: `scan` (file -> memory) and
 * `serve` (file -> a TCP socket). They run inside a bench worker process and
 * block it, which is the point: the worker has nothing else to do.
 *
 * Every path counts the I/O calls it makes (so the trace can be checked
 * against it) and, for `scan`, reports each block it delivered to a `seen`
 * callback (for the checksum), whole, once, by block number.
 * @module
 */

import {
  allocPages,
  copyMemory,
  ErrnoError,
  errnoName,
  type Fd,
  IoVec,
  MADV_SEQUENTIAL,
  mapFile,
  type Mapping,
  MSG_NOSIGNAL,
  MSG_WAITALL,
  offsetPointer,
  openFile,
  type Pipe,
  pipe,
  pread,
  preadv,
  read,
  readv,
  Ring,
  type RwOptions,
  sendfile,
  splice,
  SPLICE_F_MORE,
  SPLICE_F_MOVE,
  write,
  writev,
} from "../../ffi/mod.ts";

const WAIT_ONE = { waitFor: 1 } as const;

/** The scenarios. */
export const SCENARIOS = ["scan", "serve"] as const;
/** A scenario's name. */
export type Scenario = typeof SCENARIOS[number];

/** The paths of each scenario, in the order they run. */
export const SCENARIO_PATHS: Record<Scenario, readonly string[]> = {
  scan: ["read", "readv", "mmap", "io_uring"],
  serve: ["read", "readv", "mmap", "sendfile", "splice", "io_uring", "io_uring_splice"],
};

/**
 * The one owner of each path's ops. `latency`: the op whose latency stands
 * for the path in the Bench document (`op`): a syscall, or `io_uring OPCODE`;
 * null where only the worker's clock can time a block (scan mmap: a memcpy).
 * `own`: the syscall only this path makes, which its trace must show.
 */
export const PATH_OPS: Record<Scenario, Record<string, { latency: string | null; own: string }>> = {
  scan: {
    read: { latency: "pread64", own: "pread64" },
    readv: { latency: "preadv", own: "preadv" },
    mmap: { latency: null, own: "mmap" },
    io_uring: { latency: "io_uring READ", own: "io_uring_enter" },
  },
  serve: {
    read: { latency: "write", own: "read" },
    readv: { latency: "writev", own: "readv" },
    mmap: { latency: "write", own: "mmap" },
    sendfile: { latency: "sendfile64", own: "sendfile64" },
    splice: { latency: "splice", own: "splice" },
    io_uring: { latency: "io_uring SEND", own: "io_uring_enter" },
    io_uring_splice: { latency: "io_uring SPLICE", own: "io_uring_enter" },
  },
};

/** What a path does, in a few words (for help and reports). */
export const PATH_SUMMARY: Record<Scenario, Record<string, string>> = {
  scan: {
    read: "pread into one buffer (fio psync)",
    readv: "preadv into 4 buffers (fio pvsync)",
    mmap: "mmap, memcpy to a buffer; munmap untimed (fio mmap)",
    io_uring: "io_uring READ at depth N, registered file (fio io_uring)",
  },
  serve: {
    read: "read, then write to the socket",
    readv: "readv into 4 buffers, writev to the socket",
    mmap: "mmap, write from the mapping; munmap untimed",
    sendfile: "sendfile, file to socket in the kernel",
    splice: "splice file -> pipe -> socket",
    io_uring: "io_uring READ -> SEND chains, N blocks per enter",
    io_uring_splice: "io_uring SPLICE file -> pipe -> socket chains",
  },
};

/** What a worker needs to run one path. */
export interface PathSpec {
  scenario: Scenario;
  path: string;
  /** The file to read. */
  file: string;
  /** Its size: the path moves exactly this many bytes. */
  fileSize: number;
  blockSize: number;
  queueDepth: number;
  /** Buffers per readv/writev call. @default 4 */
  iovecs?: number;
  /** io_uring: register the buffers (READ_FIXED). @default false */
  fixedBuffers?: boolean;
}

/** Gets every block a scan delivered: its number and its bytes (valid only during the call). */
export type BlockSeen = (index: number, data: Uint8Array) => void;

/** What one run of a path did. */
export interface PathCounters {
  /** Bytes moved. */
  bytes: number;
  /** I/O syscalls made (read, pread64, write, sendfile64, io_uring_enter, mmap, ...). */
  calls: number;
}

/** Per-call latency, as the worker's clock saw it (ms from performance.now). */
export interface LatencyLog {
  add(ms: number): void;
}

/** A path ready to run: its file open, buffers and rings set up. */
export interface PreparedPath extends Disposable {
  /** The op whose latency a block's time measures, for the report. */
  readonly op: string;
  /**
   * Moves the whole file once.
   * @param seen scan only: gets each block
   * @param log gets each block's time, for the paths that do one block per call
   */
  run(seen?: BlockSeen, log?: LatencyLog): PathCounters;
  /**
   * Undoes what run() leaves for later, outside the timed part: the mmap
   * paths unmap the file here (fio's mmap engine never unmaps it while it
   * times). Returns the I/O syscalls made.
   */
  finish(): number;
}

function shortFile(spec: PathSpec, at: number): Error {
  return new Error(
    `${spec.file} ended at byte ${at}, but it had ${spec.fileSize} bytes when the bench started`,
  );
}

/**
 * Reads the whole file into one block buffer, block by block, timing each
 * block: `readAt(off, got, want)` reads the rest of the block at `off` from
 * `off + got` into the buffer at `got`, and is called until the block is whole.
 * @returns the bytes and the calls made
 */
function scanBlocks(
  spec: PathSpec,
  view: Uint8Array,
  seen: BlockSeen | undefined,
  log: LatencyLog | undefined,
  readAt: (off: number, got: number, want: number) => number,
): PathCounters {
  const { fileSize: size, blockSize: bs } = spec;
  let calls = 0;
  for (let off = 0, i = 0; off < size; off += bs, i++) {
    const want = Math.min(bs, size - off);
    const t0 = performance.now();
    for (let got = 0; got < want; calls++) {
      const n = readAt(off, got, want);
      if (n === 0) throw shortFile(spec, off + got);
      got += n;
    }
    log?.add(performance.now() - t0);
    seen?.(i, view.subarray(0, want));
  }
  return { bytes: size, calls };
}

/** A stack of things to close, closed in reverse. */
class Holder implements Disposable {
  #items: Disposable[] = [];
  hold<T extends Disposable>(x: T): T {
    this.#items.push(x);
    return x;
  }
  [Symbol.dispose](): void {
    let first: unknown = null;
    for (const x of this.#items.reverse()) {
      try {
        x[Symbol.dispose]();
      } catch (e: unknown) {
        first ??= e;
      }
    }
    this.#items = [];
    if (first) throw first;
  }
}

/** An iovec array over [base, base + length), `spec.iovecs` pieces of whole pages. */
function iovecs(spec: PathSpec, base: number, length: number): IoVec {
  const parts = spec.iovecs ?? 4;
  if (!Number.isInteger(parts) || parts < 1 || parts > 1024) {
    throw new RangeError(`Invalid iovec count ${parts}: use 1 to 1024`);
  }
  return split(new IoVec(new Array(parts).fill({ buffer: base, length: 0 })), base, length);
}

/**
 * Points `iov` at [base, base + length) cut into up to `iov.count` pieces of
 * whole pages; a new, shorter array when fewer pieces are needed.
 */
function split(iov: IoVec, base: number, length: number): IoVec {
  const parts = iov.count;
  const piece = Math.max(4096, Math.ceil(length / parts / 4096) * 4096);
  const list: { buffer: number; length: number }[] = [];
  for (let o = 0; o < length && list.length < parts; o += piece) {
    list.push({ buffer: base + o, length: Math.min(piece, length - o) });
  }
  if (list.length === parts) {
    list.forEach((p, i) => iov.set(i, p.buffer, p.length));
    return iov;
  }
  return new IoVec(list);
}

/**
 * Opens the file and sets up what the path needs; `conn` is the connected
 * socket for `serve`.
 * @param spec the path and its parameters
 * @param conn serve only: the socket to the sink
 * @returns the prepared path
 */
export function preparePath(spec: PathSpec, conn?: Fd): PreparedPath {
  const h = new Holder();
  try {
    const file = h.hold(openFile(spec.file));
    let p: Prepared;
    if (spec.scenario === "scan") p = prepareScan(spec, file, h);
    else {
      if (!conn) throw new TypeError("serve needs a connected socket");
      p = prepareServe(spec, file, conn, h);
    }
    return {
      op: p.op,
      run: p.run,
      finish: p.finish ?? (() => 0),
      [Symbol.dispose]: () => h[Symbol.dispose](),
    };
  } catch (e: unknown) {
    h[Symbol.dispose]();
    throw e;
  }
}

type Prepared = Omit<PreparedPath, typeof Symbol.dispose | "finish"> & {
  finish?: () => number;
};

/** The file mapped by an mmap path's run(), unmapped by finish() or dispose. */
function mappingSlot(h: Holder): { map(fd: number, size: number): Mapping; finish(): number } {
  let live: Mapping | null = null;
  h.hold({ [Symbol.dispose]: () => live?.close() });
  return {
    map(fd, size) {
      live?.close();
      live = mapFile(fd, size);
      return live;
    },
    finish() {
      if (!live) return 0;
      live.close();
      live = null;
      return 1;
    },
  };
}

function prepareScan(spec: PathSpec, file: Fd, h: Holder): Prepared {
  const { fileSize: size, blockSize: bs } = spec;
  const fd = file.fd;
  switch (spec.path) {
    case "read": {
      const buf = h.hold(allocPages(bs));
      return {
        op: "pread64",
        run: (seen, log) =>
          scanBlocks(
            spec,
            buf.bytes(),
            seen,
            log,
            (off, got, want) => pread(fd, buf.address + got, want - got, off + got),
          ),
      };
    }
    case "readv": {
      const buf = h.hold(allocPages(bs));
      const full = iovecs(spec, buf.address, bs);
      const scratch = iovecs(spec, buf.address, bs);
      return {
        op: "preadv",
        run: (seen, log) =>
          scanBlocks(spec, buf.bytes(), seen, log, (off, got, want) =>
            preadv(
              fd,
              got === 0 && want === bs ? full : split(scratch, buf.address + got, want - got),
              off + got,
            )),
      };
    }
    case "mmap": {
      const buf = h.hold(allocPages(bs));
      const slot = mappingSlot(h);
      return {
        op: "memcpy",
        finish: slot.finish,
        run(seen, log) {
          const view = buf.bytes();
          // As fio's mmap engine: map the whole file, advise sequential, copy out.
          const map = slot.map(fd, size);
          map.advise(MADV_SEQUENTIAL);
          for (let off = 0, i = 0; off < size; off += bs, i++) {
            const want = Math.min(bs, size - off);
            const t0 = performance.now();
            copyMemory(buf.pointer, offsetPointer(map.pointer, off), want);
            log?.add(performance.now() - t0);
            seen?.(i, view.subarray(0, want));
          }
          return { bytes: size, calls: 2 }; // mmap, madvise
        },
      };
    }
    case "io_uring":
      return scanUring(spec, fd, h);
  }
  throw new RangeError(`Unknown scan path '${spec.path}'`);
}

function scanUring(spec: PathSpec, fd: number, h: Holder): Prepared {
  const { fileSize: size, blockSize: bs } = spec;
  const qd = Math.max(1, Math.min(spec.queueDepth, Math.ceil(size / bs)));
  const ring = h.hold(new Ring(qd));
  const bufs = h.hold(allocPages(qd * bs));
  ring.registerFiles([fd]);
  const fixed = spec.fixedBuffers ?? false;
  if (fixed) {
    ring.registerBuffers(
      Array.from({ length: qd }, (_, k) => ({ buffer: bufs.address + k * bs, length: bs })),
    );
  }
  const blocks = Math.ceil(size / bs);
  return {
    op: fixed ? "io_uring READ_FIXED" : "io_uring READ",
    run(seen) {
      const view = bufs.bytes();
      // Per buffer slot: the block it holds and the bytes in so far.
      const slotBlock = new Int32Array(qd).fill(-1);
      const slotGot = new Float64Array(qd);
      let next = 0;
      let done = 0;
      let calls = 0;
      // One options object, refilled per request: nothing allocated per block.
      const rw: RwOptions = fixed
        ? { fixedFile: true, buffer: 0, length: 0, offset: 0, userData: 0, bufferIndex: 0 }
        : { fixedFile: true, buffer: 0, length: 0, offset: 0, userData: 0 };
      const issue = (slot: number) => {
        const got = slotGot[slot]!;
        const off = slotBlock[slot]! * bs;
        rw.buffer = bufs.address + slot * bs + got;
        rw.length = Math.min(bs, size - off) - got;
        rw.offset = off + got;
        rw.userData = slot;
        if (fixed) rw.bufferIndex = slot;
        ring.prepRead(0, rw);
      };
      const reap = (slot: number, res: number) => {
        if (res < 0) throw new ErrnoError("io_uring READ", -res, spec.file);
        const block = slotBlock[slot]!;
        const off = block * bs;
        const want = Math.min(bs, size - off);
        if (res === 0) throw shortFile(spec, off + slotGot[slot]!);
        slotGot[slot] = slotGot[slot]! + res;
        if (slotGot[slot]! < want) return issue(slot);
        seen?.(block, view.subarray(slot * bs, slot * bs + want));
        done++;
        if (next < blocks) {
          slotBlock[slot] = next++;
          slotGot[slot] = 0;
          issue(slot);
        }
      };
      for (let slot = 0; slot < qd && next < blocks; slot++) {
        slotBlock[slot] = next++;
        slotGot[slot] = 0;
        issue(slot);
      }
      while (done < blocks) {
        ring.submit(WAIT_ONE);
        calls++;
        ring.forEachCompletion(reap);
      }
      return { bytes: size, calls };
    },
  };
}

/** Writes all of a buffer to the socket; returns the calls made. */
function sendAll(sock: number, address: number, length: number): number {
  let calls = 0;
  for (let put = 0; put < length; calls++) put += write(sock, address + put, length - put);
  return calls;
}

function prepareServe(spec: PathSpec, file: Fd, conn: Fd, h: Holder): Prepared {
  const { fileSize: size, blockSize: bs } = spec;
  const fd = file.fd;
  const sock = conn.fd;
  switch (spec.path) {
    case "read": {
      const buf = h.hold(allocPages(bs));
      return {
        op: "write",
        run(_seen, log) {
          let calls = 0;
          let off = 0;
          while (off < size) {
            const t0 = performance.now();
            const n = read(fd, buf.pointer, Math.min(bs, size - off));
            calls++;
            if (n === 0) throw shortFile(spec, off);
            calls += sendAll(sock, buf.address, n);
            log?.add(performance.now() - t0);
            off += n;
          }
          return { bytes: off, calls };
        },
      };
    }
    case "readv": {
      const buf = h.hold(allocPages(bs));
      const inIov = iovecs(spec, buf.address, bs);
      const scratch = iovecs(spec, buf.address, bs);
      const outIov = iovecs(spec, buf.address, bs);
      return {
        op: "writev",
        run(_seen, log) {
          let calls = 0;
          let off = 0;
          while (off < size) {
            const want = Math.min(bs, size - off);
            const t0 = performance.now();
            const n = readv(fd, want === bs ? inIov : split(scratch, buf.address, want));
            calls++;
            if (n === 0) throw shortFile(spec, off);
            const put = writev(sock, n === bs ? outIov : split(scratch, buf.address, n));
            calls++;
            if (put < n) calls += sendAll(sock, buf.address + put, n - put);
            log?.add(performance.now() - t0);
            off += n;
          }
          return { bytes: off, calls };
        },
      };
    }
    case "mmap": {
      const slot = mappingSlot(h);
      return {
        op: "write",
        finish: slot.finish,
        run(_seen, log) {
          const map = slot.map(fd, size);
          map.advise(MADV_SEQUENTIAL);
          let calls = 2;
          for (let off = 0; off < size; off += bs) {
            const t0 = performance.now();
            calls += sendAll(sock, map.address + off, Math.min(bs, size - off));
            log?.add(performance.now() - t0);
          }
          return { bytes: size, calls };
        },
      };
    }
    case "sendfile":
      return {
        op: "sendfile64",
        run(_seen, log) {
          let calls = 0;
          let off = 0;
          while (off < size) {
            const t0 = performance.now();
            const n = sendfile(sock, fd, off, Math.min(bs, size - off));
            calls++;
            if (n === 0) throw shortFile(spec, off);
            log?.add(performance.now() - t0);
            off += n;
          }
          return { bytes: off, calls };
        },
      };
    case "splice": {
      const p = h.hold(pipe());
      const cap = Math.min(resizePipe(p, bs), bs);
      const flags = SPLICE_F_MOVE | SPLICE_F_MORE;
      const pr = p.readEnd.fd;
      const pw = p.writeEnd.fd;
      return {
        op: "splice",
        run(_seen, log) {
          let calls = 0;
          let off = 0;
          while (off < size) {
            const t0 = performance.now();
            const n = splice(fd, off, pw, null, Math.min(cap, size - off), flags);
            calls++;
            if (n === 0) throw shortFile(spec, off);
            for (let out = 0; out < n; calls++) out += splice(pr, null, sock, null, n - out, flags);
            log?.add(performance.now() - t0);
            off += n;
          }
          return { bytes: off, calls };
        },
      };
    }
    case "io_uring":
    case "io_uring_splice":
      return serveUring(spec, fd, sock, h);
  }
  throw new RangeError(`Unknown serve path '${spec.path}'`);
}

/** Grows a pipe to hold a block; returns its capacity (fs.pipe-max-size may cap it). */
function resizePipe(p: Pipe, bytes: number): number {
  try {
    return p.resize(bytes);
  } catch (e: unknown) {
    if (!(e instanceof ErrnoError && (e.code === "EPERM" || e.code === "EINVAL"))) throw e;
    return p.sizeBytes;
  }
}

const ECANCELED = 125;

/**
 * io_uring serve: per round, up to N blocks as one linked chain, submitted
 * with one io_uring_enter that waits for all of it. `io_uring`: READ -> SEND
 * (MSG_WAITALL) per block (READ_FIXED with `fixedBuffers`); `io_uring_splice`: SPLICE file -> pipe ->
 * SPLICE pipe -> socket per block. Linking keeps the stream in order; a short
 * result breaks the chain, and the next round resumes at the first byte the
 * socket did not get.
 */
function serveUring(spec: PathSpec, fd: number, sock: number, h: Holder): Prepared {
  const { fileSize: size, blockSize: bs } = spec;
  const viaSplice = spec.path === "io_uring_splice";
  const qd = Math.max(1, Math.min(spec.queueDepth, Math.ceil(size / bs)));
  const ring = h.hold(new Ring(2 * qd));
  const p = viaSplice ? h.hold(pipe()) : null;
  const cap = p ? Math.min(resizePipe(p, bs), bs) : bs;
  const bufs = viaSplice ? null : h.hold(allocPages(qd * bs));
  const fixed = spec.fixedBuffers ?? false;
  // Fixed files: 0 the file, 1 the socket, 2 and 3 the pipe's ends.
  ring.registerFiles(p ? [fd, sock, p.readEnd.fd, p.writeEnd.fd] : [fd, sock]);
  if (bufs && fixed) {
    ring.registerBuffers(
      Array.from({ length: qd }, (_, k) => ({ buffer: bufs.address + k * bs, length: bs })),
    );
  }
  const flags = SPLICE_F_MOVE | SPLICE_F_MORE;
  const res = new Int32Array(2 * qd);
  return {
    op: viaSplice ? "io_uring SPLICE" : "io_uring SEND",
    run() {
      let calls = 0;
      let off = 0;
      while (off < size) {
        const lens: number[] = [];
        for (let o = off; o < size && lens.length < qd; o += cap) {
          lens.push(Math.min(cap, size - o));
        }
        let o = off;
        lens.forEach((len, j) => {
          const last = j === lens.length - 1;
          if (bufs) {
            ring.prepRead(0, {
              fixedFile: true,
              buffer: bufs.address + j * bs,
              length: len,
              offset: o,
              ...(fixed ? { bufferIndex: j } : {}),
              userData: 2 * j,
              link: true,
            });
            ring.prepSend(1, {
              fixedFile: true,
              buffer: bufs.address + j * bs,
              length: len,
              msgFlags: MSG_WAITALL | MSG_NOSIGNAL,
              userData: 2 * j + 1,
              link: !last,
            });
          } else {
            ring.prepSplice(3, {
              fixedFile: true,
              fdIn: 0,
              fixedFileIn: true,
              offsetIn: o,
              length: len,
              spliceFlags: flags,
              userData: 2 * j,
              link: true,
            });
            ring.prepSplice(1, {
              fixedFile: true,
              fdIn: 2,
              fixedFileIn: true,
              length: len,
              spliceFlags: flags,
              userData: 2 * j + 1,
              link: !last,
            });
          }
          o += len;
        });
        const want = 2 * lens.length;
        let got = 0;
        while (got < want) {
          ring.submit({ waitFor: want - got });
          calls++;
          got += ring.forEachCompletion((ud, r) => {
            res[ud] = r;
          });
        }
        // Walk the chain in order: how far did the socket get?
        let j = 0;
        for (; j < lens.length; j++) {
          const len = lens[j]!;
          const r = res[2 * j]!;
          const s = res[2 * j + 1]!;
          if (r === -ECANCELED) break;
          if (r < 0) throw new ErrnoError(viaSplice ? "io_uring SPLICE" : "io_uring READ", -r);
          if (r === 0) throw shortFile(spec, off);
          if (s < 0 && s !== -ECANCELED) {
            throw new ErrnoError(viaSplice ? "io_uring SPLICE" : "io_uring SEND", -s);
          }
          const sent = Math.max(s, 0);
          if (p && sent < r) {
            // Bytes left in the pipe go out before anything else.
            for (let out = sent; out < r; calls++) {
              out += splice(p.readEnd.fd, null, sock, null, r - out, flags);
            }
            off += r;
            break;
          }
          off += sent;
          if (sent < len) break;
        }
        if (j < lens.length && res[2 * j] === -ECANCELED && j === 0) {
          throw new Error(
            `io_uring canceled the first request of a chain (${errnoName(ECANCELED)})`,
          );
        }
      }
      return { bytes: off, calls };
    },
  };
}
