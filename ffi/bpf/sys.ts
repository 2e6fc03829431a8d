/**
 * The raw bpf(2) layer: the kernel's constants, the `union bpf_attr` layouts
 * (offsets from include/uapi/linux/bpf.h) and one function per command. Every
 * function returns plain numbers (descriptors, ids) or throws ErrnoError;
 * owning those descriptors is the business of map.ts, program.ts and link.ts.
 * @module
 */

import { ErrnoError, lastErrno } from "../errno.ts";
import { address, libc } from "../libc.ts";

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

/** bpf(2) commands (`enum bpf_cmd`). */
export const Cmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  PROG_GET_NEXT_ID: 11,
  MAP_GET_NEXT_ID: 12,
  PROG_GET_FD_BY_ID: 13,
  MAP_GET_FD_BY_ID: 14,
  OBJ_GET_INFO_BY_FD: 15,
  RAW_TRACEPOINT_OPEN: 17,
  BTF_LOAD: 18,
  MAP_LOOKUP_BATCH: 24,
  LINK_CREATE: 28,
  LINK_GET_FD_BY_ID: 30,
  LINK_GET_NEXT_ID: 31,
  ENABLE_STATS: 32,
  LINK_DETACH: 34,
} as const;

/** Map types (`enum bpf_map_type`). */
export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  RINGBUF: 27,
  TASK_STORAGE: 29,
} as const;

/** Program types (`enum bpf_prog_type`). */
export const ProgType = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  TRACEPOINT: 5,
  PERF_EVENT: 7,
  RAW_TRACEPOINT: 17,
  TRACING: 26,
  LSM: 29,
} as const;

/** Attach types (`enum bpf_attach_type`), the ones tracing uses. */
export const AttachType = {
  TRACE_RAW_TP: 23,
  TRACE_FENTRY: 24,
  TRACE_FEXIT: 25,
  MODIFY_RETURN: 26,
  LSM_MAC: 27,
  PERF_EVENT: 41,
} as const;

/** Helper function ids (`enum bpf_func_id`) our programs call. */
export const Helper = {
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  get_smp_processor_id: 8,
  get_current_pid_tgid: 14,
  get_current_comm: 16,
  get_current_task: 35,
  get_current_cgroup_id: 80,
  get_current_ancestor_cgroup_id: 123,
  probe_read_user: 112,
  probe_read_kernel: 113,
  probe_read_kernel_str: 115,
  ktime_get_boot_ns: 125,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
  task_storage_get: 156,
  task_storage_delete: 157,
  get_current_task_btf: 158,
} as const;

/** `map_flags` of MAP_CREATE: do not preallocate (required by task storage). */
export const BPF_F_NO_PREALLOC = 1;
/** MAP_UPDATE_ELEM flags: create or replace. */
export const BPF_ANY = 0;
/** Create only; EEXIST if the key is there. */
export const BPF_NOEXIST = 1;
/** Replace only; ENOENT if the key is missing. */
export const BPF_EXIST = 2;
/** `bpf_task_storage_get` flag: create the task's value when missing. */
export const BPF_LOCAL_STORAGE_GET_F_CREATE = 1;
/** ENABLE_STATS type: count run_time_ns / run_cnt for every program. */
export const BPF_STATS_RUN_TIME = 0;
/** Object names (maps, programs) are at most 15 bytes and a NUL. */
export const BPF_OBJ_NAME_LEN = 16;

const ENOENT = 2;
const EAGAIN = 11;
const EINVAL = 22;
const ENOSPC = 28;
const ENOSYS = 38;
const EOPNOTSUPP = 95;
const ENOTSUPP = 524; // kernel-internal, leaks to user space from some map ops

// ---------------------------------------------------------------------------
// The syscall
// ---------------------------------------------------------------------------

interface SyscallNumbers {
  bpf: number;
  perf_event_open: number;
  ioctl: number;
  pidfd_open: number;
  prlimit64: number;
}

const SYSCALLS: Record<string, SyscallNumbers> = {
  x86_64: { bpf: 321, perf_event_open: 298, ioctl: 16, pidfd_open: 434, prlimit64: 302 },
  aarch64: { bpf: 280, perf_event_open: 241, ioctl: 29, pidfd_open: 434, prlimit64: 261 },
};

/**
 * The syscall numbers of this machine's architecture.
 * @returns bpf, perf_event_open, ioctl, pidfd_open and prlimit64 numbers
 * @throws Error on an architecture ioscope does not know
 */
export function syscallNumbers(): SyscallNumbers {
  const n = SYSCALLS[Deno.build.arch];
  if (!n) throw new Error(`Cannot call bpf(2): unknown architecture ${Deno.build.arch}`);
  return n;
}

/**
 * A zeroed byte buffer whose memory lives outside V8's heap, so that its
 * address can be written into an attr and stays valid during the call.
 * @param size bytes (at least 8 are allocated)
 * @returns the buffer
 */
export function pinned(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(Math.max(8, size)));
}

/**
 * The address of a buffer's first byte, for a `__aligned_u64` pointer field.
 * @param buf the buffer, or null for a NULL pointer
 * @returns the address as a number
 */
export function addressOf(buf: Uint8Array | null): number {
  if (buf === null) return 0;
  // A backing store outside V8's heap never moves: its address is looked up once.
  const backing = buf.buffer as ArrayBuffer;
  let base = addresses.get(backing);
  if (base === undefined) {
    base = address(Deno.UnsafePointer.of(new Uint8Array(backing)));
    addresses.set(backing, base);
  }
  return base + buf.byteOffset;
}

const addresses = new WeakMap<ArrayBuffer, number>();

/**
 * A NUL-terminated copy of a string.
 * @param s the string
 * @returns its UTF-8 bytes and a NUL
 */
export function cString(s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  const out = pinned(b.length + 1);
  out.set(b);
  return out;
}

