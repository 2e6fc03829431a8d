/**
 * The bpf backend's maps, as data and as decoding: {@linkcode mapSpecs} says
 * what each map is (the agent creates them: agent/trace/backends/_bpf_maps.ts),
 * and {@linkcode BpfMapReader} seeds the traced set, opens the gate and reads
 * them back into a {@linkcode Snapshot}, through whatever gives it lookup,
 * update and whole-map reads. The programs (programs.ts) are built against
 * their descriptors.
 * @module
 */

import { BPF_F_NO_PREALLOC, type BpfMap, type MapSpec, MapType } from "../../ffi/bpf/mod.ts";
import type { MapFds } from "./_emit.ts";
import {
  CAPACITY,
  COUNTER,
  ERRNO_KIND,
  FD_KEY,
  FD_VALUE,
  GATE,
  HIST_FAILED,
  HIST_OK,
  HIST_VALUE_BYTES,
  MAP_NAMES,
  OP,
  OP_VALUE_BYTES,
  SLOT,
  START,
  URING_OP_SLOTS,
  URING_START,
  URING_UD_KEY,
} from "./layout.ts";
import { countersFrom, opFrom, type PerCpuWords, perCpuWords, sumWord } from "./_read.ts";
import {
  emptyFdTotals,
  emptySnapshot,
  type FdTotals,
  type OpTotals,
  type Snapshot,
} from "../snapshot.ts";
import { ioUringOpName } from "../../schema/mod.ts";

/** A syscall the programs time. */
export interface TracedSyscall {
  /** Its number on this architecture. */
  nr: number;
  /** The kernel's tracepoint name (`pread64`). */
  name: string;
  /** A non-negative result is a byte count. */
  bytes: boolean;
  /** Its first argument is a file descriptor. */
  fd: boolean;
}

// Hash maps allocate on insert (BPF_F_NO_PREALLOC): preallocating 65536
// entries took 40-115 ms at start here, and inserts are rare (a fork, a new
// descriptor, an errno) except io_uring's, one per request.

/** What the map set is made for. */
export interface MapSetOptions {
  syscalls: readonly TracedSyscall[];
  /** Starts in task storage (else a hash keyed by thread id). */
  taskStorage: boolean;
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

// The per-CPU words of an entry's value: an entry of a kept read (readAll with
// reuse) views the same bytes read after read, and so keeps its words.
const wordsOf = new WeakMap<Uint8Array, PerCpuWords>();
function words(value: Uint8Array, valueBytes: number): PerCpuWords {
  if (value.byteOffset % 4 !== 0) return perCpuWords(value, valueBytes); // a copy: not kept
  let w = wordsOf.get(value);
  if (!w) wordsOf.set(value, w = perCpuWords(value, valueBytes));
  return w;
}

/** A little-endian u32 key, without a DataView. */
function u32Key(key: Uint8Array): number {
  return ((key[0] ?? 0) | (key[1] ?? 0) << 8 | (key[2] ?? 0) << 16 | (key[3] ?? 0) << 24) >>> 0;
}

/** The slot-table value of the syscall at index `slot`. */
export function slotValue(s: TracedSyscall, slot: number): number {
  return (slot + 1) | (s.bytes ? SLOT.bytesFlag : 0) | (s.fd ? SLOT.fdFlag : 0);
}

/** Per-op figures read last time, to skip histograms that did not change. */
interface OpCache {
  ended: number;
  errors: number;
  totals: OpTotals;
}

/** The bpf backend's maps, by role (layout.ts MAP_NAMES). */
export type MapName = keyof typeof MAP_NAMES;

/** What decoding needs of a map: its descriptor, lookups, updates and whole-map reads. */
export type MapAccess = Pick<BpfMap, "fd" | "lookup" | "update" | "readAll">;

/**
 * What each map of the bpf backend is: its MAP_CREATE attributes, named.
 * @param options the syscalls and where starts live
 * @returns the specs, by role
 * @throws RangeError on no syscalls or more than 64
 */
export function mapSpecs(options: MapSetOptions): Record<MapName, MapSpec> {
  const { syscalls, taskStorage } = options;
  if (syscalls.length === 0 || syscalls.length > 64) {
    throw new RangeError(`The bpf backend times 1 to 64 syscalls, not ${syscalls.length}`);
  }
  const n = syscalls.length;
  const spec: Record<MapName, MapSpec> = {
    gate: { type: MapType.ARRAY, keySize: 4, valueSize: GATE.bytes, maxEntries: 1 },
    targets: {
      type: MapType.HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: 4,
      valueSize: 4,
      maxEntries: CAPACITY.targets,
    },
    starts: taskStorage
      ? { type: MapType.TASK_STORAGE, keySize: 4, valueSize: START.bytes, maxEntries: 0 }
      : {
        type: MapType.HASH,
        flags: BPF_F_NO_PREALLOC,
        keySize: 4,
        valueSize: START.bytes,
        maxEntries: CAPACITY.startsByTid,
      },
    sysOps: { type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: OP_VALUE_BYTES, maxEntries: n },
    sysHist: {
      type: MapType.PERCPU_ARRAY,
      keySize: 4,
      valueSize: HIST_VALUE_BYTES,
      maxEntries: 2 * n,
    },
    errnos: {
      type: MapType.PERCPU_HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: 8,
      valueSize: 8,
      maxEntries: CAPACITY.errnos,
    },
    fds: {
      type: MapType.PERCPU_HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: FD_KEY.bytes,
      valueSize: FD_VALUE.words * 8,
      maxEntries: CAPACITY.fds,
    },
    counters: {
      type: MapType.PERCPU_ARRAY,
      keySize: 4,
      valueSize: 8,
      maxEntries: COUNTER.slots,
    },
    uringReqs: {
      type: MapType.HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: 8,
      valueSize: URING_START.bytes,
      maxEntries: CAPACITY.uringRequests,
    },
    uringUserData: {
      type: MapType.HASH,
      flags: BPF_F_NO_PREALLOC,
      keySize: URING_UD_KEY.bytes,
      valueSize: 8,
      maxEntries: CAPACITY.uringRequests,
    },
    uringOps: {
      type: MapType.PERCPU_ARRAY,
      keySize: 4,
      valueSize: OP_VALUE_BYTES,
      maxEntries: URING_OP_SLOTS,
    },
    uringHist: {
      type: MapType.PERCPU_ARRAY,
      keySize: 4,
      valueSize: HIST_VALUE_BYTES,
      maxEntries: 2 * URING_OP_SLOTS,
    },
  };
  for (const k of Object.keys(spec) as MapName[]) spec[k].name = MAP_NAMES[k];
  return spec;
}

/** The maps of one trace, decoded: the agent (_bpf_maps.ts BpfMapSet) creates and closes them. */
export class BpfMapReader {
  readonly #syscalls: readonly TracedSyscall[];
  readonly fds: MapFds;
  readonly #m: Record<MapName, MapAccess>;
  #sysCache = new Map<number, OpCache>();
  #uringCache = new Map<number, OpCache>();

