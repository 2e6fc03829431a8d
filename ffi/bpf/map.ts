/**
 * BPF maps as owned resources: `BpfMap` creates one, owns its descriptor, and
 * reads and writes it from user space (single keys, whole-map reads with
 * BPF_MAP_LOOKUP_BATCH or key by key where batch lookup is missing, per-CPU
 * values).
 * @module
 */

import { Fd } from "../fd.ts";
import { loadTaskStorageBtf } from "./btf.ts";
import {
  BPF_ANY,
  BPF_F_NO_PREALLOC,
  mapCreate,
  mapDelete,
  mapGetNextKey,
  type MapInfo,
  mapInfo,
  mapLookup,
  mapLookupBatch,
  MapType,
  mapUpdate,
  pinned,
} from "./sys.ts";

/** The shape of a map to create. */
export interface MapSpec {
  /** A sys.ts `MapType`. */
  type: number;
  /** Key bytes (4 for arrays and task storage). */
  keySize: number;
  /** Value bytes (per CPU, for per-CPU maps). */
  valueSize: number;
  /** Entries (0 for task storage). */
  maxEntries: number;
  /** `map_flags`. @default 0 (task storage: BPF_F_NO_PREALLOC) */
  flags?: number;
  /** Object name, 15 bytes at most (letters, digits, `_`, `.`). @default "" */
  name?: string;
  /** A loaded BTF with the key and value types (task storage needs one; made for you). */
  btf?: { fd: number; keyTypeId: number; valueTypeId: number };
}

/** One entry of a whole-map read: views into the read's buffers. */
export interface MapEntry {
  /** The key's bytes. */
  key: Uint8Array;
  /** The value's bytes (per-CPU maps: every CPU's value, each rounded up to 8 bytes). */
  value: Uint8Array;
}

/** Options of {@linkcode BpfMap.readAll}. */
export interface ReadAllOptions {
  /** Use BPF_MAP_LOOKUP_BATCH when the kernel has it; false forces key by key. @default true */
  batch?: boolean;
  /**
   * Read into buffers this map keeps: no allocation per read (a 64 KiB
   * buffer costs more than the batch syscall that fills it), but the entries
   * are views that the map's next `readAll({ reuse: true })` overwrites.
   * For a reader that turns entries into numbers before the next read.
   * @default false
   */
  reuse?: boolean;
}

/** A whole-map read. */
export interface MapDump {
  /** The entries. */
  entries: MapEntry[];
  /** True when BPF_MAP_LOOKUP_BATCH read them; false when read key by key. */
  batched: boolean;
}

let cpus: number | null = null;

/**
 * The number of possible CPUs (/sys/devices/system/cpu/possible), which is
 * how many values a per-CPU map holds per key.
 * @returns the count
 * @example
 * ```ts
 * import { possibleCpus } from "./map.ts";
 * console.assert(possibleCpus() >= 1);
 * ```
 */
export function possibleCpus(): number {
  if (cpus !== null) return cpus;
  cpus = parseCpuList(Deno.readTextFileSync("/sys/devices/system/cpu/possible"));
  return cpus;
}

/**
 * Counts the CPUs in a kernel CPU list (`0-3,8-11`): the highest plus one,
 * as per-CPU maps size their values.
 * @param text the list
 * @returns the count
 * @throws Error when the text is not a CPU list
 */
export function parseCpuList(text: string): number {
  let max = -1;
  for (const part of text.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`Cannot read the CPU list "${text.trim()}"`);
    max = Math.max(max, Number(m[2] ?? m[1]));
  }
  return max + 1;
}

/**
 * Whether a map type keeps one value per CPU.
 * @param type a sys.ts `MapType`
 * @returns true for the per-CPU types
 */
export function isPerCpu(type: number): boolean {
  return type === MapType.PERCPU_ARRAY || type === MapType.PERCPU_HASH ||
    type === MapType.LRU_PERCPU_HASH;
}

/**
 * The bytes one key's value takes in user space: per-CPU maps hold one value
 * per possible CPU, each rounded up to 8 bytes.
 * @param type a sys.ts `MapType`
 * @param valueSize the map's value size
 * @returns the buffer size a lookup needs
 */
