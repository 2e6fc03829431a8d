/**
 * BTF, the kernel's type information: a reader for /sys/kernel/btf/vmlinux
 * (type ids by name and kind, function ids, struct member offsets), loaded
 * once on first use, and a minimal writer that builds the small blob a task
 * storage map needs for its key and value types.
 * @module
 */

import { Fd, openFile } from "../fd.ts";
import { libc } from "../libc.ts";
import { btfLoad } from "./sys.ts";

/** BTF kinds (`BTF_KIND_*` in include/uapi/linux/btf.h). */
export const BtfKind = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

const MAGIC = 0xeb9f;
const HEADER_LEN = 24;

/** One type of a BTF blob. */
export interface BtfType {
  /** Its id (1-based; 0 is void). */
  id: number;
  /** A {@linkcode BtfKind}. */
  kind: number;
  /** Its name ("" when anonymous). */
  name: string;
  /** Bytes for ints, structs, unions, enums; else 0. */
  size: number;
  /** For pointers, typedefs, qualifiers, funcs, vars: the type it refers to. */
  type: number;
}

/** A struct or union member. */
export interface BtfMember {
  /** The member's name ("" for an anonymous struct or union). */
  name: string;
  /** Its type id. */
  type: number;
  /** Its offset in bits from the start of the struct. */
  bitOffset: number;
  /** Bitfield width in bits, 0 when not a bitfield. */
  bitSize: number;
}

/**
 * A parsed BTF blob: look types up by name, walk struct members. The types
 * are indexed as far as a lookup needs: vmlinux holds ~130k of them in 5 MB,
 * and bringing every page of it in costs a trace's start 35-50 ms here (page
 * faults on the mapping, 2026-12-02), while `task_struct` is type 114.
 */
export class Btf {
  #bytes: Uint8Array;
  #view: DataView;
  #strOff: number;
  #strLen: number;
  /** Byte offset of each type's record, by id (index 0 unused), for ids 1..#indexed. */
  #offsets: Uint32Array;
  #indexed = 0;
  /** Where the next type's record starts, and where the type section ends. */
  #next: number;
  #end: number;
  #found = new Map<string, number[]>();
  /** firstIdByName's answers (fentry and fexit ask for one function each). */
  #first = new Map<string, number | undefined>();
  #decoder = new TextDecoder();

