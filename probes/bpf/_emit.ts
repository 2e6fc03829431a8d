/**
 * Instruction fragments the bpf backend's programs share: reading a
 * tracepoint's arguments the way the attach kind presents them, the
 * "is this process traced?" test, counters, the bucket slot (schema/buckets.ts), and
 * the bookkeeping of one ended call. Each fragment is a short list of
 * instructions with a comment per step; its labels carry a prefix so that a
 * program can use a fragment more than once.
 *
 * Register conventions in every program, as names: {@linkcode CTX} (R6)
 * holds the context until a program no longer needs it; R7-R9 are the
 * program's own, named with `roles` where it declares them; fragments use
 * R0-R5 (a helper call overwrites them) and the stack slots of
 * {@linkcode KEY_SLOTS} and {@linkcode END_SLOTS}, which a program's own
 * slots go below (`stackFrame({...}, { below: END_SLOTS })`).
 * @module
 */

import {
  add,
  and,
  arsh,
  BPF_NOEXIST,
  call,
  Helper,
  type Insn,
  type Instruction,
  ja,
  jeq,
  jge,
  jgt,
  jlt,
  jne,
  label,
  ldImm64,
  ldx,
  loadMapFd,
  loadMapValue,
  lsh,
  mov,
  neg,
  R0,
  R1,
  R10,
  R2,
  R3,
  R4,
  R6,
  R7,
  R9,
  type Reg,
  roles,
  rsh,
  type SavedReg,
  st,
  stackFrame,
  stx,
  sub,
} from "../../ffi/bpf/mod.ts";
import { SLOT_THRESHOLDS, SUB_BUCKETS } from "../../schema/mod.ts";
import { COUNTER, GATE, HIST_BUCKETS, OP } from "./layout.ts";

/** Where a program keeps its context (R1 at entry) across helper calls; {@linkcode loadArg} reads it there. */
export const CTX: SavedReg = R6;

/**
 * The stack slots of the lookup fragments, at the top of every frame:
 * {@linkcode countOne}'s and the histograms' u32 array key, and
 * the u32 key of the targets map ({@linkcode ifTraced}'s thread group id).
 */
export const KEY_SLOTS = stackFrame({ arrayKey: 4, targetKey: 4 });

/**
 * The stack slots {@linkcode recordEnd} uses beyond {@linkcode KEY_SLOTS}:
 * the op's slot (u32, the caller's input) and the errno key and its first
 * count (u64 each).
 */
export const END_SLOTS = stackFrame(
  { opSlot: { size: 4, align: 8 }, errnoKey: 8, errnoOne: 8 },
  { below: KEY_SLOTS },
);

/** What {@linkcode recordEnd} reads: the op's totals, the latency, the result. */
export const END = roles({ totals: R6, latency: R7, result: R9 });

/** How a program is attached, which decides how it sees its arguments. */
export type ProgramKind = "raw_tp" | "tp" | "fentry";

/** Where a classic tracepoint's field lies in its record (from tracefs `format`). */
export interface FieldPlace {
  offset: number;
  size: number;
  signed: boolean;
}

/**
 * One tracepoint argument: its index among a raw tracepoint's (and a
 * fentry/fexit program's) u64 arguments, and the name of the classic
 * tracepoint's field that carries the same value.
 */
export interface ArgSpec {
  raw: number;
  field: string;
}

/** What every program builder is given: the attach kind and the maps' descriptors. */
export interface BuildContext {
  kind: ProgramKind;
  /** The classic tracepoint's field places (kind "tp"): `event` is `group:name`. */
  field(event: string, field: string): FieldPlace;
  maps: MapFds;
  /** Who is traced. */
  filter: TargetFilter;
  /**
   * The byte offset of `thread_info.status` in `task_struct` (x86, from the
   * kernel's BTF): 32-bit syscalls are counted apart. Absent: not checked.
   */
  compatStatusOffset?: number;
}

/** The descriptors of the maps the programs use. */
export interface MapFds {
  /** The gate (layout.ts GATE): a one-entry array the counting programs read first. */
  gate: number;
  targets: number;
  starts: number;
  /** True when `starts` is task storage; false: a hash keyed by thread id. */
  startsInTaskStorage: boolean;
  sysOps: number;
  sysHist: number;
  errnos: number;
  fds: number;
  counters: number;
  uringReqs: number;
  /** Ring and user_data to request pointer (completions posted without the request). */
  uringUserData: number;
  uringOps: number;
  uringHist: number;
}

/** Beyond the targets map: a cgroup whose processes are all traced. */
export interface TargetFilter {
  /** cgroup v2 id and its level (depth below the root): every process in it or below. */
  cgroup?: { id: bigint; level: number };
  /** --comm NAME: processes that take this name (exec, rename, fork) join. */
  comm?: string;
  /** Processes the traced ones fork join. */
  followChildren?: boolean;
}

