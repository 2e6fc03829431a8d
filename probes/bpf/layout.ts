/**
 * The memory the bpf backend's kernel programs and its reader share: map
 * names and sizes, and the layout of every value. The programs write these
 * words; {@linkcode ./_read.ts} reads them back. Nothing here runs code.
 *
 * Values are arrays of u64 words (per-CPU where the programs only add), so a
 * layout is a list of word indexes.
 * @module
 */

import { SLOTS } from "../../schema/mod.ts";

/**
 * Buckets (slots, schema/buckets.ts) one histogram holds: 0 ns, then every
 * latency below 2^48 ns (78 hours); a longer one is counted in the last slot.
 */
export const HIST_BUCKETS = SLOTS;
/** Bytes of one histogram value (a per-CPU array value of HIST_BUCKETS u64). */
export const HIST_VALUE_BYTES = HIST_BUCKETS * 8;

/** Syscalls one trace can time at most. */
export const SYSCALL_SLOTS = 64;
/** io_uring opcodes with a slot of their own; larger ones share the last. */
export const URING_OP_SLOTS = 64;

/**
 * The slot value of a traced syscall number (the entry program finds it by a
 * search over immediates, _syscalls.ts): its slot plus one, and flags.
 */
export const SLOT = {
  /** Mask of the slot-plus-one part. */
  indexMask: 0xffff,
  /** Set when a non-negative result is a byte count (read, write, ...). */
  bytesFlag: 1 << 16,
  /** Set when the first argument is a file descriptor (per-descriptor totals). */
  fdFlag: 1 << 17,
  /**
   * Set when the number is also i386's number of a traced syscall: a 32-bit
   * (compat) call with it is counted apart (`COUNTER.compat`). A number that
   * is only i386's has this flag and slot 0.
   */
  compatFlag: 1 << 18,
} as const;

/**
 * Where a traced call started: the value of the task-storage map (or of the
 * tid-keyed hash where task storage is missing). 16 bytes.
 */
export const START = {
  bytes: 16,
  /** ktime_get_ns() at entry; 0 when the task is not inside a traced call. */
  startNs: 0,
  /** The slot-table value of the call (u32). */
  slot: 8,
  /** The call's descriptor (its first argument), or NO_FD (u32). */
  fd: 12,
} as const;

/** START.fd of a call that takes no descriptor. */
export const NO_FD = 0xffff_ffff;

/** Key of the per-descriptor map: process, descriptor, syscall slot (u32 each, and padding). */
export const FD_KEY = { bytes: 16, tgid: 0, fd: 4, slot: 8 } as const;
/** Word indexes of a per-descriptor value (per-CPU hash). */
export const FD_VALUE = { count: 0, errors: 1, bytes: 2, totalNs: 3, words: 4 } as const;

/** One in-flight io_uring request: value of the request-pointer hash. */
export const URING_START = {
  bytes: 16,
  startNs: 0,
  /** The opcode (u32). */
  op: 8,
  /** 1 once a multishot request has completed at least once (u32). */
  multishot: 12,
} as const;

/**
 * Key of the ring-and-user_data hash (value: the request pointer, u64): the
 * kernel posts all but a multishot request's last completion without the
 * request (io_fill_cqe_aux traces req NULL), so those are found by this.
 */
export const URING_UD_KEY = { bytes: 16, ctx: 0, userData: 8 } as const;