  /**
   * Reads a BTF blob's header (the types are indexed as lookups reach them).
   * @param bytes the blob (e.g. /sys/kernel/btf/vmlinux)
   * @throws Error when the blob is not BTF
   */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const v = this.#view;
    if (bytes.byteLength < HEADER_LEN || v.getUint16(0, true) !== MAGIC) {
      throw new Error("Cannot read BTF: the data does not start with the BTF magic 0xeb9f");
    }
    const hdrLen = v.getUint32(4, true);
    this.#next = hdrLen + v.getUint32(8, true);
    this.#end = this.#next + v.getUint32(12, true);
    this.#strOff = hdrLen + v.getUint32(16, true);
    this.#strLen = v.getUint32(20, true);
    if (this.#end > bytes.byteLength) {
      throw new Error("Cannot read BTF: the type section runs past the data");
    }
    // Grown as types are indexed (vmlinux's whole index is 1.8 MB of fresh pages).
    this.#offsets = new Uint32Array(1024);
  }

  /**
   * Indexes one more type; false once the section is through.
   * @throws Error when a record runs past the type section
   */
  #indexNext(): boolean {
    const p = this.#next;
    if (p >= this.#end) return false;
    const info = this.#view.getUint32(p + 4, true);
    const next = p + 12 + extraBytes((info >>> 24) & 0x1f, info & 0xffff);
    if (next > this.#end) throw new Error("Cannot read BTF: the type section is malformed");
    if (this.#indexed + 1 >= this.#offsets.length) {
      const grown = new Uint32Array(this.#offsets.length * 2);
      grown.set(this.#offsets);
      this.#offsets = grown;
    }
    this.#offsets[++this.#indexed] = p;
    this.#next = next;
    return true;
  }

  /** The record offset of a type id, indexing up to it; undefined past the last type. */
  #offsetOf(id: number): number | undefined {
    if (id < 1) return undefined;
    while (this.#indexed < id && this.#indexNext());
    return id <= this.#indexed ? this.#offsets[id] : undefined;
  }

  /** Whether type id's name is `want` (bytes compared, nothing decoded). */
  #named(id: number, want: Uint8Array, kind: number | undefined): boolean {
    const v = this.#view, p = this.#offsets[id]!;
    if (kind !== undefined && ((v.getUint32(p + 4, true) >>> 24) & 0x1f) !== kind) return false;
    const nameOff = v.getUint32(p, true);
    if (nameOff === 0 && want.length > 0) return false;
    const at = this.#strOff + nameOff;
    const bytes = this.#bytes;
    if (bytes[at + want.length] !== 0) return false;
    for (let i = 0; i < want.length; i++) if (bytes[at + i] !== want[i]) return false;
    return true;
  }

  /** How many types are indexed so far (lookups index only as far as they need). */
  get indexedCount(): number {
    return this.#indexed;
  }

  /** How many types the blob holds (ids 1..count). */
  get count(): number {
    while (this.#indexNext());
    return this.#indexed;
  }

  #str(off: number): string {
    if (off >= this.#strLen) return "";
    const start = this.#strOff + off;
    const end = this.#bytes.indexOf(0, start);
    return this.#decoder.decode(this.#bytes.subarray(start, end < 0 ? start : end));
  }

  /**
   * The type with an id.
   * @param id a type id
   * @returns the type
   * @throws RangeError for an id the blob does not hold
   */
  type(id: number): BtfType {
    const p = this.#offsetOf(id);
    if (p === undefined) throw new RangeError(`BTF has no type id ${id}`);
    const v = this.#view;
    const info = v.getUint32(p + 4, true);
    const kind = (info >>> 24) & 0x1f;
    const sizeOrType = v.getUint32(p + 8, true);
    const sized = kind === BtfKind.INT || kind === BtfKind.STRUCT || kind === BtfKind.UNION ||
      kind === BtfKind.ENUM || kind === BtfKind.ENUM64 || kind === BtfKind.FLOAT ||
      kind === BtfKind.DATASEC;
    return {
      id,
      kind,
      name: this.#str(v.getUint32(p, true)),
      size: sized ? sizeOrType : 0,
      type: sized ? 0 : sizeOrType,
    };
  }

  /**
   * The ids of the types with a name, of one kind if given.
   * @param name the type's name, e.g. `task_struct`
   * @param kind a {@linkcode BtfKind} to keep only that kind
   * @returns the ids (empty when none)
   */
  idsByName(name: string, kind?: number): number[] {
    const key = `${kind ?? ""}:${name}`;
    const known = this.#found.get(key);
    if (known) return known;
    // One scan comparing bytes, no string decoding: a few ms over vmlinux's ~130k types.
    const want = new TextEncoder().encode(name);
    const ids: number[] = [];
    const count = this.count;
    for (let id = 1; id <= count; id++) if (this.#named(id, want, kind)) ids.push(id);
    this.#found.set(key, ids);
    return ids;
  }

  /**
   * The first type with a name (of one kind if given), indexing the types
   * only as far as it: no more of a large blob is read than that.
   * @param name the type's name
   * @param kind a {@linkcode BtfKind}
   * @returns its id, or undefined when none has it
   */
  firstIdByName(name: string, kind?: number): number | undefined {
    const key = `${kind ?? ""}:${name}`;
    const known = this.#found.get(key);
    if (known) return known[0];
    if (this.#first.has(key)) return this.#first.get(key);
    const want = new TextEncoder().encode(name);
    let found: number | undefined;
    for (let id = 1; this.#offsetOf(id) !== undefined; id++) {
      if (this.#named(id, want, kind)) {
        found = id;
        break;
      }
    }
    this.#first.set(key, found);
    return found;
  }

  /**
   * The first type with a name and kind.
   * @param name the type's name
   * @param kind a {@linkcode BtfKind}
   * @returns the type, or undefined
   */
  typeByName(name: string, kind: number): BtfType | undefined {
    const id = this.firstIdByName(name, kind);
    return id === undefined ? undefined : this.type(id);
  }

  /**
   * The BTF id of a kernel function, what a fentry/fexit program's
   * `attachBtfId` names.
   * @param name e.g. `__x64_sys_read`
   * @returns the FUNC's id, or undefined when the kernel has no such function
   */
  funcId(name: string): number | undefined {
    return this.firstIdByName(name, BtfKind.FUNC);
  }

  /**
   * The names of the kernel functions that start with a prefix, in one scan
   * (a few ms over vmlinux's types; only matching names are decoded).
   * @param prefix e.g. `__ia32_`
   * @returns the FUNCs' names
   */
  funcNamesStartingWith(prefix: string): string[] {
    const want = new TextEncoder().encode(prefix);
    const v = this.#view, bytes = this.#bytes;
    const names: string[] = [];
    const count = this.count;
    for (let id = 1; id <= count; id++) {
      const p = this.#offsets[id]!;
      if (((v.getUint32(p + 4, true) >>> 24) & 0x1f) !== BtfKind.FUNC) continue;
      const at = this.#strOff + v.getUint32(p, true);
      let i = 0;
      while (i < want.length && bytes[at + i] === want[i]) i++;
      if (i === want.length) names.push(this.#str(v.getUint32(p, true)));
    }
    return names;
  }

  /**
   * A function prototype's parameters' types.
   * @param id a FUNC_PROTO's id (typedefs, qualifiers and one pointer are followed)
   * @returns each parameter's type id, in order
   * @throws TypeError when the id is not a function prototype
   */
  params(id: number): number[] {
    let t = this.type(this.resolve(id));
    if (t.kind === BtfKind.PTR) t = this.type(this.resolve(t.type));
    if (t.kind !== BtfKind.FUNC_PROTO) {
      throw new TypeError(`BTF type ${id} (${t.name || "anonymous"}) is not a function prototype`);
    }
    const p = this.#offsetOf(t.id)!;
    const count = this.#view.getUint32(p + 4, true) & 0xffff;
    // btf_param: name_off, type (8 bytes each), after the 12-byte type header.
    return Array.from({ length: count }, (_, i) => this.#view.getUint32(p + 12 + i * 8 + 4, true));
  }

  /**
   * A struct's or union's members.
   * @param id the struct's id (typedefs and qualifiers are followed)
   * @returns the members in order
   * @throws TypeError when the id is not a struct or union
   */
  members(id: number): BtfMember[] {
    const t = this.type(this.resolve(id));
    if (t.kind !== BtfKind.STRUCT && t.kind !== BtfKind.UNION) {
      throw new TypeError(`BTF type ${id} (${t.name || "anonymous"}) is not a struct or union`);
    }
    const v = this.#view;
    const p = this.#offsetOf(t.id)!;
    const info = v.getUint32(p + 4, true);
    const kindFlag = (info >>> 31) === 1;
    const out: BtfMember[] = [];
    for (let i = 0; i < (info & 0xffff); i++) {
      const m = p + 12 + i * 12;
      const raw = v.getUint32(m + 8, true);
      out.push({
        name: this.#str(v.getUint32(m, true)),
        type: v.getUint32(m + 4, true),
        bitOffset: kindFlag ? raw & 0xffffff : raw,
        bitSize: kindFlag ? raw >>> 24 : 0,
      });
    }
    return out;
  }

  /**
   * Follows typedefs, const, volatile, restrict and type tags to the type they name.
   * @param id a type id
   * @returns the id of the underlying type
   */
  resolve(id: number): number {
    for (let hops = 0; hops < 64; hops++) {
      const t = this.type(id);
      if (
        t.kind !== BtfKind.TYPEDEF && t.kind !== BtfKind.CONST && t.kind !== BtfKind.VOLATILE &&
        t.kind !== BtfKind.RESTRICT && t.kind !== BtfKind.TYPE_TAG
      ) return id;
      id = t.type;
    }
    throw new RangeError(`BTF type ${id}: a cycle of typedefs`);
  }

  /**
   * The byte offset of a member of a named struct, through nested members
   * (`se.sum_exec_runtime`) and anonymous structs and unions.
   * @param struct the struct's name, e.g. `task_struct`
   * @param path the member, e.g. `tgid`, or a dotted path
   * @returns the offset in bytes and the member's type id
   * @throws Error when the struct or member is missing, or the member is a bitfield
   */
  memberOffset(struct: string, path: string): { offset: number; type: number } {
    const s = this.typeByName(struct, BtfKind.STRUCT) ?? this.typeByName(struct, BtfKind.UNION);
    if (!s) throw new Error(`The kernel's BTF has no struct ${struct}`);
    let type = s.id;
    let bits = 0;
    for (const part of path.split(".")) {
      const found = this.#findMember(type, part);
      if (!found) throw new Error(`The kernel's struct ${struct} has no member ${path}`);
      if (found.bitSize !== 0 || found.bitOffset % 8 !== 0) {
        throw new Error(`${struct}.${path} is a bitfield: it has no byte offset`);
      }
      bits += found.bitOffset;
      type = found.type;
    }
    return { offset: bits / 8, type };
  }

  #findMember(id: number, name: string): BtfMember | undefined {
    for (const m of this.members(id)) {
      if (m.name === name) return m;
      if (m.name === "") {
        const inner = this.type(this.resolve(m.type));
        if (inner.kind !== BtfKind.STRUCT && inner.kind !== BtfKind.UNION) continue;
        const found = this.#findMember(inner.id, name);
        if (found) return { ...found, bitOffset: m.bitOffset + found.bitOffset };
      }
    }
    return undefined;
  }
}

/** Bytes of kind-specific data after a type's 12-byte header. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.INT:
    case BtfKind.VAR:
    case BtfKind.DECL_TAG:
      return 4;
    case BtfKind.ARRAY:
      return 12;
    case BtfKind.STRUCT:
    case BtfKind.UNION:
    case BtfKind.DATASEC:
    case BtfKind.ENUM64:
      return 12 * vlen;
    case BtfKind.ENUM:
    case BtfKind.FUNC_PROTO:
      return 8 * vlen;
    case BtfKind.PTR:
    case BtfKind.FWD:
    case BtfKind.TYPEDEF:
    case BtfKind.VOLATILE:
    case BtfKind.CONST:
    case BtfKind.RESTRICT:
    case BtfKind.FUNC:
    case BtfKind.FLOAT:
    case BtfKind.TYPE_TAG:
      return 0;
    default:
      throw new Error(`Cannot read BTF: unknown kind ${kind}`);
  }
}

/** Where the running kernel's BTF is. */
export const VMLINUX_BTF_PATH = "/sys/kernel/btf/vmlinux";
let vmlinux: Btf | null = null;

/**
 * The running kernel's BTF, read and indexed on first use, then kept.
 * @returns the parsed /sys/kernel/btf/vmlinux
 * @throws Error when the kernel has no BTF (CONFIG_DEBUG_INFO_BTF off)
 * @example
 * ```ts
 * import { vmlinuxBtf } from "./btf.ts";
 * const { offset } = vmlinuxBtf().memberOffset("task_struct", "tgid");
 * console.assert(offset > 0);
 * ```
 */
export function vmlinuxBtf(): Btf {
  if (vmlinux) return vmlinux;
  let bytes = mapVmlinux();
  if (bytes === null) {
    try {
      bytes = Deno.readFileSync(VMLINUX_BTF_PATH);
    } catch (e: unknown) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`Cannot read the kernel's BTF at ${VMLINUX_BTF_PATH}: ${why}`);
    }
  }
  vmlinux = new Btf(bytes);
  return vmlinux;
}

const PROT_READ = 1;
const MAP_PRIVATE = 2;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/**
 * Maps vmlinux BTF read-only and private (Linux 6.16+ allows it): no copy,
 * and none of the ~1300 page-sized reads sysfs would need. The mapping is
 * kept for the process's life, like the parsed BTF that points into it.
 * @returns the bytes, or null where the kernel refuses the mapping (then: read)
 */
function mapVmlinux(): Uint8Array | null {
  let fd: Fd;
  try {
    fd = openFile(VMLINUX_BTF_PATH);
  } catch {
    return null;
  }
  try {
    const size = Deno.statSync(VMLINUX_BTF_PATH).size;
    if (size <= 0) return null;
    const p = libc().mmap(null, BigInt(size), PROT_READ, MAP_PRIVATE, fd.fd, 0n);
    if (p === null || Deno.UnsafePointer.value(p) === MAP_FAILED) return null;
    return new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p, size));
  } catch {
    return null;
  } finally {
    fd.close(); // the mapping stays valid without the descriptor
  }
}

/**
 * The kernel function that implements a syscall on this architecture
 * (`read` -> `__x64_sys_read` on x86_64, `__arm64_sys_read` on aarch64).
 * @param syscall the syscall's name
 * @returns the function's name
 */
export function syscallFunction(syscall: string): string {
  const prefix = Deno.build.arch === "aarch64" ? "__arm64_sys_" : "__x64_sys_";
  return prefix + syscall;
}

/**
 * A syscall's i386 entries, when it has more than one (sendfile and
 * sendfile64; old mmap and mmap2; a time32 and a time64 form) or another
 * name, each with the names its function may have; a full function name is
 * taken as it is (x86 runs sendfile64 through `__ia32_sys_sendfile64`, though
 * a `compat_sys_sendfile64` exists for other architectures).
 */
const I386_ENTRIES: Record<string, string[][]> = {
  pread64: [["pread64", "pread"]],
  pwrite64: [["pwrite64", "pwrite"]],
  sendfile64: [["sendfile"], ["__ia32_sys_sendfile64"]],
  mmap: [["mmap"], ["mmap_pgoff"]],
  io_getevents: [["io_getevents_time32", "io_getevents"]],
  io_pgetevents: [["io_pgetevents"], ["io_pgetevents_time64"]],
  recvmmsg: [["recvmmsg_time32", "recvmmsg"], ["recvmmsg_time64"]],
};

/**
 * Prefixes of an i386 entry's function, the table's compat entry first:
 * `__ia32_compat_sys_ia32_mmap` (6.1), `__ia32_compat_sys_x86_pread` (5.10),
 * `__ia32_compat_sys_preadv`, `__ia32_sys_ia32_pread64` (6.1), then the
 * plain `__ia32_sys_read` (every syscall has one, in the table or not).
 */
const I386_PREFIXES = [
  "__ia32_compat_sys_ia32_",
  "__ia32_compat_sys_x86_",
  "__ia32_compat_sys_",
  "__ia32_sys_ia32_",
  "__ia32_sys_x86_",
  "__ia32_sys_",
];

/**
 * The kernel functions a 32-bit (compat) call of a syscall runs through on
 * x86_64, one per i386 entry of the syscall: the first of its possible
 * names this kernel has, compat and arch-specific ones first (the i386
 * table's compat column names them where the plain function does not fit
 * 32-bit arguments). Only the i386 syscall table calls them.
 * @param ia32Functions the kernel's `__ia32_` functions (BTF funcNamesStartingWith)
 * @param syscall the syscall's name (schema/syscalls.ts)
 * @returns the functions
 */
export function compatSyscallFunctions(
  ia32Functions: readonly string[],
  syscall: string,
): string[] {
  const have = new Set(ia32Functions);
  return (I386_ENTRIES[syscall] ?? [[syscall]]).flatMap((names) => {
    const exact = names.find((n) => n.startsWith("__"));
    if (exact) return have.has(exact) ? [exact] : [];
    for (const prefix of I386_PREFIXES) {
      for (const name of names) if (have.has(prefix + name)) return [prefix + name];
    }
    return [];
  });
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/** A member of a struct being built. */
export interface BtfMemberSpec {
  /** The member's name. */
  name: string;
  /** Its type's id (from this builder). */
  type: number;
  /** Offset in bytes. */
  offset: number;
}

/**
 * Builds a small BTF blob: ints, arrays and structs, enough to describe a
 * map's key and value.
 * @example
 * ```ts
 * import { BtfBuilder } from "./btf.ts";
 * const b = new BtfBuilder();
 * const int = b.addInt("int", 4, true);
 * const u64 = b.addInt("unsigned long long", 8, false);
 * const value = b.addStruct("start", 8, [{ name: "ns", type: u64, offset: 0 }]);
 * const blob = b.build();
 * console.assert(int === 1 && value === 3 && blob.length > 24);
 * ```
 */
export class BtfBuilder {
  #types: number[] = [];
  #strings: number[] = [0];
  #count = 0;

  #name(s: string): number {
    if (s === "") return 0;
    const off = this.#strings.length;
    this.#strings.push(...new TextEncoder().encode(s), 0);
    return off;
  }

  #add(words: number[]): number {
    this.#types.push(...words);
    return ++this.#count;
  }

  /**
   * An integer type.
   * @param name e.g. `int`
   * @param size bytes: 1, 2, 4, 8 or 16
   * @param signed whether it is signed
   * @returns its id
   */
  addInt(name: string, size: number, signed: boolean): number {
    const encoding = signed ? 1 : 0;
    return this.#add([this.#name(name), BtfKind.INT << 24, size, (encoding << 24) | (size * 8)]);
  }

  /**
   * An array type.
   * @param elem the element's type id
   * @param index the index's type id (an int)
   * @param count the number of elements
   * @returns its id
   */
  addArray(elem: number, index: number, count: number): number {
    return this.#add([0, BtfKind.ARRAY << 24, 0, elem, index, count]);
  }

  /**
   * A struct type.
   * @param name its name
   * @param size its size in bytes
   * @param members its members, in order of offset
   * @returns its id
   */
  addStruct(name: string, size: number, members: BtfMemberSpec[]): number {
    const words = [this.#name(name), (BtfKind.STRUCT << 24) | members.length, size];
    for (const m of members) words.push(this.#name(m.name), m.type, m.offset * 8);
    return this.#add(words);
  }

  /**
   * The blob: header, types, strings.
   * @returns the BTF bytes
   */
  build(): Uint8Array {
    const typeLen = this.#types.length * 4;
    const out = new Uint8Array(new ArrayBuffer(HEADER_LEN + typeLen + this.#strings.length));
    const v = new DataView(out.buffer);
    v.setUint16(0, MAGIC, true);
    v.setUint8(2, 1); // version
    v.setUint8(3, 0); // flags
    v.setUint32(4, HEADER_LEN, true);
    v.setUint32(8, 0, true); // type_off
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true); // str_off
    v.setUint32(20, this.#strings.length, true);
    this.#types.forEach((w, i) => v.setUint32(HEADER_LEN + i * 4, w >>> 0, true));
    out.set(this.#strings, HEADER_LEN + typeLen);
    return out;
  }
}

/** A loaded BTF object and the ids of a map's key and value types in it. */
export interface MapBtf extends Disposable {
  /** The BTF object (close it once the map is created: the map keeps its own reference). */
  fd: Fd;
  /** The key's type id. */
  keyTypeId: number;
  /** The value's type id. */
  valueTypeId: number;
}

/**
 * Loads the BTF a task storage map needs: an `int` key (a pidfd) and a
 * struct value of `valueSize` bytes (an array of bytes inside).
 * @param valueSize the value's size in bytes
 * @returns the loaded BTF with the key and value ids; dispose it after MAP_CREATE
 * @throws ErrnoError when the kernel refuses the BTF
 */
export function loadTaskStorageBtf(valueSize: number): MapBtf {
  const b = new BtfBuilder();
  const int = b.addInt("int", 4, true);
  const u8 = b.addInt("unsigned char", 1, false);
  const bytes = b.addArray(u8, int, valueSize);
  const value = b.addStruct("ioscope_value", valueSize, [
    { name: "bytes", type: bytes, offset: 0 },
  ]);
  const fd = new Fd(btfLoad(b.build()), "a BTF object");
  return {
    fd,
    keyTypeId: int,
    valueTypeId: value,
    [Symbol.dispose]() {
      fd.close();
    },
  };
}