/**
 * Calls libc's syscall() with up to six integer arguments.
 * @param nr the syscall number
 * @param args its arguments (pointers as addresses)
 * @returns the raw return value (-1 and errno on failure)
 */
function syscall(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0): number {
  return Number(
    libc().syscall(BigInt(nr), BigInt(a), BigInt(b), BigInt(c), BigInt(d), BigInt(e), BigInt(f)),
  );
}

/** The name of a bpf(2) command, for errors: `BPF_PROG_LOAD`. */
function cmdName(cmd: number): string {
  for (const [k, v] of Object.entries(Cmd)) if (v === cmd) return `bpf(BPF_${k})`;
  return `bpf(${cmd})`;
}

/**
 * Calls bpf(2) and returns its result, or the errno as a negative number.
 *
 * The errno is read by a second FFI call, once the first has returned to the
 * runtime, and the runtime may run code of its own between the two: the
 * errno can be another call's (Dart's FFI documents the same hazard,
 * dart-lang/sdk#38832). So the commands that only read ask the kernel a
 * second time when a call fails otherwise than ENOENT (their usual "no
 * more"), and take that answer: {@linkcode askedAgain}.
 * @param cmd a {@linkcode Cmd}
 * @param attr the attr bytes (the kernel reads and may write them)
 * @returns the result (>= 0) or `-errno`
 */
export function bpfRaw(cmd: number, attr: Uint8Array): number {
  const ret = syscall(syscallNumbers().bpf, cmd, addressOf(attr), attr.byteLength);
  return ret < 0 ? -lastErrno() : ret;
}

/**
 * Whether a read command's result is to be asked again (see
 * {@linkcode bpfRaw}): it failed, and not with ENOENT. A suite's run once saw
 * a batch lookup of a per-CPU array fail with EAGAIN at a trace's first read,
 * where the call should have ended with ENOENT; no EAGAIN was found in the
 * kernel's lookup paths (kernel/bpf/syscall.c's generic batch, hashtab.c).
 * @param ret what {@linkcode bpfRaw} returned
 * @returns true to call again with the same arguments
 */
function askedAgain(ret: number): boolean {
  return ret < 0 && ret !== -ENOENT;
}

/**
 * Calls bpf(2), throwing ErrnoError on failure.
 * @param cmd a {@linkcode Cmd}
 * @param attr the attr bytes
 * @param detail what was being done, for the error
 * @returns the result: a new descriptor, or 0
 * @throws ErrnoError naming the command, e.g. `bpf(BPF_MAP_CREATE) failed: EPERM (...)`
 */
export function bpf(cmd: number, attr: Uint8Array, detail?: string): number {
  const ret = bpfRaw(cmd, attr);
  if (ret < 0) throw bpfError(cmd, -ret, detail);
  return ret;
}

/**
 * The error of a failed bpf(2) command. The kernel-internal ENOTSUPP (524),
 * which some commands return, is named, as libc has no name for it.
 * @param cmd the command
 * @param errno the positive errno
 * @param detail what was being done
 * @returns the error to throw
 */
function bpfError(cmd: number, errno: number, detail?: string): ErrnoError {
  if (errno !== ENOTSUPP) return new ErrnoError(cmdName(cmd), errno, detail);
  const what = "ENOTSUPP: the kernel does not support this here";
  return new ErrnoError(cmdName(cmd), errno, detail ? `${detail} (${what})` : what);
}

/** One field of a kernel struct: its byte offset and size (16: a NUL-padded object name). */
export type AttrField = readonly [offset: number, size: 4 | 8 | 16];

/** A kernel struct's layout: its size and its fields by their uapi names (a name field is a char array: any offset). */
export interface AttrLayout<F extends string = string> {
  readonly size: number;
  readonly fields: Readonly<Record<F, AttrField>>;
}

/**
 * Declares a layout, checking that its fields fit and do not overlap.
 * @param size the struct's size in bytes (what the kernel is told)
 * @param fields each field's offset and size
 * @returns the layout
 * @throws RangeError on a field past the end, misaligned, or overlapping another
 */
export function attrLayout<const F extends Record<string, AttrField>>(
  size: number,
  fields: F,
): AttrLayout<keyof F & string> {
  const placed = Object.entries(fields).sort((a, b) => a[1][0] - b[1][0]);
  let end = 0;
  let last = "";
  for (const [name, [off, len]] of placed) {
    if (off < end) throw new RangeError(`attr field ${name} at ${off} overlaps ${last}`);
    if (off % (len === 16 ? 1 : len) !== 0) {
      throw new RangeError(`attr field ${name} at ${off} is misaligned`);
    }
    if (off + len > size) throw new RangeError(`attr field ${name} ends past the ${size} bytes`);
    end = off + len;
    last = name;
  }
  return { size, fields };
}

// The `union bpf_attr` members and `perf_event_attr` as ioscope uses them, by
// their names in include/uapi/linux/bpf.h and perf_event.h (fields we never
// set are left out; the kernel reads them as 0). Sizes are what we tell the
// kernel: enough for the last field we set.