/**
 * `dst = the argument` as the program's kind presents it: a raw tracepoint
 * (and fentry/fexit) gets an array of u64 arguments, a classic tracepoint
 * the record with each field at its offset. The context is in {@linkcode CTX}.
 * @param b the build context
 * @param dst the register to load
 * @param event the classic tracepoint, `group:name`
 * @param arg the argument
 * @returns the instructions
 */
export function loadArg(b: BuildContext, dst: Reg, event: string, arg: ArgSpec): Instruction[] {
  if (b.kind !== "tp") return [ldx.dw(dst, CTX, arg.raw * 8)];
  const f = b.field(event, arg.field);
  switch (f.size) {
    case 8:
      return [ldx.dw(dst, CTX, f.offset)];
    case 4:
      // Sign-extend a signed int so that results like -EAGAIN compare as negative.
      return f.signed
        ? [ldx.w(dst, CTX, f.offset), lsh.imm(dst, 32), arsh.imm(dst, 32)]
        : [ldx.w(dst, CTX, f.offset)];
    case 2:
      return [ldx.h(dst, CTX, f.offset)];
    case 1:
      return [ldx.b(dst, CTX, f.offset)];
    default:
      throw new RangeError(`Cannot load ${event} field ${arg.field} of ${f.size} bytes`);
  }
}

/**
 * Leaves by `out` unless the gate is open: the first instructions of every
 * counting program, so that what they count lies in one window (the agent
 * opens and closes the gate) and a closed gate costs a program three
 * instructions, a load of the gate's word by its address with no helper call.
 * @param b the build context
 * @param out the label to leave by
 * @returns the instructions (they use R0 only: the context in R1 is kept)
 */
export function ifOpen(b: BuildContext, out: string): Instruction[] {
  return [
    loadMapValue(R0, b.maps.gate, 0),
    ldx.dw(R0, R0, 0),
    jeq.imm(R0, GATE.closed, out),
  ];
}

/**
 * `R0 = bpf_map_lookup_elem(map, fp + keyOff)`.
 * @param mapFd the map
 * @param keyOff the key's stack offset (negative)
 * @returns the instructions
 */
export function lookup(mapFd: number, keyOff: number): Instruction[] {
  return [
    loadMapFd(R1, mapFd),
    mov.reg(R2, R10),
    add.imm(R2, keyOff),
    call(Helper.map_lookup_elem),
  ];
}

/**
 * `R0 = bpf_map_update_elem(map, fp + keyOff, fp + valueOff, flags)`: 0 or a
 * negative errno.
 * @param mapFd the map
 * @param keyOff the key's stack offset (negative)
 * @param valueOff the value's stack offset (negative)
 * @param flags BPF_ANY, BPF_NOEXIST, ...
 * @returns the instructions
 */
export function update(
  mapFd: number,
  keyOff: number,
  valueOff: number,
  flags: number,
): Instruction[] {
  return [
    loadMapFd(R1, mapFd),
    mov.reg(R2, R10),
    add.imm(R2, keyOff),
    mov.reg(R3, R10),
    add.imm(R3, valueOff),
    mov.imm(R4, flags),
    call(Helper.map_update_elem),
  ];
}

/**
 * `R0 = bpf_map_delete_elem(map, fp + keyOff)`.
 * @param mapFd the map
 * @param keyOff the key's stack offset (negative)
 * @returns the instructions
 */
export function remove(mapFd: number, keyOff: number): Instruction[] {
  return [
    loadMapFd(R1, mapFd),
    mov.reg(R2, R10),
    add.imm(R2, keyOff),
    call(Helper.map_delete_elem),
  ];
}

/**
 * `*(u64 *)(ptr + off) += 1` (a per-CPU value: no other CPU writes it).
 * @param ptr the value pointer
 * @param off the byte offset
 * @returns the instructions (they use R1)
 */
export function increment(ptr: Reg, off: number): Instruction[] {
  return [ldx.dw(R1, ptr, off), add.imm(R1, 1), stx.dw(ptr, off, R1)];
}

/**
 * `*(u64 *)(ptr + off) += src`.
 * @param ptr the value pointer
 * @param off the byte offset
 * @param src the register to add
 * @returns the instructions (they use R1)
 */
export function addTo(ptr: Reg, off: number, src: Reg): Instruction[] {
  return [ldx.dw(R1, ptr, off), add.reg(R1, src), stx.dw(ptr, off, R1)];
}

/**
 * Adds one to a per-CPU counter (COUNTER layout).
 * @param b the build context
 * @param index the counter's index, or `{ reg }`: the register holding it
 * @param prefix label prefix, unique in the program
 * @returns the instructions (they use R0-R5 and KEY_SLOTS.arrayKey)
 */