  /**
   * @param maps the maps made from {@linkcode mapSpecs}
   * @param options what they were made for
   */
  constructor(maps: Record<MapName, MapAccess>, options: MapSetOptions) {
    this.#syscalls = options.syscalls;
    this.#m = maps;
    const m = maps;
    this.fds = {
      gate: m.gate.fd,
      targets: m.targets.fd,
      starts: m.starts.fd,
      startsInTaskStorage: options.taskStorage,
      sysOps: m.sysOps.fd,
      sysHist: m.sysHist.fd,
      errnos: m.errnos.fd,
      fds: m.fds.fd,
      counters: m.counters.fd,
      uringReqs: m.uringReqs.fd,
      uringUserData: m.uringUserData.fd,
      uringOps: m.uringOps.fd,
      uringHist: m.uringHist.fd,
    };
  }

  /**
   * Opens or closes the gate (layout.ts GATE): the counting programs count
   * only while it is open. The kernel sees the new value when this returns.
   * @param open true to open it, false to close it
   */
  setGate(open: boolean): void {
    const value = new Uint8Array(GATE.bytes);
    value[0] = open ? GATE.open : GATE.closed;
    this.#m.gate.update(u32(0), value);
  }

  /**
   * Puts processes in the traced set.
   * @param tgids thread group ids
   * @returns how many could not be added (the map is full)
   */
  addTargets(tgids: readonly number[]): number {
    let full = 0;
    for (const t of tgids) {
      try {
        this.#m.targets.update(u32(t), u32(1));
      } catch {
        full++;
      }
    }
    return full;
  }

  /** The thread group ids in the traced set now. */
  targets(): number[] {
    return this.#m.targets.readAll({ reuse: true }).entries.map((e) =>
      new DataView(e.key.buffer, e.key.byteOffset, 4).getUint32(0, true)
    );
  }