/** BPF_MAP_CREATE. */
export const MAP_CREATE_ATTR = attrLayout(80, {
  map_type: [0, 4],
  key_size: [4, 4],
  value_size: [8, 4],
  max_entries: [12, 4],
  map_flags: [16, 4],
  map_name: [28, 16],
  btf_fd: [48, 4],
  btf_key_type_id: [52, 4],
  btf_value_type_id: [56, 4],
});
/** BPF_MAP_LOOKUP_ELEM, UPDATE_ELEM, DELETE_ELEM, GET_NEXT_KEY (`next_key` is `value`). */
export const MAP_ELEM_ATTR = attrLayout(32, {
  map_fd: [0, 4],
  key: [8, 8],
  value: [16, 8],
  flags: [24, 8],
});
/** BPF_MAP_LOOKUP_BATCH. */
export const MAP_BATCH_ATTR = attrLayout(56, {
  in_batch: [0, 8],
  out_batch: [8, 8],
  keys: [16, 8],
  values: [24, 8],
  count: [32, 4],
  map_fd: [36, 4],
  elem_flags: [40, 8],
  flags: [48, 8],
});
/** BPF_PROG_LOAD. */
export const PROG_LOAD_ATTR = attrLayout(144, {
  prog_type: [0, 4],
  insn_cnt: [4, 4],
  insns: [8, 8],
  license: [16, 8],
  log_level: [24, 4],
  log_size: [28, 4],
  log_buf: [32, 8],
  prog_flags: [44, 4],
  prog_name: [48, 16],
  expected_attach_type: [68, 4],
  attach_btf_id: [108, 4],
  attach_btf_obj_fd: [112, 4],
});
/** BPF_OBJ_GET_INFO_BY_FD. */
export const OBJ_INFO_ATTR = attrLayout(16, { bpf_fd: [0, 4], info_len: [4, 4], info: [8, 8] });
/** BPF_*_GET_NEXT_ID (`start_id`) and BPF_*_GET_FD_BY_ID (`prog_id`, the same place). */
export const GET_ID_ATTR = attrLayout(12, {
  start_id: [0, 4],
  next_id: [4, 4],
  open_flags: [8, 4],
});
/** BPF_ENABLE_STATS. */
export const ENABLE_STATS_ATTR = attrLayout(8, { type: [0, 4] });
/** BPF_BTF_LOAD. */
export const BTF_LOAD_ATTR = attrLayout(40, {
  btf: [0, 8],
  btf_log_buf: [8, 8],
  btf_size: [16, 4],
  btf_log_size: [20, 4],
  btf_log_level: [24, 4],
});
/** BPF_RAW_TRACEPOINT_OPEN. */
export const RAW_TRACEPOINT_OPEN_ATTR = attrLayout(16, { name: [0, 8], prog_fd: [8, 4] });
/** BPF_LINK_CREATE. */
export const LINK_CREATE_ATTR = attrLayout(48, {
  prog_fd: [0, 4],
  target_fd: [4, 4],
  attach_type: [8, 4],
  flags: [12, 4],
  target_btf_id: [16, 4],
});
/** perf_event_open(2)'s `struct perf_event_attr` (PERF_ATTR_SIZE_VER7 and below: 128 bytes). */
export const PERF_EVENT_ATTR = attrLayout(128, {
  type: [0, 4],
  size: [4, 4],
  config: [8, 8],
  sample_period: [16, 8],
  wakeup_events: [48, 4],
});

/** A little-endian writer over an attr buffer. */
class Attr {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = pinned(size);
    this.view = new DataView(this.bytes.buffer);
  }
  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  u64(off: number, v: number | bigint): this {
    if (typeof v === "bigint") this.view.setBigUint64(off, v, true);
    else { // addresses and flags: below 2^53
      this.view.setUint32(off, v % 0x1_0000_0000, true);
      this.view.setUint32(off + 4, Math.floor(v / 0x1_0000_0000), true);
    }
    return this;
  }
  /** Zeroes the first `size` bytes, for a reused attr. */
  clear(size: number): this {
    this.bytes.fill(0, 0, size);
    return this;
  }
  /**
   * Writes fields of a layout by name (16-byte fields take object names).
   * @param layout the struct's layout
   * @param values the fields to set; the others keep their bytes
   * @returns this
   */
  put<F extends string>(
    layout: AttrLayout<F>,
    values: Partial<Record<F, number | bigint | string>>,
  ): this {
    for (const [name, v] of Object.entries(values) as [F, number | bigint | string][]) {
      const [off, size] = layout.fields[name];
      if (typeof v === "string") this.name(off, v);
      else if (size === 4) this.u32(off, Number(v));
      else this.u64(off, v);
    }
    return this;
  }
  /**
   * Reads a u32 field.
   * @param field the field
   * @returns its value
   */
  getU32(field: AttrField): number {
    return this.view.getUint32(field[0], true);
  }
  name(off: number, s: string): this {
    const b = new TextEncoder().encode(s);
    if (b.length >= BPF_OBJ_NAME_LEN) {
      throw new RangeError(`BPF object name "${s}" is longer than ${BPF_OBJ_NAME_LEN - 1} bytes`);
    }
    if (!/^[A-Za-z0-9_.]*$/.test(s)) {
      throw new RangeError(`BPF object name "${s}" may hold only letters, digits, _ and .`);
    }
    this.bytes.set(b, off);
    return this;
  }
}

// ---------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------

/** What MAP_CREATE needs. */
export interface MapCreateAttr {
  /** A {@linkcode MapType}. */
  type: number;
  /** Key bytes (4 for arrays and task storage). */
  keySize: number;
  /** Value bytes, per CPU for per-CPU maps. */
  valueSize: number;
  /** Entries (0 for task storage). */
  maxEntries: number;
  /** `map_flags`. @default 0 */
  flags?: number;
  /** Object name, 15 bytes at most. @default "" */
  name?: string;
  /** A loaded BTF object's fd and the key and value type ids in it. */
  btf?: { fd: number; keyTypeId: number; valueTypeId: number };
}

/**
 * BPF_MAP_CREATE.
 * @param a the map's shape
 * @returns the new map's descriptor
 * @throws ErrnoError
 */
export function mapCreate(a: MapCreateAttr): number {
  return bpf(Cmd.MAP_CREATE, mapCreateAttr(a), `map "${a.name ?? ""}"`);
}

/**
 * The `bpf_attr` bytes of BPF_MAP_CREATE (map_type at 0, key_size 4,
 * value_size 8, max_entries 12, map_flags 16, map_name 28, btf_fd 48,
 * btf_key_type_id 52, btf_value_type_id 56).
 * @param a the map's shape
 * @returns the attr
 * @throws RangeError for a name the kernel would refuse
 */