export function valueBufferSize(type: number, valueSize: number): number {
  return isPerCpu(type) ? Math.ceil(valueSize / 8) * 8 * possibleCpus() : valueSize;
}

/**
 * Folds a per-CPU value of u64 slots into one slot per position: the sum, or
 * the maximum, over the CPUs.
 * @param value a per-CPU value as a lookup returns it
 * @param valueSize the map's value size (bytes per CPU before rounding)
 * @param fold "sum" for counters, "max" for maxima
 * @returns one number per u64 slot
 * @example
 * ```ts
 * import { foldPerCpuU64, possibleCpus } from "./map.ts";
 * const v = new BigUint64Array(possibleCpus()).fill(2n);
 * console.assert(foldPerCpuU64(new Uint8Array(v.buffer), 8, "sum")[0] === 2 * possibleCpus());
 * ```
 */
export function foldPerCpuU64(
  value: Uint8Array,
  valueSize: number,
  fold: "sum" | "max" = "sum",
): number[] {
  const stride = Math.ceil(valueSize / 8) * 8;
  const n = Math.floor(valueSize / 8);
  const out = new Array<number>(n).fill(0);
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  for (let cpu = 0; cpu * stride < value.byteLength; cpu++) {
    for (let i = 0; i < n; i++) {
      const at = cpu * stride + i * 8; // two halves: no BigInt on this once-a-second path
      const x = v.getUint32(at, true) + v.getUint32(at + 4, true) * 0x1_0000_0000;
      out[i] = fold === "sum" ? out[i]! + x : Math.max(out[i]!, x);
    }
  }
  return out;
}

/**
 * One CPU's part of a per-CPU value.
 * @param value a per-CPU value as a lookup returns it
 * @param valueSize the map's value size
 * @param cpu the CPU
 * @returns a view of that CPU's `valueSize` bytes
 */
export function perCpuValue(value: Uint8Array, valueSize: number, cpu: number): Uint8Array {
  const stride = Math.ceil(valueSize / 8) * 8;
  return value.subarray(cpu * stride, cpu * stride + valueSize);
}

/** A BPF map, owning its descriptor; `close()` or `using` releases it. */
export class BpfMap implements Disposable {
  #fd: Fd;
  #info: MapInfo | null = null;
  /** The map type (sys.ts `MapType`). */
  readonly type: number;
  /** Key bytes. */
  readonly keySize: number;
  /** Value bytes (per CPU for per-CPU maps). */
  readonly valueSize: number;
  /** Entries. */
  readonly maxEntries: number;
  /** The object name. */
  readonly name: string;
  #key: Uint8Array;
  #value: Uint8Array;
  #valueBytes: number;
  #lastCount = 0;

  /**
   * Takes ownership of a map descriptor.
   * @param fd the descriptor
   * @param spec the shape it was created with
   */
  constructor(fd: number, spec: MapSpec) {
    this.#fd = new Fd(fd, spec.name ? `the BPF map ${spec.name}` : "a BPF map");
    this.type = spec.type;
    this.keySize = spec.keySize;
    this.valueSize = spec.valueSize;
    this.maxEntries = spec.maxEntries;
    this.name = spec.name ?? "";
    this.#key = pinned(spec.keySize);
    this.#valueBytes = valueBufferSize(spec.type, spec.valueSize);
    this.#value = pinned(this.#valueBytes);
  }

  /**
   * Creates a map. A TASK_STORAGE map gets the BTF it needs (int key, a struct
   * value) and BPF_F_NO_PREALLOC unless `spec` gives its own.
   * @param spec the map's shape
   * @returns the map
   * @throws ErrnoError naming the map, e.g. `bpf(BPF_MAP_CREATE) failed: EINVAL (...): map "x"`
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * import { MapType } from "./sys.ts";
   * using m = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1 });
   * console.assert(m.fd >= 0);
   * ```
   */
  static create(spec: MapSpec): BpfMap {
    if (spec.type === MapType.TASK_STORAGE && !spec.btf) {
      using btf = loadTaskStorageBtf(spec.valueSize);
      const full: MapSpec = {
        ...spec,
        flags: spec.flags ?? BPF_F_NO_PREALLOC,
        btf: { fd: btf.fd.fd, keyTypeId: btf.keyTypeId, valueTypeId: btf.valueTypeId },
      };
      return new BpfMap(mapCreate(full), full);
    }
    return new BpfMap(mapCreate(spec), spec);
  }