export function countOne(b: BuildContext, index: number | { reg: Reg }, prefix: string): Insn[] {
  const key = KEY_SLOTS.arrayKey;
  return [
    typeof index === "number" ? st.w(R10, key, index) : stx.w(R10, key, index.reg),
    ...lookup(b.maps.counters, key),
    jeq.imm(R0, 0, `${prefix}_done`),
    ...increment(R0, 0),
    label(`${prefix}_done`),
  ];
}

/**
 * Goes on only if the current process is traced: its thread group id is in
 * the targets map, or (with --cgroup) it runs in the cgroup or below it.
 * Otherwise jumps to `out`.
 * @param b the build context
 * @param out the label to leave by
 * @returns the instructions (they use R0-R5 and KEY_SLOTS.targetKey)
 */
export function ifTraced(b: BuildContext, out: string): Insn[] {
  const cgroup = b.filter.cgroup;
  return [
    call(Helper.get_current_pid_tgid),
    rsh.imm(R0, 32), // the thread group id
    stx.w(R10, KEY_SLOTS.targetKey, R0),
    ...lookup(b.maps.targets, KEY_SLOTS.targetKey),
    jne.imm(R0, 0, "traced"),
    ...(cgroup
      ? [
        // The cgroup at the target's level above the current task's own.
        mov.imm(R1, cgroup.level),
        call(Helper.get_current_ancestor_cgroup_id),
        ldImm64(R1, cgroup.id),
        jeq.reg(R0, R1, "traced"),
      ]
      : []),
    ja(out),
    label("traced"),
  ];
}

/**
 * `R1 = the slot of value` (schema/buckets.ts: base-2 exponential buckets,
 * Prometheus schema 4 in seconds): 0 for 0 ns; else with `k = floor(log2
 * value)` (by halving the search six times, as io_syscalls.bt does) and
 * `m = value << (62 - k)`, `16k + 1 + #{t : m > SLOT_THRESHOLDS[t]}`, the count
 * found in four or five compares. A value of 2^48 ns or more: the last slot.
 * @param value the value register (kept)
 * @param prefix label prefix
 * @returns the instructions (they use R1-R4)
 */
export function bucketIndex(value: Reg, prefix: string): Insn[] {
  const e = R2, v = R3, t = R4;
  const step = (bits: number): Insn[] => [
    mov.reg(t, v),
    rsh.imm(t, bits),
    jeq.imm(t, 0, `${prefix}_lt${bits}`), // v < 2^bits
    add.imm(e, bits),
    mov.reg(v, t),
    label(`${prefix}_lt${bits}`),
  ];
  // The thresholds below m, known to lie within [lo, hi]: a binary search.
  const count = (lo: number, hi: number): Insn[] => {
    if (lo === hi) return [add.imm(R1, lo), ja(`${prefix}_in`)];
    const mid = (lo + hi + 1) >> 1; // m > threshold mid ⇔ count >= mid
    return [
      ldImm64(t, SLOT_THRESHOLDS[mid - 1]!),
      jgt.reg(v, t, `${prefix}_ge${mid}_${lo}_${hi}`),
      ...count(lo, mid - 1),
      label(`${prefix}_ge${mid}_${lo}_${hi}`),
      ...count(mid, hi),
    ];
  };
  return [
    mov.imm(R1, 0),
    jeq.imm(value, 0, `${prefix}_in`),
    mov.imm(R1, HIST_BUCKETS - 1),
    mov.reg(v, value),
    rsh.imm(v, 48),
    jne.imm(v, 0, `${prefix}_in`), // past 2^48 ns: the last slot
    mov.imm(e, 0),
    mov.reg(v, value),
    ...step(32),
    ...step(16),
    ...step(8),
    ...step(4),
    ...step(2),
    ...step(1),
    // m = value << (62 - k); R1 = 16k + 1
    mov.reg(v, value),
    mov.imm(t, 62),
    sub.reg(t, e),
    lsh.reg(v, t),
    mov.reg(R1, e),
    lsh.imm(R1, 4),
    add.imm(R1, 1),
    ...count(0, SUB_BUCKETS),
    label(`${prefix}_in`),
    // Never true; it bounds R1 for the verifier, which does not follow k.
    jlt.imm(R1, HIST_BUCKETS, `${prefix}_ok`),
    mov.imm(R1, HIST_BUCKETS - 1),
    label(`${prefix}_ok`),
  ];
}

/**
 * Counts `value` in its bucket of histogram `key` (a per-CPU array of
 * HIST_BUCKETS u64 per key).
 * @param histFd the histogram map
 * @param keyOff the stack offset holding the u32 key
 * @param value the latency register (kept)
 * @param prefix label prefix
 * @returns the instructions (they use R0-R5)
 */