export function mapCreateAttr(a: MapCreateAttr): Uint8Array {
  const { flags = 0, name = "" } = a;
  const attr = new Attr(MAP_CREATE_ATTR.size).put(MAP_CREATE_ATTR, {
    map_type: a.type,
    key_size: a.keySize,
    value_size: a.valueSize,
    max_entries: a.maxEntries,
    map_flags: flags,
    map_name: name,
  });
  if (a.btf) {
    attr.put(MAP_CREATE_ATTR, {
      btf_fd: a.btf.fd,
      btf_key_type_id: a.btf.keyTypeId,
      btf_value_type_id: a.btf.valueTypeId,
    });
  }
  return attr.bytes;
}

// The element commands run once per key on the per-key read path: they share one attr
// (JavaScript runs them one at a time, and the kernel is done with it when bpf(2) returns).
let elemScratch: Attr | null = null;

function elemAttr(fd: number, key: Uint8Array | null, value: Uint8Array | null, flags = 0): Attr {
  const f = MAP_ELEM_ATTR.fields;
  elemScratch ??= new Attr(MAP_ELEM_ATTR.size);
  // Field by field, not put(): no object per call on the per-key path.
  return elemScratch.clear(MAP_ELEM_ATTR.size).u32(f.map_fd[0], fd)
    .u64(f.key[0], addressOf(key)).u64(f.value[0], addressOf(value)).u64(f.flags[0], flags);
}

/**
 * BPF_MAP_LOOKUP_ELEM into `value`.
 * @param fd the map
 * @param key the key's bytes (keep them out of V8's heap: {@linkcode pinned})
 * @param value receives the value (the map's value size, per-CPU: times the CPUs)
 * @returns true if found, false on ENOENT
 * @throws ErrnoError on any other failure
 */
export function mapLookup(fd: number, key: Uint8Array, value: Uint8Array): boolean {
  let ret = bpfRaw(Cmd.MAP_LOOKUP_ELEM, elemAttr(fd, key, value).bytes);
  if (askedAgain(ret)) ret = bpfRaw(Cmd.MAP_LOOKUP_ELEM, elemAttr(fd, key, value).bytes);
  if (ret === -ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_LOOKUP_ELEM, -ret);
  return true;
}

/**
 * BPF_MAP_UPDATE_ELEM.
 * @param fd the map
 * @param key the key's bytes
 * @param value the value's bytes
 * @param flags {@linkcode BPF_ANY}, {@linkcode BPF_NOEXIST} or {@linkcode BPF_EXIST}
 * @throws ErrnoError (E2BIG when the map is full)
 */
export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = BPF_ANY): void {
  bpf(Cmd.MAP_UPDATE_ELEM, elemAttr(fd, key, value, flags).bytes);
}

/**
 * BPF_MAP_DELETE_ELEM.
 * @param fd the map
 * @param key the key's bytes
 * @returns true if it was there, false on ENOENT
 * @throws ErrnoError on any other failure
 */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const ret = bpfRaw(Cmd.MAP_DELETE_ELEM, elemAttr(fd, key, null).bytes);
  if (ret === -ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_DELETE_ELEM, -ret);
  return true;
}

/**
 * BPF_MAP_GET_NEXT_KEY: the key after `key` (the first key when `key` is null).
 * @param fd the map
 * @param key the current key, or null
 * @param next receives the next key
 * @returns false when there is no next key
 * @throws ErrnoError on any other failure
 */
export function mapGetNextKey(fd: number, key: Uint8Array | null, next: Uint8Array): boolean {
  let ret = bpfRaw(Cmd.MAP_GET_NEXT_KEY, elemAttr(fd, key, next).bytes);
  if (askedAgain(ret)) ret = bpfRaw(Cmd.MAP_GET_NEXT_KEY, elemAttr(fd, key, next).bytes);
  if (ret === -ENOENT) return false;
  if (ret < 0) throw bpfError(Cmd.MAP_GET_NEXT_KEY, -ret);
  return true;
}

/** One BPF_MAP_LOOKUP_BATCH call's buffers. */
export interface BatchAttr {
  /** The token from the previous call's `outBatch`, or null to start. */
  inBatch: Uint8Array | null;
  /** Receives the token to continue from (at least the key size, and 8). */
  outBatch: Uint8Array;
  /** Receives up to `count` keys. */
  keys: Uint8Array;
  /** Receives up to `count` values. */
  values: Uint8Array;
  /** How many entries the buffers hold. */
  count: number;
}

/**
 * BPF_MAP_LOOKUP_BATCH: up to `count` entries from where `inBatch` left off.
 * @param fd the map
 * @param b the buffers
 * @returns how many entries were read and whether the map is exhausted; null
 *   when this kernel or map type has no batch lookup (callers read per key)
 * @throws ErrnoError on any other failure (ENOSPC: a hash bucket holds more
 *   entries than `count`; call again with more room)
 */
export function mapLookupBatch(
  fd: number,
  b: BatchAttr,
): { count: number; done: boolean } | null {
  const made = () =>
    new Attr(MAP_BATCH_ATTR.size).put(MAP_BATCH_ATTR, {
      in_batch: addressOf(b.inBatch),
      out_batch: addressOf(b.outBatch),
      keys: addressOf(b.keys),
      values: addressOf(b.values),
      count: b.count,
      map_fd: fd,
    });
  let attr = made();
  let ret = bpfRaw(Cmd.MAP_LOOKUP_BATCH, attr.bytes);
  if (askedAgain(ret)) {
    // The kernel wrote its count into the first attr: ask with a fresh one.
    attr = made();
    ret = bpfRaw(Cmd.MAP_LOOKUP_BATCH, attr.bytes);
  }
  const count = attr.getU32(MAP_BATCH_ATTR.fields.count);
  if (ret === -ENOENT) return { count, done: true };
  if (ret === -EINVAL && b.inBatch === null && count === 0) return null;
  if (ret === -ENOTSUPP || ret === -EOPNOTSUPP || ret === -ENOSYS) return null;
  if (ret < 0) {
    throw new ErrnoError(
      cmdName(Cmd.MAP_LOOKUP_BATCH),
      -ret,
      ret === -ENOSPC ? "a hash bucket holds more entries than the batch" : undefined,
    );
  }
  return { count, done: false };
}