  /** Reads one op set (syscalls or io_uring) into totals by name. */
  #readOps(
    ops: MapAccess,
    hist: MapAccess,
    cache: Map<number, OpCache>,
    nameOf: (slot: number) => string,
    errnos: Map<number, Map<number, number>>,
  ): { byName: Map<string, OpTotals>; inFlight: number } {
    const byName = new Map<string, OpTotals>();
    let inFlight = 0;
    for (const e of ops.readAll({ reuse: true }).entries) {
      const slot = u32Key(e.key);
      const v = words(e.value, OP_VALUE_BYTES);
      const ended = sumWord(v, OP.count);
      if (
        ended === 0 && sumWord(v, OP.started) === 0 && sumWord(v, OP.untimed) === 0 &&
        sumWord(v, OP.restarts) === 0
      ) continue;
      const seen = cache.get(slot);
      const histOf = (which: number) => {
        const raw = hist.lookup(u32(slot * 2 + which));
        return raw ? perCpuWords(raw, HIST_VALUE_BYTES) : null; // a new copy each time
      };
      // Each histogram is read only when its calls changed (a lookup copies
      // HIST_VALUE_BYTES per CPU): fio's reads never fail, their failed one stays.
      const errors = sumWord(v, OP.errors);
      const okSame = seen !== undefined && seen.ended - seen.errors === ended - errors;
      const failedSame = seen !== undefined && seen.errors === errors;
      const r = opFrom(
        v,
        okSame ? null : histOf(HIST_OK),
        failedSame ? null : histOf(HIST_FAILED),
      );
      const t = r.totals;
      t.hist = okSame ? seen.totals.hist : r.okHist;
      t.error_hist = failedSame ? seen.totals.error_hist : r.errorHist;
      t.errnos = errnos.get(slot) ?? new Map();
      t.restarts = r.extras.restarts;
      if (ops === this.#m.uringOps) {
        t.async = sumWord(v, OP.async);
        t.multishot = r.extras.multishot;
        t.untimed = r.extras.untimed;
      }
      inFlight += r.extras.inFlight;
      cache.set(slot, { ended, errors, totals: t });
      byName.set(nameOf(slot), t);
    }
    return { byName, inFlight };
  }

  /** errnos by kind, then slot, then errno. */
  #readErrnos(): Map<number, Map<number, Map<number, number>>> {
    const out = new Map<number, Map<number, Map<number, number>>>();
    for (const e of this.#m.errnos.readAll({ reuse: true }).entries) {
      const key = new DataView(e.key.buffer, e.key.byteOffset, 8).getBigUint64(0, true);
      const kind = Number(key >> 48n);
      const slot = Number((key >> 32n) & 0xffffn);
      const errno = Number(key & 0xffffn);
      const n = sumWord(words(e.value, 8), 0);
      if (n === 0) continue;
      let bySlot = out.get(kind);
      if (!bySlot) out.set(kind, bySlot = new Map());
      let byErrno = bySlot.get(slot);
      if (!byErrno) bySlot.set(slot, byErrno = new Map());
      byErrno.set(errno, (byErrno.get(errno) ?? 0) + n);
    }
    return out;
  }

  #readFds(): Map<string, FdTotals> {
    const out = new Map<string, FdTotals>();
    for (const e of this.#m.fds.readAll({ reuse: true }).entries) {
      const k = new DataView(e.key.buffer, e.key.byteOffset, FD_KEY.bytes);
      const pid = k.getUint32(FD_KEY.tgid, true);
      const fd = k.getUint32(FD_KEY.fd, true);
      const slot = k.getUint32(FD_KEY.slot, true);
      const v = words(e.value, FD_VALUE.words * 8);
      const count = sumWord(v, FD_VALUE.count);
      if (count === 0) continue;
      const key = `${pid}:${fd}`;
      let t = out.get(key);
      if (!t) out.set(key, t = emptyFdTotals(pid, fd));
      t.count += count;
      t.errors += sumWord(v, FD_VALUE.errors);
      const bytes = sumWord(v, FD_VALUE.bytes);
      t.bytes += bytes;
      t.total_ns += sumWord(v, FD_VALUE.totalNs);
      const name = this.#syscalls[slot]?.name ?? `slot_${slot}`;
      t.calls.set(name, (t.calls.get(name) ?? 0) + count);
      // The map is keyed by syscall too: bytes by syscall, as the other
      // backends give them (the copy split reads sendfile's and vmsplice's).
      if (bytes > 0) t.callBytes.set(name, (t.callBytes.get(name) ?? 0) + bytes);
    }
    return out;
  }

  /**
   * Reads every map into a cumulative snapshot.
   * @returns the snapshot (recursion misses are the programs' business: 0 here)
   */
  read(): Snapshot {
    const s = emptySnapshot();
    const errnos = this.#readErrnos();
    const sys = this.#readOps(
      this.#m.sysOps,
      this.#m.sysHist,
      this.#sysCache,
      (slot) => this.#syscalls[slot]?.name ?? `slot_${slot}`,
      errnos.get(ERRNO_KIND.syscall) ?? new Map(),
    );
    const uring = this.#readOps(
      this.#m.uringOps,
      this.#m.uringHist,
      this.#uringCache,
      ioUringOpName,
      errnos.get(ERRNO_KIND.uring) ?? new Map(),
    );
    s.syscalls = sys.byName;
    s.io_uring = uring.byName;
    s.inFlight = sys.inFlight + uring.inFlight;
    s.fds = this.#readFds();
    const perIndex = new Map<number, number>();
    for (const e of this.#m.counters.readAll({ reuse: true }).entries) {
      perIndex.set(u32Key(e.key), sumWord(words(e.value, 8), 0));
    }
    const c = countersFrom((i) => perIndex.get(i) ?? 0);
    s.faults = c.faults;
    s.voluntary = c.voluntary;
    s.involuntary = c.involuntary;
    s.tlb = c.tlb;
    s.compatCalls = c.compat;
    s.mapFull = c.mapFull;
    return s;
  }
}
