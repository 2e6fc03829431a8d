/**
 * The per-second timeline of a trace, bounded however long the trace runs:
 * the last hour at full resolution, everything before it in coarser points
 * (one per minute at first; when those pass a day's worth, neighbours are
 * merged in pairs, so the step doubles and the count halves). A trace of a
 * day keeps 3 600 + 1 380 points, one of a week 3 600 + about 1 300: memory
 * and the report's size stop growing with time.
 * @module
 */

import type { TimelinePoint } from "../../schema/mod.ts";

/**
 * One point: `t` when it starts (seconds since the trace started), `dt` how
 * many seconds it covers (about one for a sample). A coarse point's counts are sums;
 * its `p99_ns` per syscall is the highest of its seconds' (the worst second's
 * P99: percentiles do not add up).
 */
export type TimelineSample = TimelinePoint;

/** Options of a {@linkcode Timeline}. */
export interface TimelineOptions {
  /** Seconds kept at full resolution. @default 3600 */
  recentSeconds?: number;
  /** Seconds per point just before the recent window. @default 60 */
  olderStepSeconds?: number;
  /** Older points kept at most before neighbours are merged. @default 1440 */
  maxOlderPoints?: number;
}

/** A bounded timeline; `push` one point a second. */
export class Timeline {
  #recent: TimelineSample[] = [];
  #older: TimelineSample[] = [];
  #recentSeconds: number;
  #step: number;
  #maxOlder: number;

  /** @param options the window and the coarser steps */
  constructor(options: TimelineOptions = {}) {
    const { recentSeconds = 3600, olderStepSeconds = 60, maxOlderPoints = 1440 } = options;
    this.#recentSeconds = recentSeconds;
    this.#step = olderStepSeconds;
    this.#maxOlder = Math.max(2, maxOlderPoints);
  }

  /** Points held now (recent and older). */
  get length(): number {
    return this.#recent.length + this.#older.length;
  }

  /**
   * Adds the next point (normally one second).
   * @param point its start second and counts
   */
  push(point: TimelineSample): void {
    this.#recent.push({ ...point });
    // Move a whole step at a time out of the recent window, as one point.
    if (this.#recent.length >= this.#recentSeconds + this.#step) {
      const moved = this.#recent.splice(0, this.#step);
      this.#older.push(merge(moved));
      if (this.#older.length > this.#maxOlder) this.#older = mergePairs(this.#older);
    }
  }

  /**
   * Every point, oldest first: the coarse ones (with `dt`), then the last hour's.
   * @returns a copy the caller may keep
   */
  points(): TimelineSample[] {
    return [...this.#older, ...this.#recent].map((p) => ({
      ...p,
      ...(p.p99_ns ? { p99_ns: { ...p.p99_ns } } : {}),
    }));
  }
}

function merge(points: TimelineSample[]): TimelineSample {
  const first = points[0] as TimelineSample;
  const last = points[points.length - 1] as TimelineSample;
  const out: TimelineSample = {
    t: first.t,
    dt: last.t + (last.dt ?? 1) - first.t,
    syscalls: 0,
    bytes: 0,
    faults: 0,
  };
  let p99: Record<string, number> | undefined;
  for (const p of points) {
    out.syscalls += p.syscalls;
    out.bytes += p.bytes;
    out.faults += p.faults;
    for (const [name, ns] of Object.entries(p.p99_ns ?? {})) {
      p99 ??= {};
      p99[name] = Math.max(p99[name] ?? 0, ns);
    }
  }
  if (p99) out.p99_ns = p99;
  return out;
}

function mergePairs(points: TimelineSample[]): TimelineSample[] {
  const out: TimelineSample[] = [];
  for (let i = 0; i < points.length; i += 2) out.push(merge(points.slice(i, i + 2)));
  return out;
}