// ---------------------------------------------------------------------------
// Programs
// ---------------------------------------------------------------------------

/** What PROG_LOAD needs. */
export interface ProgLoadAttr {
  /** A {@linkcode ProgType}. */
  type: number;
  /** Object name, 15 bytes at most; it names the program in errors and in `bpftool prog`. */
  name: string;
  /** The assembled instructions (asm.ts `assemble`). */
  insns: Uint8Array;
  /** The license; GPL-only helpers need "GPL". @default "GPL" */
  license?: string;
  /** An {@linkcode AttachType} (fentry/fexit: TRACE_FENTRY/TRACE_FEXIT). */
  expectedAttachType?: number;
  /** The BTF id of the function a TRACING program attaches to. */
  attachBtfId?: number;
  /** A module BTF's fd holding `attachBtfId` (vmlinux: leave out). */
  attachBtfObjFd?: number;
  /** `prog_flags`. @default 0 */
  flags?: number;
  /** Bytes for the verifier log when the load fails. @default 1 MiB */
  logSize?: number;
}

/**
 * A program the kernel refused. Its message is one line, the verifier's
 * reason, with the program's name and the failing instruction's index; the
 * verifier's last lines are in `log`.
 */
export class BpfVerifierError extends ErrnoError {
  override name = "BpfVerifierError";
  /** The program's name. */
  readonly program: string;
  /** The index of the instruction the verifier stopped at, or -1 when its log names none. */
  readonly insnIndex: number;
  /** The verifier's reason: the log's last line before its statistics. */
  readonly reason: string;
  /** The verifier log's last lines (at most 20). */
  readonly log: string[];
  /** Where in the source: the label before the failing instruction, e.g. `2 after "mine"` (program.ts fills it). */
  readonly where: string;
  /** The failing instruction, printed (print.ts), e.g. `r0 = *(u64 *)(r1 +0)` (program.ts fills it). */
  readonly insn: string;

  /**
   * @param program the program's name
   * @param errno the load's errno
   * @param log the whole verifier log
   * @param where the failing instruction's place in the source, if known
   * @param insn the failing instruction, printed, if known
   */
  constructor(program: string, errno: number, log: string, where = "", insn = "") {
    super(cmdName(Cmd.PROG_LOAD), errno);
    const parsed = parseVerifierLog(log);
    this.program = program;
    this.insnIndex = parsed.insnIndex;
    this.reason = parsed.reason;
    this.log = parsed.lastLines;
    this.where = where;
    this.insn = insn;
    const place = [where, insn].filter((x) => x !== "").join(": ");
    const at = parsed.insnIndex >= 0
      ? ` at instruction ${parsed.insnIndex}${place ? ` (${place})` : ""}`
      : "";
    this.message = `Cannot load BPF program "${program}": the verifier refused it${at}: ` +
      `${parsed.reason} (${this.code})`;
    this.#log = log;
  }

  #log: string;

