/**
 * The ftrace backend's reading, one job each: `RecordMerger` reads every
 * CPU's buffer and feeds the records to the aggregator in timestamp order;
 * `FtraceLoop` runs it on a timer (every 100 ms; every 10 ms the exec
 * instance alone, with `--comm`), hands a snapshot to the session at the
 * snapshot rhythm (probes/snapshot.ts), and counts lost events.
 * @module
 */

import type { FtraceInstances, FtraceRole } from "./_ftrace_setup.ts";
import type { TargetFollower } from "./_ftrace_follow.ts";
import {
  type FtraceAggregator,
  type HeaderPage,
  readPage,
  type Snapshot,
  SNAPSHOT_MS,
} from "../../../probes/mod.ts";

/** How often the buffers are read. */
const POLL_MS = 100;
/**
 * How often, with --comm, the exec instance alone is read between full
 * passes: a process that execs or is renamed to the name joins set_event_pid
 * within this, not within POLL_MS (what it does before is missed).
 */
const EXEC_POLL_MS = 10;
/** Pages read from one CPU in one pass at most (so a flood cannot stall the agent). */
const MAX_PAGES_PER_PASS = 4096;

/** One record waiting to be fed in timestamp order; `view` null marks a gap. */
interface Pending {
  ts: number;
  view: DataView | null;
  at: number;
  /** The instance's index in `FtraceInstances.all`. */
  source: number;
}

/** Called with every page read from the main and ring instances, before it is parsed. */
export type OnPage = (role: "main" | "uring", cpu: number, page: Uint8Array) => void;

/** What the merger reads from and feeds. */
export interface MergerParts {
  instances: FtraceInstances;
  aggregator: FtraceAggregator;
  /** The trace clock's origin: record timestamps are counted from it. */
  baseTs: bigint;
  header: HeaderPage | undefined;
  follower: TargetFollower;
  onPage?: OnPage | undefined;
}

/**
 * Merges the CPUs' records in timestamp order, up to the trace clock read
 * before the pass (a later record on one CPU may still precede one not yet
 * read on another), and feeds them; then follows what they showed.
 */
export class RecordMerger {
  #p: MergerParts;
  #pending: Pending[] = [];

  /** @param parts the instances, the aggregator, the clock's origin and the follower */
  constructor(parts: MergerParts) {
    this.#p = parts;
  }

  /** Reads the pages of the buffers with this role, each record (or gap) to `take`. */
  #read(roles: (role: FtraceRole) => boolean, take: (p: Pending) => void): boolean {
    const { instances, baseTs, header, onPage } = this.#p;
    let seen = false;
    for (const { pipe, role, source } of instances.pipes) {
      if (!roles(role)) continue;
      for (let i = 0; i < MAX_PAGES_PER_PASS; i++) {
        const bytes = pipe.readPage();
        if (!bytes) break;
        seen = true;
        if (role !== "exec") onPage?.(role, pipe.cpu, bytes);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const info = readPage(view, baseTs, (ts, at) => take({ ts, view, at, source }), header);
        if (info.missed !== 0) {
          take({ ts: Number(info.timestamp - baseTs), view: null, at: 0, source });
        }
      }
    }
    return seen;
  }

  /**
   * Reads every CPU's buffer and feeds the records up to the watermark.
   * @param final true for the last pass: every record, and nothing followed
   */
  pass(final: boolean): void {
    const { instances, aggregator, baseTs, follower } = this.#p;
    const watermark = final ? Infinity : Number(instances.main.nowNs() - baseTs);
    this.#read(() => true, (p) => this.#pending.push(p));
    const pending = this.#pending;
    pending.sort((a, b) => a.ts - b.ts);
    let i = 0;
    for (; i < pending.length; i++) {
      const p = pending[i] as Pending;
      if (p.ts > watermark) break;
      if (p.view) aggregator.feed(p.ts, p.view, p.at, p.source);
      else aggregator.gap(p.ts);
    }
    this.#pending = i === pending.length ? [] : pending.slice(i);
    if (!final) follower.follow();
  }

  /**
   * Between full passes: the exec instance's records (processes taking the
   * --comm name) are fed at once, out of order with the main instance's,
   * which is safe as they only add to the traced set; then the set is written.
   */
  execPass(): void {
    const { aggregator, follower } = this.#p;
    const seen = this.#read((role) => role === "exec", (p) => {
      // The exec instance keeps up with its buffer: it reports no gaps.
      if (p.view) aggregator.feed(p.ts, p.view, p.at, p.source);
    });
    if (seen) follower.follow();
  }
}

/**
 * The backend's timer loop: a full pass every POLL_MS (exec passes between,
 * with `--comm`), a snapshot every SNAPSHOT_MS, and the reason if a pass fails.
 */
export class FtraceLoop {
  /** The latest complete snapshot. */
  latest: Snapshot;
  /** Resolves with a reason if a pass fails (the backend then ends). */
  readonly died: Promise<string>;
  #resolveDied!: (why: string) => void;
  #merger: RecordMerger;
  #instances: FtraceInstances;
  #aggregator: FtraceAggregator;
  #onSnapshot: ((s: Snapshot) => void) | undefined;
  #lost = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopping = false;
  #lastPass = performance.now();
  #lastSnapshot = performance.now();

  /**
   * Starts the timer.
   * @param merger what a pass runs
   * @param instances for lost events, and whether there is an exec instance
   * @param aggregator what is snapshotted
   * @param onSnapshot the session's listener
   */
  constructor(
    merger: RecordMerger,
    instances: FtraceInstances,
    aggregator: FtraceAggregator,
    onSnapshot: ((s: Snapshot) => void) | undefined,
  ) {
    this.#merger = merger;
    this.#instances = instances;
    this.#aggregator = aggregator;
    this.#onSnapshot = onSnapshot;
    this.latest = aggregator.snapshot();
    this.died = new Promise<string>((res) => (this.#resolveDied = res));
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => this.#tick(), this.#instances.execs ? EXEC_POLL_MS : POLL_MS);
  }

  #tick(): void {
    this.#timer = null;
    if (this.#stopping) return;
    try {
      if (
        this.#instances.execs && performance.now() - this.#lastPass < POLL_MS - EXEC_POLL_MS / 2
      ) {
        this.#merger.execPass();
        this.#timer = setTimeout(() => this.#tick(), EXEC_POLL_MS);
        return;
      }
      this.#lastPass = performance.now();
      this.#merger.pass(false);
      if (performance.now() - this.#lastSnapshot >= SNAPSHOT_MS) {
        this.#lastSnapshot += SNAPSHOT_MS;
        this.#lost = this.#instances.lost();
        this.latest = this.#aggregator.snapshot(this.#lost);
        this.#onSnapshot?.(this.latest);
      }
    } catch (e: unknown) {
      this.#resolveDied(`the ftrace backend failed: ${e instanceof Error ? e.message : e}`);
      return;
    }
    this.#schedule();
  }

  /** Stops the timer (idempotent). */
  halt(): void {
    this.#stopping = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** The last pass: every record left, and the lost count (what was read is kept on failure). */
  drain(): void {
    try {
      this.#merger.pass(true);
      this.#lost = this.#instances.lost();
    } catch {
      // keep what was read
    }
  }

  /** The final snapshot, with the calls still in flight. */
  final(): Snapshot {
    this.latest = this.#aggregator.snapshot(this.#lost, { final: true });
    return this.latest;
  }
}
