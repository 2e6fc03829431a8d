/**
 * The memory of the time split's programs (why.ts) and their reader
 * (why_maps.ts): map names, sizes and the layout of every value, as u64 word
 * indexes. Nothing here runs code.
 * @module
 */

/**
 * A traced task's state while it is inside a traced call (a hash keyed by
 * thread id, u64 words). Accumulators belong to the call that started at
 * `callStart` (the start value the syscall programs stored): a program that
 * finds another start resets them first.
 */
export const WHY_TASK = {
  /** The start (ns) of the call the accumulators below belong to. */
  callStart: 0,
  /** When the task left the CPU inside that call (0: on a CPU). */
  offNs: 1,
  /** What it has been doing since offNs (WHY_MODE). */
  mode: 2,
  runqNs: 3,
  diskNs: 4,
  otherNs: 5,
  /** User page faults taken inside the call. */
  faults: 6,
  /** Block requests the task issued that have not completed (signed). */
  inflight: 7,
  /** TLB flushes of its own address space and shootdown IPIs it sent, inside the call. */
  tlb: 8,
  words: 9,
} as const;
/** Bytes of a WHY_TASK value. */
export const WHY_TASK_BYTES = WHY_TASK.words * 8;

/** What a task off the CPU is waiting for. */
export const WHY_MODE = {
  /** Runnable, waiting for a CPU (preempted, or woken and not yet switched in). */
  runq: 1,
  /** Asleep with none of its block requests in flight. */
  other: 2,
  /** Asleep while a block request it issued was in flight. */
  disk: 3,
} as const;

/**
 * Per-CPU totals of ended calls' split, keyed `slot * 2 + WHY_ALL` or
 * `slot * 2 + WHY_SLOW` (u64 words). on-CPU time is what is left of the
 * call's latency once the waits are taken off.
 */
export const SPLIT = {
  count: 0,
  totalNs: 1,
  cpuNs: 2,
  runqNs: 3,
  diskNs: 4,
  otherNs: 5,
  faults: 6,
  tlb: 7,
  words: 8,
} as const;
/** See {@linkcode SPLIT}. */
export const WHY_ALL = 0;
/** See {@linkcode SPLIT}: calls at or above their syscall's slow threshold. */
export const WHY_SLOW = 1;

/** Block devices one trace keeps apart (more share nothing: not counted, said so). */
export const BLOCK_DEVICES = 32;

/** A block request in flight: the in-flight hash is keyed by the request's address (u64). */
export const RQ_KEY = { bytes: 8 } as const;
/** Value of the in-flight hash. */
export const RQ_VALUE = {
  bytes: 32,
  issueNs: 0,
  /** The thread that issued it, when it is traced (u32; 0: not one of ours). */
  tid: 8,
  /** Its size in bytes (u32). */
  size: 12,
  /** The disk's dev_t as tracepoints record it (MKDEV: major << 20 | minor; u32). */
  dev: 16,
  /** REQ_OP: 0 read, 1 write, 2 flush, ... (u32); only reads and writes are booked. */
  write: 20,
  /**
   * `request.start_time_ns` at issue (u64): set when the request is
   * allocated, so a request issued again with the same one is a requeue, and
   * with another one a new request in the same memory, whose predecessor's
   * completion no program saw.
   */
  startNs: 24,
} as const;

/**
 * Per-CPU totals of completed block requests, keyed
 * `device slot * 4 + rw * 2 + traced` (rw 0 read, 1 write; traced 1 when a
 * traced task issued it).
 */
export const BLK = {
  count: 0,
  bytes: 1,
  /** Issue-to-complete time summed over timed requests. */
  totalNs: 2,
  /** Completions of requests issued before the programs were attached: counted, not timed. */
  untimed: 3,
  /**
   * Completions no program saw (the kernel ran none of ours where the
   * request completed), found when the request's memory was issued again:
   * counted, not timed.
   */
  unseen: 4,
  /**
   * Queue to complete summed over the timed requests the kernel gave a start
   * (`request.start_time_ns`, the clock of /sys/block's ticks).
   */
  queueNs: 5,
  /** Timed requests with a start: those in queueNs. */
  queued: 6,
  words: 7,
} as const;

/** Capacities of the hashes. */
export const WHY_CAPACITY = { tasks: 16_384, requests: 16_384 } as const;

/** Map names as the kernel shows them (15 characters at most). */
export const WHY_MAP_NAMES = {
  tasks: "ios_why_tasks",
  split: "ios_why_split",
  slowNs: "ios_why_slow",
  requests: "ios_blk_reqs",
  devices: "ios_blk_devs",
  blockOps: "ios_blk_ops",
  blockHist: "ios_blk_hist",
  blockQHist: "ios_blk_qhist",
} as const;