  /**
   * The same error with the failing instruction's place in the source.
   * @param where e.g. `2 after label "mine"`
   * @param insn the failing instruction, printed
   * @returns a new error
   */
  withWhere(where: string, insn = ""): BpfVerifierError {
    return new BpfVerifierError(this.program, this.errno, this.#log, where, insn);
  }
}

/**
 * Reads a verifier log's reason and failing instruction.
 * @param log the verifier log
 * @returns the reason (last line before the `processed N insns` statistics),
 *   the index of the last instruction the log shows (-1 if none), the last lines
 * @example
 * ```ts
 * import { parseVerifierLog } from "./sys.ts";
 * const p = parseVerifierLog("0: R1=ctx() R10=fp0\n0: (95) exit\nR0 !read_ok\n" +
 *   "processed 1 insns (limit 1000000)\n");
 * console.assert(p.reason === "R0 !read_ok" && p.insnIndex === 0);
 * ```
 */
export function parseVerifierLog(
  log: string,
): { reason: string; insnIndex: number; lastLines: string[] } {
  const lines = log.split("\n").map((l) => l.trimEnd()).filter((l) => l !== "");
  let end = lines.length;
  // Statistics the verifier prints after its verdict.
  while (
    end > 0 && /^(processed \d+ insns|verification time|stack depth|mark_precise)/.test(
      lines[end - 1]!,
    )
  ) end--;
  const reason = end > 0 ? lines[end - 1]! : "no verifier log";
  let insnIndex = -1;
  for (let i = end - 1; i >= 0; i--) {
    const m = /^(\d+): /.exec(lines[i]!);
    if (m) {
      insnIndex = Number(m[1]);
      break;
    }
  }
  return { reason, insnIndex, lastLines: lines.slice(Math.max(0, end - 20), end) };
}

/**
 * The `bpf_attr` bytes of BPF_PROG_LOAD (prog_type at 0, insn_cnt 4, insns 8,
 * license 16, log_level 24, log_size 28, log_buf 32, prog_flags 44,
 * prog_name 48, expected_attach_type 68, attach_btf_id 108,
 * attach_btf_obj_fd 112). The buffers must outlive the call.
 * @param a the program (its `insns` must be out of V8's heap: {@linkcode pinned})
 * @param license the NUL-terminated license
 * @param log the verifier log's buffer, or null for no log
 * @returns the attr
 */
export function progLoadAttr(
  a: ProgLoadAttr,
  license: Uint8Array,
  log: Uint8Array | null,
): Uint8Array {
  const attr = new Attr(PROG_LOAD_ATTR.size).put(PROG_LOAD_ATTR, {
    prog_type: a.type,
    insn_cnt: a.insns.byteLength / 8,
    insns: addressOf(a.insns),
    license: addressOf(license),
    prog_flags: a.flags ?? 0,
    prog_name: a.name,
    expected_attach_type: a.expectedAttachType ?? 0,
    attach_btf_id: a.attachBtfId ?? 0,
    attach_btf_obj_fd: a.attachBtfObjFd ?? 0,
  });
  if (log) {
    attr.put(PROG_LOAD_ATTR, {
      log_level: 1,
      log_size: log.byteLength,
      log_buf: addressOf(log),
    });
  }
  return attr.bytes;
}

/**
 * BPF_PROG_LOAD. The first try runs without a log (it is faster); when it
 * fails, a second one captures the verifier's log for the error.
 * @param a the program
 * @returns the program's descriptor
 * @throws BpfVerifierError when the verifier refused it (one line: name,
 *   instruction, reason); ErrnoError when the kernel refused before verifying
 *   (e.g. EPERM for program types this machine does not allow)
 */
export function progLoad(a: ProgLoadAttr): number {
  const { license = "GPL", logSize = 1 << 20 } = a;
  if (a.insns.byteLength === 0 || a.insns.byteLength % 8 !== 0) {
    throw new RangeError(`BPF program "${a.name}" has ${a.insns.byteLength} bytes, not 8 per insn`);
  }
  const insns = pinned(a.insns.byteLength);
  insns.set(a.insns);
  const lic = cString(license);
  // EAGAIN: the verifier was interrupted (a signal); libbpf retries too.
  let first = bpfRaw(Cmd.PROG_LOAD, progLoadAttr({ ...a, insns }, lic, null));
  for (let tries = 1; first === -EAGAIN && tries < 5; tries++) {
    first = bpfRaw(Cmd.PROG_LOAD, progLoadAttr({ ...a, insns }, lic, null));
  }
  if (first >= 0) return first;
  let log = pinned(logSize);
  let second = bpfRaw(Cmd.PROG_LOAD, progLoadAttr({ ...a, insns }, lic, log));
  // ENOSPC: the log did not fit. Kernels before 6.4 then keep its beginning, not the
  // verdict at its end: grow the buffer (to 16 MiB at most) and ask again.
  while (second === -ENOSPC && first !== -ENOSPC && log.byteLength < 16 << 20) {
    log = pinned(log.byteLength * 4);
    second = bpfRaw(Cmd.PROG_LOAD, progLoadAttr({ ...a, insns }, lic, log));
  }
  if (second >= 0) return second; // loaded on the retry: keep it
  const end = log.indexOf(0);
  const text = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end));
  if (text.trim() === "") {
    throw new ErrnoError(cmdName(Cmd.PROG_LOAD), -first, `program "${a.name}"`);
  }
  throw new BpfVerifierError(a.name, -first, text);
}

/** Counters and identity of a loaded program (`struct bpf_prog_info`). */
export interface ProgInfo {
  /** The kernel's program id (as `bpftool prog` shows). */
  id: number;
  /** The {@linkcode ProgType}. */
  type: number;
  /** The object name. */
  name: string;
  /** Runs counted while stats are enabled (`kernel.bpf_stats_enabled` or ENABLE_STATS). */
  runCnt: number;
  /** Nanoseconds spent running, counted while stats are enabled. */
  runTimeNs: number;
  /** Runs skipped because the program was already running on that CPU (events lost). */
  recursionMisses: number;
  /** Instructions the verifier processed. */
  verifiedInsns: number;
}

// Info is read once a second per program (recursion misses) by a running
// trace: one buffer and attr serve every call, read out before the next.
let infoScratch: { info: Uint8Array; view: DataView; attr: Attr } | null = null;
const nameDecoder = new TextDecoder();

function objInfo(fd: number, size: number): DataView {
  if (!infoScratch) {
    const info = pinned(256);
    infoScratch = { info, view: new DataView(info.buffer), attr: new Attr(OBJ_INFO_ATTR.size) };
  }
  const { info, view, attr } = infoScratch;
  if (size > info.byteLength) throw new RangeError(`An info of ${size} bytes is past the buffer`);
  info.fill(0, 0, size);
  const f = OBJ_INFO_ATTR.fields; // field by field: this runs every second per program
  attr.clear(OBJ_INFO_ATTR.size).u32(f.bpf_fd[0], fd).u32(f.info_len[0], size)
    .u64(f.info[0], addressOf(info));
  bpf(Cmd.OBJ_GET_INFO_BY_FD, attr.bytes);
  return view;
}

function objName(v: DataView, off: number): string {
  const b = new Uint8Array(v.buffer, off, BPF_OBJ_NAME_LEN);
  const end = b.indexOf(0);
  return nameDecoder.decode(b.subarray(0, end < 0 ? b.length : end));
}

/**
 * BPF_OBJ_GET_INFO_BY_FD for a program.
 * @param fd the program
 * @returns its id, name and counters
 * @throws ErrnoError
 */
export function progInfo(fd: number): ProgInfo {
  const v = objInfo(fd, 232);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    name: objName(v, 64),
    runTimeNs: Number(v.getBigUint64(192, true)),
    runCnt: Number(v.getBigUint64(200, true)),
    recursionMisses: Number(v.getBigUint64(208, true)),
    verifiedInsns: v.getUint32(216, true),
  };
}

/**
 * A program's `recursion_misses` alone (`struct bpf_prog_info` at 208): what
 * a running trace reads once a second per program, without the name's decoding.
 * @param fd the program
 * @returns runs skipped because the program was already running on that CPU
 * @throws ErrnoError
 */
export function progRecursionMisses(fd: number): number {
  const v = objInfo(fd, 232);
  return v.getUint32(208, true) + v.getUint32(212, true) * 0x1_0000_0000;
}