  /** The descriptor; throws once closed. */
  get fd(): number {
    return this.#fd.fd;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#fd.closed;
  }

  /** The kernel's id and view of the map (read once). */
  info(): MapInfo {
    this.#info ??= mapInfo(this.fd);
    return this.#info;
  }

  /** Bytes a value takes in user space (per-CPU: every CPU's). */
  get valueBufferSize(): number {
    return this.#valueBytes;
  }

  #keyBuf(key: Uint8Array): Uint8Array {
    if (key.byteLength !== this.keySize) {
      throw new RangeError(
        `Map "${this.name}": key of ${key.byteLength} bytes, not ${this.keySize}`,
      );
    }
    this.#key.set(key);
    return this.#key;
  }

  /**
   * The value of a key.
   * @param key the key's bytes
   * @returns a copy of the value (per-CPU: every CPU's), or null when absent
   * @throws ErrnoError
   */
  lookup(key: Uint8Array): Uint8Array | null {
    const k = this.#keyBuf(key);
    if (!mapLookup(this.fd, k, this.#value)) return null;
    return this.#value.slice(0, this.valueBufferSize);
  }

  /**
   * Sets a key's value.
   * @param key the key's bytes
   * @param value the value's bytes (per-CPU: every CPU's, {@linkcode valueBufferSize})
   * @param flags sys.ts BPF_ANY, BPF_NOEXIST or BPF_EXIST
   * @throws ErrnoError (E2BIG when the map is full, EEXIST/ENOENT per the flags)
   */
  update(key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
    const k = this.#keyBuf(key);
    if (value.byteLength !== this.valueBufferSize) {
      throw new RangeError(
        `Map "${this.name}": value of ${value.byteLength} bytes, not ${this.valueBufferSize}`,
      );
    }
    this.#value.set(value);
    mapUpdate(this.fd, k, this.#value, flags);
  }

  /**
   * Removes a key.
   * @param key the key's bytes
   * @returns true if it was there
   * @throws ErrnoError (arrays: EINVAL, their entries cannot be deleted)
   */
  delete(key: Uint8Array): boolean {
    return mapDelete(this.fd, this.#keyBuf(key));
  }

  /**
   * Every entry: with BPF_MAP_LOOKUP_BATCH where the kernel and map type have
   * it, else key by key (arrays by index, hashes with GET_NEXT_KEY).
   * @param options `batch: false` forces the key-by-key read
   * @returns the entries and how they were read
   * @example
   * ```ts
   * import { BpfMap } from "./map.ts";
   * import { MapType } from "./sys.ts";
   * using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
   * m.update(new Uint8Array([1, 0, 0, 0]), new Uint8Array([42, 0, 0, 0]));
   * const { entries } = m.readAll();
   * console.assert(entries.length === 1 && entries[0]!.value[0] === 42);
   * ```
   * @throws TypeError for task storage maps (no key walk: look tasks up by pidfd)
   * @throws ErrnoError
   */
  readAll(options: ReadAllOptions = {}): MapDump {
    const { batch = true, reuse = false } = options;
    if (this.type === MapType.TASK_STORAGE) {
      throw new TypeError(
        `Cannot read all of the task storage map ${this.name}: look tasks up by pidfd`,
      );
    }
    if (batch) {
      const dump = this.#readBatch(reuse);
      if (dump) return dump;
    }
    return { entries: this.#readPerKey(), batched: false };
  }

  /** Batch buffers kept for `reuse`, one pair per call of a read. */
  #scratch: { keys: Uint8Array; values: Uint8Array }[] = [];
  /**
   * Entries kept for `reuse`: the same views of the same buffers, read after
   * read (a running trace reads ~150 entries a second; made anew each time,
   * they were most of what it allocated).
   */
  #keptEntries: MapEntry[] = [];
  #keptTokens: Uint8Array[] | null = null;

  /** Entry `at` of a read: a kept one when it views the same bytes, else a new one. */
  #entry(
    at: number,
    key: Uint8Array,
    keyAt: number,
    value: Uint8Array,
    valueAt: number,
    reuse: boolean,
  ): MapEntry {
    const stride = this.valueBufferSize;
    const kept = reuse ? this.#keptEntries[at] : undefined;
    if (
      kept && kept.key.buffer === key.buffer && kept.key.byteOffset === key.byteOffset + keyAt &&
      kept.value.buffer === value.buffer && kept.value.byteOffset === value.byteOffset + valueAt
    ) return kept;
    const made = {
      key: key.subarray(keyAt, keyAt + this.keySize),
      value: value.subarray(valueAt, valueAt + stride),
    };
    if (reuse) this.#keptEntries[at] = made;
    return made;
  }

  #buffers(turn: number, chunk: number, reuse: boolean): { keys: Uint8Array; values: Uint8Array } {
    const keyBytes = chunk * this.keySize, valueBytes = chunk * this.valueBufferSize;
    const kept = reuse ? this.#scratch[turn] : undefined;
    if (kept && kept.keys.byteLength >= keyBytes && kept.values.byteLength >= valueBytes) {
      return { keys: kept.keys.subarray(0, keyBytes), values: kept.values.subarray(0, valueBytes) };
    }
    const made = { keys: pinned(keyBytes), values: pinned(valueBytes) };
    if (reuse) this.#scratch[turn] = made;
    return made;
  }

  #readBatch(reuse: boolean): MapDump | null {
    const stride = this.valueBufferSize;
    // Arrays return every index: one call. Hashes start from the last read's size
    // (a sparse 65536-entry map must not cost megabytes of zeroed buffers a second)
    // and grow while calls come back full.
    const isArray = this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY;
    const most = Math.max(1, Math.min(this.maxEntries, Math.floor((4 << 20) / stride), 65536));
    let chunk = isArray
      ? most
      : Math.min(most, 2 ** Math.ceil(Math.log2(Math.max(64, this.#lastCount + 1))));
    const entries: MapEntry[] = [];
    const tokens = (reuse ? this.#keptTokens : null) ??
      [pinned(Math.max(8, this.keySize)), pinned(Math.max(8, this.keySize))];
    if (reuse) this.#keptTokens = tokens;
    let inBatch: Uint8Array | null = null;
    for (let turn = 0;; turn++) {
      const { keys, values } = this.#buffers(turn, chunk, reuse);
      const outBatch = tokens[turn % 2]!;
      let r: { count: number; done: boolean } | null;
      try {
        r = mapLookupBatch(this.fd, { inBatch, outBatch, keys, values, count: chunk });
      } catch (e: unknown) {
        // A hash bucket bigger than the chunk: retry the same step with more room.
        if (e instanceof Error && "code" in e && e.code === "ENOSPC" && chunk < 1 << 20) {
          chunk *= 4;
          turn--;
          continue;
        }
        throw e;
      }
      if (r === null) return null;
      for (let i = 0; i < r.count; i++) {
        entries.push(
          this.#entry(entries.length, keys, i * this.keySize, values, i * stride, reuse),
        );
      }
      if (r.done) {
        this.#lastCount = entries.length;
        return { entries, batched: true };
      }
      if (r.count === chunk) chunk = Math.min(most, chunk * 4);
      inBatch = outBatch;
    }
  }

  #readPerKey(): MapEntry[] {
    const entries: MapEntry[] = [];
    if (this.type === MapType.ARRAY || this.type === MapType.PERCPU_ARRAY) {
      const key = new Uint8Array(4);
      const view = new DataView(key.buffer);
      for (let i = 0; i < this.maxEntries; i++) {
        view.setUint32(0, i, true);
        const value = this.lookup(key);
        if (value) entries.push({ key: key.slice(), value });
      }
      return entries;
    }
    let prev: Uint8Array | null = null;
    for (;;) {
      const next = pinned(this.keySize).subarray(0, this.keySize);
      if (!mapGetNextKey(this.fd, prev, next)) return entries;
      const value = this.lookup(next);
      if (value) entries.push({ key: next, value }); // deleted meanwhile: skipped
      prev = next;
    }
  }

  /** Closes the descriptor; a second call does nothing. */
  close(): void {
    this.#fd.close();
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }
}
