/**
 * What the time split and the block layer add to a {@linkcode Snapshot}:
 * cumulative totals, as every backend's figures are.
 * @module
 */

/** Where the time of one op's calls went, summed over the calls. */
export interface TimeSplitTotals {
  /** Calls booked. */
  count: number;
  /** Their latencies, summed: cpu + runqueue + disk + other. */
  total_ns: number;
  cpu_ns: number;
  runqueue_ns: number;
  disk_ns: number;
  other_ns: number;
  /** Page faults taken inside the calls. */
  faults: number;
  /** TLB flushes of their own address space and shootdown IPIs sent, inside the calls. */
  tlb_flushes: number;
}

/** The split of all calls of an op and of its slow ones. */
export interface OpSplit {
  all: TimeSplitTotals;
  slow: TimeSplitTotals;
}

/** Completed block requests of one device in one direction. */
export interface BlockTotals {
  count: number;
  bytes: number;
  /** Issue to complete, summed over timed requests. */
  total_ns: number;
  /** Requests issued before the probes were attached: counted, not timed. */
  untimed: number;
  /**
   * Completions no program saw (the kernel ran none of ours in that
   * context), found when the request's memory was issued again: counted,
   * not timed.
   */
  unseen: number;
  /** Issue-to-complete latency, bucket index to count. */
  hist: Map<number, number>;
  /** Queue to complete (from the kernel's start of the request), summed over `queued`. */
  queue_ns: number;
  /** Timed requests the kernel gave a start (request.start_time_ns). */
  queued: number;
  /** Queue-to-complete latency, bucket index to count. */
  queueHist: Map<number, number>;
}

/** One device's requests: all of them, and those the traced processes issued. */
export interface BlockDevice {
  read: BlockTotals;
  write: BlockTotals;
  traced: { read: BlockTotals; write: BlockTotals };
}

/** An empty split. */
export function emptySplit(): TimeSplitTotals {
  return {
    count: 0,
    total_ns: 0,
    cpu_ns: 0,
    runqueue_ns: 0,
    disk_ns: 0,
    other_ns: 0,
    faults: 0,
    tlb_flushes: 0,
  };
}

/** Empty block totals. */
export function emptyBlockTotals(): BlockTotals {
  return {
    count: 0,
    bytes: 0,
    total_ns: 0,
    untimed: 0,
    unseen: 0,
    hist: new Map(),
    queue_ns: 0,
    queued: 0,
    queueHist: new Map(),
  };
}
