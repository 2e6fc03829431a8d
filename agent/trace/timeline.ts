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

/**
 * The recent window's per-second points, one typed column per field, all of
 * the window's length from the start: a second's point costs no new memory
 * (as objects, with three syscalls' P99s, they took about 180 bytes each, 626
 * KiB over a trace's first hour, which the soak measured as growth). A
 * syscall's P99 column (29 KiB for the default window) is made the first
 * second it is busy; NaN marks a second it was idle (or a missing `dt`).
 */
class RecentWindow {
  readonly capacity: number;
  #t: Float64Array;
  #dt: Float64Array;
  #syscalls: Float64Array;
  #bytes: Float64Array;
  #faults: Float64Array;
  /** 1 where the point had a `p99_ns` (even an empty one). */
  #hasP99: Uint8Array;
  #p99 = new Map<string, Float64Array>();
  /** The P99 columns' names, sorted (the order p99BySyscall writes them in). */
  #names: string[] = [];
  #head = 0;
  length = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#t = new Float64Array(capacity);
    this.#dt = new Float64Array(capacity);
    this.#syscalls = new Float64Array(capacity);
    this.#bytes = new Float64Array(capacity);
    this.#faults = new Float64Array(capacity);
    this.#hasP99 = new Uint8Array(capacity);
  }

  /** Bytes the columns hold (their backing stores). */
  get byteLength(): number {
    let n = this.#hasP99.byteLength + 5 * this.#t.byteLength;
    for (const col of this.#p99.values()) n += col.byteLength;
    return n;
  }

  push(p: TimelineSample): void {
    if (this.length === this.capacity) throw new RangeError("the timeline's recent window is full");
    const i = (this.#head + this.length) % this.capacity;
    this.#t[i] = p.t;
    this.#dt[i] = p.dt ?? NaN;
    this.#syscalls[i] = p.syscalls;
    this.#bytes[i] = p.bytes;
    this.#faults[i] = p.faults;
    this.#hasP99[i] = p.p99_ns ? 1 : 0;
    for (const col of this.#p99.values()) col[i] = NaN;
    for (const [name, ns] of Object.entries(p.p99_ns ?? {})) this.#column(name)[i] = ns;
    this.length++;
  }

  /** Removes the oldest `n` points and returns them as objects. */
  shift(n: number): TimelineSample[] {
    const out = this.slice(0, n);
    this.#head = (this.#head + out.length) % this.capacity;
    this.length -= out.length;
    return out;
  }

  /** Points `from` to `to` (exclusive) of the window, oldest first, as new objects. */
  slice(from = 0, to = this.length): TimelineSample[] {
    const out: TimelineSample[] = [];
    for (let k = from; k < Math.min(to, this.length); k++) {
      const i = (this.#head + k) % this.capacity;
      const dt = this.#dt[i] as number;
      const point: TimelineSample = {
        t: this.#t[i] as number,
        ...(Number.isNaN(dt) ? {} : { dt }),
        syscalls: this.#syscalls[i] as number,
        bytes: this.#bytes[i] as number,
        faults: this.#faults[i] as number,
      };
      if (this.#hasP99[i]) {
        const p99: Record<string, number> = {};
        for (const name of this.#names) {
          const ns = (this.#p99.get(name) as Float64Array)[i] as number;
          if (!Number.isNaN(ns)) p99[name] = ns;
        }
        point.p99_ns = p99;
      }
      out.push(point);
    }
    return out;
  }

  #column(name: string): Float64Array {
    let col = this.#p99.get(name);
    if (!col) {
      col = new Float64Array(this.capacity).fill(NaN);
      this.#p99.set(name, col);
      this.#names = [...this.#p99.keys()].sort();
    }
    return col;
  }
}

/** A bounded timeline; `push` one point a second. */
export class Timeline {
  #recent: RecentWindow;
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
    this.#recent = new RecentWindow(recentSeconds + olderStepSeconds);
  }

  /** Points held now (recent and older). */
  get length(): number {
    return this.#recent.length + this.#older.length;
  }

  /** Bytes of the recent window's columns: fixed from the start but for a P99 column per syscall seen. */
  get recentBytes(): number {
    return this.#recent.byteLength;
  }

  /**
   * Adds the next point (normally one second).
   * @param point its start second and counts
   */
  push(point: TimelineSample): void {
    this.#recent.push(point);
    // Move a whole step at a time out of the recent window, as one point.
    if (this.#recent.length >= this.#recentSeconds + this.#step) {
      this.#older.push(merge(this.#recent.shift(this.#step)));
      if (this.#older.length > this.#maxOlder) this.#older = mergePairs(this.#older);
    }
  }

  /**
   * Every point, oldest first: the coarse ones (with `dt`), then the last hour's.
   * @returns a copy the caller may keep
   */
  points(): TimelineSample[] {
    return [
      ...this.#older.map((p) => ({ ...p, ...(p.p99_ns ? { p99_ns: { ...p.p99_ns } } : {}) })),
      ...this.#recent.slice(),
    ];
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