/** Identity of a map (`struct bpf_map_info`). */
export interface MapInfo {
  /** The kernel's map id. */
  id: number;
  /** The {@linkcode MapType}. */
  type: number;
  /** Key bytes. */
  keySize: number;
  /** Value bytes. */
  valueSize: number;
  /** Entries. */
  maxEntries: number;
  /** `map_flags`. */
  flags: number;
  /** The object name. */
  name: string;
}

/**
 * BPF_OBJ_GET_INFO_BY_FD for a map.
 * @param fd the map
 * @returns its id, shape and name
 * @throws ErrnoError
 */
export function mapInfo(fd: number): MapInfo {
  const v = objInfo(fd, 88);
  return {
    type: v.getUint32(0, true),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: objName(v, 24),
  };
}

/**
 * BPF_OBJ_GET_INFO_BY_FD for a link.
 * @param fd the link
 * @returns its id, type and the id of its program
 * @throws ErrnoError
 */
export function linkInfo(fd: number): { id: number; type: number; progId: number } {
  const v = objInfo(fd, 48);
  return { type: v.getUint32(0, true), id: v.getUint32(4, true), progId: v.getUint32(8, true) };
}

function nextId(cmd: number, start: number): number | null {
  const attr = new Attr(GET_ID_ATTR.size).put(GET_ID_ATTR, { start_id: start });
  const ret = bpfRaw(cmd, attr.bytes);
  if (ret === -ENOENT) return null;
  if (ret < 0) throw new ErrnoError(cmdName(cmd), -ret);
  return attr.getU32(GET_ID_ATTR.fields.next_id);
}

function fdById(cmd: number, id: number): number | null {
  const ret = bpfRaw(cmd, new Attr(GET_ID_ATTR.size).put(GET_ID_ATTR, { start_id: id }).bytes);
  if (ret === -ENOENT) return null;
  if (ret < 0) throw new ErrnoError(cmdName(cmd), -ret, `id ${id}`);
  return ret;
}

/**
 * BPF_PROG_GET_NEXT_ID: walk every program loaded on the machine.
 * @param start the id to start after (0 for the first)
 * @returns the next id, or null at the end
 */
export function progGetNextId(start: number): number | null {
  return nextId(Cmd.PROG_GET_NEXT_ID, start);
}

/**
 * BPF_PROG_GET_FD_BY_ID: a new descriptor for a loaded program (the caller closes it).
 * @param id the program id
 * @returns the descriptor, or null when no program has that id (any more)
 */
export function progGetFdById(id: number): number | null {
  return fdById(Cmd.PROG_GET_FD_BY_ID, id);
}

/**
 * BPF_LINK_GET_NEXT_ID: walk every link on the machine.
 * @param start the id to start after (0 for the first)
 * @returns the next id, or null at the end
 */
export function linkGetNextId(start: number): number | null {
  return nextId(Cmd.LINK_GET_NEXT_ID, start);
}

/**
 * BPF_LINK_GET_FD_BY_ID: a new descriptor for a link (the caller closes it).
 * @param id the link id
 * @returns the descriptor, or null when no link has that id (any more)
 */
export function linkGetFdById(id: number): number | null {
  return fdById(Cmd.LINK_GET_FD_BY_ID, id);
}

/**
 * BPF_ENABLE_STATS: run_cnt and run_time_ns are counted for every program
 * while the returned descriptor stays open (close it to stop).
 * @returns the descriptor
 * @throws ErrnoError
 */
export function enableStats(): number {
  return bpf(
    Cmd.ENABLE_STATS,
    new Attr(ENABLE_STATS_ATTR.size).put(ENABLE_STATS_ATTR, { type: BPF_STATS_RUN_TIME }).bytes,
  );
}

// ---------------------------------------------------------------------------
// BTF
// ---------------------------------------------------------------------------

/**
 * BPF_BTF_LOAD: load a BTF blob (btf.ts `BtfBuilder`).
 * @param blob the BTF bytes
 * @returns the BTF object's descriptor
 * @throws ErrnoError with the kernel's BTF log's last line in its message
 */
export function btfLoad(blob: Uint8Array): number {
  const data = pinned(blob.byteLength);
  data.set(blob);
  const attr = new Attr(BTF_LOAD_ATTR.size).put(BTF_LOAD_ATTR, {
    btf: addressOf(data),
    btf_size: blob.byteLength,
  });
  const first = bpfRaw(Cmd.BTF_LOAD, attr.bytes);
  if (first >= 0) return first;
  const log = pinned(64 * 1024);
  attr.put(BTF_LOAD_ATTR, {
    btf_log_buf: addressOf(log),
    btf_log_size: log.byteLength,
    btf_log_level: 1,
  });
  const second = bpfRaw(Cmd.BTF_LOAD, attr.bytes);
  if (second >= 0) return second;
  const end = log.indexOf(0);
  const lines = new TextDecoder().decode(log.subarray(0, end < 0 ? log.length : end)).trim()
    .split("\n");
  throw new ErrnoError(cmdName(Cmd.BTF_LOAD), -first, lines.at(-1) || undefined);
}

// ---------------------------------------------------------------------------
// Attaching
// ---------------------------------------------------------------------------

/**
 * BPF_RAW_TRACEPOINT_OPEN: attach a RAW_TRACEPOINT program to a tracepoint
 * by name, or a TRACING program (fentry/fexit) to its BTF target (name null).
 * @param progFd the program
 * @param name the raw tracepoint, e.g. `sys_enter`; null for a TRACING program
 * @returns the link's descriptor (closing it detaches)
 * @throws ErrnoError
 */
