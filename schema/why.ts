/**
 * The Run document's time split and block layer (fields added to
 * `ioscope.run/1`; absent in documents written before them).
 * @module
 */

import type { Bucket } from "./run.ts";

/**
 * Where the time of an op's calls went, nanoseconds summed over the calls:
 * on a CPU, runnable but waiting for one (run queue), asleep while a block
 * request the task issued was in flight (disk), asleep otherwise (other).
 * The four add up to `total_ns`, the calls' latencies summed.
 */
export interface TimeSplit {
  cpu_ns: number;
  runqueue_ns: number;
  disk_ns: number;
  other_ns: number;
  /** Page faults taken inside the calls (copies to and from user memory). */
  faults: number;
  /**
   * TLB flushes the calls made (x86 `tlb:tlb_flush` inside them: flushes of
   * the process's own address space, local_shootdown and local_mm_shootdown,
   * and shootdown IPIs sent to other CPUs, remote_ipi_send); absent in
   * documents written before it.
   */
  tlb_flushes?: number;
  /** Calls booked. */
  count: number;
  total_ns: number;
}

/** Completed block requests of a device in one direction, issue to complete. */
export interface BlockStats {
  count: number;
  bytes: number;
  p50_ns: number;
  p99_ns: number;
  /** Mean issue-to-complete latency of the timed requests. */
  mean_ns: number;
  /** Requests in flight on average over the trace (Little's law: time in flight / duration). */
  in_flight_mean: number;
  /** Requests issued before the probes were attached: counted, not timed. */
  untimed: number;
  /**
   * Completions none of ioscope's programs saw (the kernel ran none in the
   * context the request completed in: docs/why.md), found when the
   * request's memory was issued again: counted, not timed. Absent in
   * documents written before it.
   */
  unseen?: number;
  buckets: Bucket[];
  /**
   * Queue to complete: from the kernel's own start of each timed request
   * (`request.start_time_ns`, set as the request is made from its bio,
   * before any scheduler queue; the clock of /sys/block/DEV/stat's ticks)
   * to its completion. Absent where the kernel kept no start (I/O
   * statistics off and no scheduler), and in documents written before it.
   */
  queued?: BlockQueueStats;
}

/** Queue-to-complete latency of a device's timed requests in one direction. */
export interface BlockQueueStats {
  /** Timed requests with a start. */
  count: number;
  p50_ns: number;
  p99_ns: number;
  mean_ns: number;
  buckets: Bucket[];
}

/** One device, reads and writes apart; the traced processes' requests again apart. */
export interface BlockDeviceStats {
  read: BlockStats;
  write: BlockStats;
  traced: { read: BlockStats; write: BlockStats };
}

/** The block layer while the trace ran: every request of each device (`NAME` as in /sys/block). */
export interface BlockLayer {
  devices: Record<string, BlockDeviceStats>;
}

/** What `time_split` and `slow_time_split` mean, written into `meta.time_split`. */
export const TIME_SPLIT_NOTE =
  "time_split: all calls; slow_time_split: calls at or above the low edge of the bucket holding their syscall's P99 in the previous interval (1 s), set in the kernel each interval; calls in the first interval are never slow";