/** Word indexes of a per-op totals value (per-CPU array, key = slot or opcode). */
export const OP = {
  /** Calls that ended (successful and failed; restarts excluded). */
  count: 0,
  errors: 1,
  bytes: 2,
  /** Latency sum of successful calls. */
  okNs: 3,
  /** Largest latency of any call (per CPU; the reader takes the max). */
  maxNs: 4,
  /** Calls ended by a kernel restart code (-512..-516); not calls, not errors. */
  restarts: 5,
  /** Calls that started (a start stored); started - ended - restarts = in flight. */
  started: 6,
  /** io_uring: requests punted to io-wq. */
  async: 7,
  /** io_uring: completions of multishot requests after the first. */
  multishot: 8,
  /** io_uring: requests submitted with IOSQE_CQE_SKIP_SUCCESS (no completion to time). */
  untimed: 9,
  /** Latency sum of failed calls. */
  errNs: 10,
  /** io_uring: first completions of multishot requests (IORING_CQE_F_MORE set). */
  multishotFirst: 11,
  words: 12,
} as const;
/** Bytes of a per-op totals value. */
export const OP_VALUE_BYTES = OP.words * 8;

/** Histogram keys: `slot * 2 + HIST_OK` or `slot * 2 + HIST_FAILED`. */
export const HIST_OK = 0;
/** See {@linkcode HIST_OK}. */
export const HIST_FAILED = 1;

/** Indexes into the per-CPU counters array (one u64 each). */
export const COUNTER = {
  /** User page faults of traced processes. */
  faults: 0,
  /** Context switches away from a traced task: it blocked. */
  voluntary: 1,
  /** ... it was preempted. */
  involuntary: 2,
  /** A start could not be stored (task storage or tid hash full): a call not timed. */
  startFull: 3,
  /** An io_uring request could not be remembered (hash full). */
  uringFull: 4,
  /** A process could not join the traced set (hash full). */
  targetsFull: 5,
  /** An errno count could not be stored (hash full). */
  errnoFull: 6,
  /** A descriptor's totals could not be stored (hash full). */
  fdFull: 7,
  /** 32-bit (compat) calls of the traced syscalls (by i386's numbers) of traced processes: not timed. */
  compat: 8,
  /**
   * Not a count: per CPU, 1 when the task switched to last on it had its TLB
   * flushed on the way in (tlb:tlb_flush task_switch fires after
   * sched_switch, in the outgoing task's name); the switch away from that
   * task books the flush to it and clears this.
   */
  switchFlushed: 9,
  /** TLB flushes by reason: `tlbBase + reason` (reason < tlbReasons). */
  tlbBase: 16,
  tlbReasons: 16,
  slots: 32,
} as const;

/** Errno map keys: `kind << 48 | slot << 32 | errno`. */
export const ERRNO_KIND = { syscall: 0, uring: 1 } as const;

/**
 * Capacities of the hash maps (a full one is counted, never silent). A hash's
 * bucket array is sized at creation even without preallocation: 65536 entries
 * took 37 ms to create here, 8192 took 1.2 ms.
 */
export const CAPACITY = {
  /** Processes traced at once. */
  targets: 8_192,
  /** tid-keyed starts where task storage is missing: threads inside a traced call. */
  startsByTid: 16_384,
  /** io_uring requests in flight (also the ring-and-user_data hash's). */
  uringRequests: 16_384,
  errnos: 4_096,
  fds: 16_384,
} as const;

/**
 * The gate: a one-entry array map whose one word every counting program reads
 * first (a direct load of the map's value: no helper call) and leaves at once
 * while it is 0. The agent opens it (1) once every program is attached and
 * /proc has been read, and closes it (0) at the window's end before it reads
 * /proc again and detaches, so every counter covers one window.
 */
export const GATE = { bytes: 8, closed: 0, open: 1 } as const;

/** Map names as the kernel shows them (15 characters at most). */
export const MAP_NAMES = {
  gate: "ios_gate",
  targets: "ios_targets",
  starts: "ios_starts",
  sysOps: "ios_sys_ops",
  sysHist: "ios_sys_hist",
  errnos: "ios_errnos",
  fds: "ios_fds",
  counters: "ios_counters",
  uringReqs: "ios_uring_reqs",
  uringUserData: "ios_uring_ud",
  uringOps: "ios_uring_ops",
  uringHist: "ios_uring_hist",
} as const;

/** Every program and map of ours carries this prefix (leftover checks look for it). */
export const OBJECT_PREFIX = "ios_";