export function rawTracepointOpen(progFd: number, name: string | null): number {
  const cname = name === null ? null : cString(name);
  const attr = new Attr(RAW_TRACEPOINT_OPEN_ATTR.size).put(RAW_TRACEPOINT_OPEN_ATTR, {
    name: addressOf(cname),
    prog_fd: progFd,
  });
  return bpf(Cmd.RAW_TRACEPOINT_OPEN, attr.bytes, name ?? "tracing program");
}

/** What LINK_CREATE needs. */
export interface LinkCreateAttr {
  /** The program. */
  progFd: number;
  /** The target: a perf event's fd (PERF_EVENT), 0 for fentry/fexit on vmlinux. */
  targetFd: number;
  /** An {@linkcode AttachType}. */
  attachType: number;
  /** `flags`. @default 0 */
  flags?: number;
  /** TRACING on a program (freplace): the target's BTF id. @default 0 */
  targetBtfId?: number;
}

/**
 * BPF_LINK_CREATE.
 * @param a program, target and attach type
 * @returns the link's descriptor (closing it detaches)
 * @throws ErrnoError
 */
export function linkCreate(a: LinkCreateAttr): number {
  return bpf(Cmd.LINK_CREATE, linkCreateAttr(a));
}

/**
 * The `bpf_attr` bytes of BPF_LINK_CREATE (prog_fd at 0, target_fd 4,
 * attach_type 8, flags 12, target_btf_id 16).
 * @param a program, target and attach type
 * @returns the attr
 */
export function linkCreateAttr(a: LinkCreateAttr): Uint8Array {
  return new Attr(LINK_CREATE_ATTR.size).put(LINK_CREATE_ATTR, {
    prog_fd: a.progFd,
    target_fd: a.targetFd,
    attach_type: a.attachType,
    flags: a.flags ?? 0,
    target_btf_id: a.targetBtfId ?? 0,
  }).bytes;
}

/** `perf_event_attr.type` of a tracepoint. */
export const PERF_TYPE_TRACEPOINT = 2;
/** `perf_event_open` flag: close on exec. */
export const PERF_FLAG_FD_CLOEXEC = 8;
/** `ioctl` on a perf event: start counting. */
export const PERF_EVENT_IOC_ENABLE = 0x2400;
/** `ioctl` on a perf event: attach a BPF program (`_IOW('$', 8, __u32)`). */
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

/**
 * perf_event_open(2) for a classic tracepoint on every CPU's events (cpu 0,
 * pid -1: the BPF program attached to it runs wherever the tracepoint fires).
 * @param tracepointId the id in tracefs `events/<category>/<name>/id`
 * @returns the perf event's descriptor
 * @throws ErrnoError
 */
export function perfEventOpenTracepoint(tracepointId: number): number {
  const attr = new Attr(PERF_EVENT_ATTR.size).put(PERF_EVENT_ATTR, {
    type: PERF_TYPE_TRACEPOINT,
    size: PERF_EVENT_ATTR.size,
    config: tracepointId,
    sample_period: 1,
    wakeup_events: 1,
  });
  const ret = syscall(
    syscallNumbers().perf_event_open,
    addressOf(attr.bytes),
    -1,
    0,
    -1,
    PERF_FLAG_FD_CLOEXEC,
  );
  if (ret < 0) {
    throw new ErrnoError("perf_event_open", lastErrno(), `tracepoint id ${tracepointId}`);
  }
  return ret;
}

/**
 * ioctl(2) with an integer argument, through syscall() (libc.ts binds no ioctl).
 * @param fd the descriptor
 * @param request the request number
 * @param arg the argument
 * @returns the result
 * @throws ErrnoError
 */
export function ioctl(fd: number, request: number, arg: number): number {
  const ret = syscall(syscallNumbers().ioctl, fd, request, arg);
  if (ret < 0) throw new ErrnoError("ioctl", lastErrno(), `request 0x${request.toString(16)}`);
  return ret;
}

/** pidfd_open(2) flag: the pidfd names one thread, not the process (Linux 6.9). */
export const PIDFD_THREAD = 0o200;

/**
 * pidfd_open(2): a descriptor for a process, the key of a task storage map
 * in user space. It names the process's main thread; with
 * {@linkcode PIDFD_THREAD}, `pid` may be any thread's id.
 * @param pid the process (or, with PIDFD_THREAD, the thread)
 * @param flags 0 or PIDFD_THREAD
 * @returns the pidfd (the caller closes it)
 * @throws ErrnoError (ESRCH: no such process)
 */
export function pidfdOpen(pid: number, flags = 0): number {
  const ret = syscall(syscallNumbers().pidfd_open, pid, flags);
  if (ret < 0) throw new ErrnoError("pidfd_open", lastErrno(), `pid ${pid}`);
  return ret;
}

/** RLIMIT_MEMLOCK (asm-generic/resource.h): what BPF maps and programs are charged to before 5.11. */
export const RLIMIT_MEMLOCK = 8;
/** RLIM_INFINITY: no limit. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/**
 * prlimit64(2) on this process: reads a resource limit and sets a new one.
 * @param resource e.g. {@linkcode RLIMIT_MEMLOCK}
 * @param next the new soft and hard limits, or null to only read
 * @returns the limits before the call
 * @throws ErrnoError (EPERM: raising the hard limit needs CAP_SYS_RESOURCE)
 */
export function prlimit(
  resource: number,
  next: { cur: bigint; max: bigint } | null,
): { cur: bigint; max: bigint } {
  const old = pinned(16);
  const set = next === null ? null : pinned(16);
  if (set && next) {
    const v = new DataView(set.buffer);
    v.setBigUint64(0, next.cur, true);
    v.setBigUint64(8, next.max, true);
  }
  const ret = syscall(syscallNumbers().prlimit64, 0, resource, addressOf(set), addressOf(old));
  if (ret < 0) throw new ErrnoError("prlimit64", lastErrno(), `resource ${resource}`);
  const v = new DataView(old.buffer);
  return { cur: v.getBigUint64(0, true), max: v.getBigUint64(8, true) };
}