export function histogramAdd(histFd: number, keyOff: number, value: Reg, prefix: string): Insn[] {
  return [
    ...lookup(histFd, keyOff),
    jeq.imm(R0, 0, `${prefix}_done`),
    ...bucketIndex(value, `${prefix}_b`),
    lsh.imm(R1, 3), // bucket -> byte offset
    add.reg(R0, R1),
    ldx.dw(R1, R0, 0),
    add.imm(R1, 1),
    stx.dw(R0, 0, R1),
    label(`${prefix}_done`),
  ];
}

/** How {@linkcode recordEnd} tells the kinds of result apart. */
export interface EndSpec {
  histFd: number;
  errnosFd: number;
  /** ERRNO_KIND of the op. */
  errnoKind: number;
  /** Jumps to `${prefix}_failed` when the result (R9) is an error. */
  ifFailed: Insn[];
  /** Jumps to `${prefix}_nobytes` when a successful result is not a byte count. */
  ifNotBytes: Insn[];
}

/**
 * Books one ended call or request: count, latency sum, maximum, errors by
 * errno, bytes, and the latency histogram of successful or failed ones.
 * In: {@linkcode END} (R6 = the op's totals, OP layout; R7 = latency; R9 =
 * result) and the op's slot (u32) at END_SLOTS.opSlot.
 * @param b the build context
 * @param spec how results are classified, and where they go
 * @param prefix label prefix
 * @returns the instructions (they use R0-R5 and END_SLOTS)
 */
export function recordEnd(b: BuildContext, spec: EndSpec, prefix: string): Insn[] {
  const p = prefix;
  const { totals, latency, result } = END;
  const fp = END_SLOTS;
  return [
    ...increment(totals, OP.count * 8),
    // The slowest call so far (on this CPU).
    ldx.dw(R1, totals, OP.maxNs * 8),
    jge.reg(R1, latency, `${p}_max_kept`),
    stx.dw(totals, OP.maxNs * 8, latency),
    label(`${p}_max_kept`),
    ...spec.ifFailed,
    // Success: latency and bytes; the histogram of successful calls.
    ...addTo(totals, OP.okNs * 8, latency),
    ...spec.ifNotBytes,
    ...addTo(totals, OP.bytes * 8, result),
    label(`${p}_nobytes`),
    ldx.w(R1, R10, fp.opSlot),
    lsh.imm(R1, 1), // key = slot * 2 + HIST_OK
    stx.w(R10, fp.arrayKey, R1),
    ja(`${p}_hist`),
    // Failure: errors, their latency apart, by errno; the failed calls' histogram.
    label(`${p}_failed`),
    ...increment(totals, OP.errors * 8),
    ...addTo(totals, OP.errNs * 8, latency),
    ...countErrno(b, spec, p),
    ldx.w(R1, R10, fp.opSlot),
    lsh.imm(R1, 1),
    add.imm(R1, 1), // key = slot * 2 + HIST_FAILED
    stx.w(R10, fp.arrayKey, R1),
    label(`${p}_hist`),
    ...histogramAdd(spec.histFd, fp.arrayKey, latency, `${p}_h`),
  ];
}

/**
 * errnos[kind << 48 | slot << 32 | -result] += 1, inserting the key with 1
 * when new; when another CPU inserted it meanwhile (EEXIST), adding to this
 * CPU's copy of that one.
 */
function countErrno(b: BuildContext, spec: EndSpec, p: string): Insn[] {
  const fp = END_SLOTS;
  return [
    ldx.w(R1, R10, fp.opSlot),
    lsh.imm(R1, 32),
    ...(spec.errnoKind ? [ldImm64(R2, BigInt(spec.errnoKind) << 48n), add.reg(R1, R2)] : []),
    mov.reg(R2, END.result),
    neg(R2), // errno = -result
    and.imm(R2, 0xffff),
    add.reg(R1, R2),
    stx.dw(R10, fp.errnoKey, R1),
    ...lookup(spec.errnosFd, fp.errnoKey),
    jeq.imm(R0, 0, `${p}_errno_new`),
    ...increment(R0, 0),
    ja(`${p}_errno_done`),
    label(`${p}_errno_new`),
    st.dw(R10, fp.errnoOne, 1),
    ...update(spec.errnosFd, fp.errnoKey, fp.errnoOne, BPF_NOEXIST),
    jeq.imm(R0, 0, `${p}_errno_done`), // inserted with its count of 1
    jne.imm(R0, -17, `${p}_errno_full`),
    // EEXIST: another CPU inserted it meanwhile (this CPU's copy is 0).
    ...lookup(spec.errnosFd, fp.errnoKey),
    jeq.imm(R0, 0, `${p}_errno_done`),
    ...increment(R0, 0),
    ja(`${p}_errno_done`),
    label(`${p}_errno_full`),
    ...countOne(b, COUNTER.errnoFull, `${p}_errno_full`),
    label(`${p}_errno_done`),
  ];
}
