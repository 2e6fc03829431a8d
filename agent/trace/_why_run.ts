/**
 * The Run document's time split and block layer, from a snapshot: per
 * syscall `time_split` and `slow_time_split`, `block.devices`; null with the
 * reason in `meta.unsupported` where the backend did not measure them (never
 * 0). Pure.
 * @module
 */

import {
  type BlockLayer,
  type BlockQueueStats,
  type BlockStats,
  type IntervalDocument,
  percentiles,
  type RunDocument,
  TIME_SPLIT_NOTE,
  type TimeSplit,
  toBuckets,
  type Unsupported,
} from "../../schema/mod.ts";
import {
  type BlockTotals,
  emptySplit,
  type Snapshot,
  type TimeSplitTotals,
} from "../../probes/mod.ts";

function split(t: TimeSplitTotals): TimeSplit {
  return {
    cpu_ns: t.cpu_ns,
    runqueue_ns: t.runqueue_ns,
    disk_ns: t.disk_ns,
    other_ns: t.other_ns,
    faults: t.faults,
    tlb_flushes: t.tlb_flushes,
    count: t.count,
    total_ns: t.total_ns,
  };
}

function blockStats(t: BlockTotals, durationS: number): BlockStats {
  const buckets = toBuckets(t.hist);
  const p = percentiles(buckets);
  const timed = t.count - t.untimed - t.unseen;
  const queued = (): BlockQueueStats => {
    const buckets = toBuckets(t.queueHist);
    const q = percentiles(buckets);
    const mean_ns = Math.round(t.queue_ns / t.queued);
    return { count: t.queued, p50_ns: q.p50_ns, p99_ns: q.p99_ns, mean_ns, buckets };
  };
  return {
    count: t.count,
    bytes: t.bytes,
    p50_ns: p.p50_ns,
    p99_ns: p.p99_ns,
    mean_ns: timed > 0 ? Math.round(t.total_ns / timed) : 0,
    in_flight_mean: durationS > 0 ? Math.round(t.total_ns / (durationS * 1e9) * 1000) / 1000 : 0,
    untimed: t.untimed,
    unseen: t.unseen,
    buckets,
    ...(t.queued > 0 ? { queued: queued() } : {}),
  };
}

/**
 * What of the time split and the block layer a snapshot lacks, with the
 * reason: the Run's `meta.unsupported` entries, and the interval documents'.
 * @param backend the backend's name
 * @param snapshot the backend's snapshot
 * @param uring whether io_uring requests were traced
 * @returns the entries, possibly none
 */
export function whyUnsupported(
  backend: string,
  snapshot: Snapshot,
  uring: boolean,
): Unsupported[] {
  const reason = snapshot.whyUnsupported ??
    `the ${backend} backend does not follow calls through the scheduler (bpf only)`;
  const list: Unsupported[] = [];
  if (snapshot.timeSplit === undefined) list.push({ metric: "time_split", reason });
  if (uring) {
    list.push({
      metric: "io_uring.time_split",
      reason:
        "an io_uring request is not a task's time: no task waits for it between submission and completion",
    });
  }
  if (!snapshot.block) list.push({ metric: "block", reason: snapshot.blockUnsupported ?? reason });
  return list;
}

/**
 * Adds each syscall's time split over an interval, for all its calls and
 * for the slow ones (the difference of two cumulative splits), to an
 * Interval document; null where the backend did not measure it.
 * @param doc the Interval document (changed in place)
 * @param before the snapshot at the interval's start
 * @param after the snapshot at its end
 */
export function addIntervalWhy(doc: IntervalDocument, before: Snapshot, after: Snapshot): void {
  for (const [name, s] of Object.entries(doc.syscalls)) {
    if (!after.timeSplit) {
      s.time_split = null;
      s.slow_time_split = null;
      continue;
    }
    const a = after.timeSplit.get(name);
    const b = before.timeSplit?.get(name);
    s.time_split = splitDelta(b?.all, a?.all);
    s.slow_time_split = splitDelta(b?.slow, a?.slow);
  }
}

/** The split of the calls between two cumulative splits. */
function splitDelta(
  before: TimeSplitTotals | undefined,
  after: TimeSplitTotals | undefined,
): TimeSplit {
  const b = before ?? emptySplit();
  const d = (k: keyof TimeSplitTotals) => Math.max(0, (after?.[k] ?? 0) - b[k]);
  return split({
    count: d("count"),
    total_ns: d("total_ns"),
    cpu_ns: d("cpu_ns"),
    runqueue_ns: d("runqueue_ns"),
    disk_ns: d("disk_ns"),
    other_ns: d("other_ns"),
    faults: d("faults"),
    tlb_flushes: d("tlb_flushes"),
  });
}

/**
 * Adds the time split and the block layer to a Run built from `snapshot`.
 * @param run the Run document (changed in place)
 * @param snapshot the snapshot it was built from
 */
export function addWhy(run: RunDocument, snapshot: Snapshot): void {
  const measured = snapshot.timeSplit !== undefined;
  for (const [name, s] of Object.entries(run.syscalls)) {
    const t = snapshot.timeSplit?.get(name);
    s.time_split = measured ? split(t?.all ?? emptySplit()) : null;
    s.slow_time_split = measured ? split(t?.slow ?? emptySplit()) : null;
  }
  for (const op of Object.values(run.io_uring)) {
    op.time_split = null;
    op.slow_time_split = null;
  }
  const unsupported = run.meta.unsupported;
  for (
    const u of whyUnsupported(run.meta.backend, snapshot, Object.keys(run.io_uring).length > 0)
  ) {
    if (!unsupported.some((x) => x.metric === u.metric)) unsupported.push(u);
  }
  if (measured) run.meta.time_split = TIME_SPLIT_NOTE;
  if (!snapshot.block) {
    run.block = null;
    return;
  }
  const d = run.meta.duration_s;
  const devices: BlockLayer["devices"] = {};
  for (const [name, dev] of [...snapshot.block].sort((a, b) => a[0].localeCompare(b[0]))) {
    devices[name] = {
      read: blockStats(dev.read, d),
      write: blockStats(dev.write, d),
      traced: {
        read: blockStats(dev.traced.read, d),
        write: blockStats(dev.traced.write, d),
      },
    };
  }
  run.block = { devices };
}
