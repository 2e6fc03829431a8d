/**
 * The ftrace backend's following: what the records (and a traced cgroup)
 * showed of the target growing is written back into the instances' PID sets
 * and filters: new threads, forked processes, processes that took the
 * `--comm` name, processes that joined the cgroup, new io_uring rings.
 * @module
 */

import type { BackendOptions } from "./trace_backend.ts";
import { cgroupPids } from "../cgroup.ts";
import { isTask, threadsOf } from "../proc.ts";
import type { FtraceInstances } from "./_ftrace_setup.ts";
import { completionFilters, FTRACE_EVENTS, type FtraceAggregator } from "../../../probes/mod.ts";

/** How often a traced cgroup's cgroup.procs is read for processes that joined it. */
const CGROUP_POLL_MS = 250;

/** Keeps the instances' PID sets and ring filters up with the target. */
export class TargetFollower {
  #instances: FtraceInstances;
  #aggregator: FtraceAggregator;
  #cgroup: string | undefined;
  /** The cgroup's members seen so far, and when cgroup.procs was last read. */
  #members: Set<number>;
  #cgroupReadAt = performance.now();

  /**
   * @param options the target
   * @param instances the trace's instances (the main one's PID set is widened)
   * @param aggregator what the records showed
   */
  constructor(options: BackendOptions, instances: FtraceInstances, aggregator: FtraceAggregator) {
    this.#instances = instances;
    this.#aggregator = aggregator;
    this.#cgroup = options.cgroup?.path;
    this.#members = new Set(options.pids);
  }

  /** Follows what the records showed: new threads, forked processes, new rings. */
  follow(): void {
    this.#followCgroup();
    const main = this.#instances.main;
    const aggregator = this.#aggregator;
    // An id written here for a task that has exited stays in the list (the
    // kernel removes tasks as they are freed, not ids written later), and a
    // later process given that id would be traced: only live tasks are added.
    // With event-fork the kernel has already added what the target forked.
    const forked = aggregator.takeNewThreads();
    // A process that joined by exec or rename: all its threads (a renamed one may have many).
    const threads = [
      ...(this.#instances.eventFork ? [] : forked),
      ...threadsOf(aggregator.takeJoined()),
    ].filter(isTask);
    if (threads.length) main.write("set_event_pid", threads.join(" "), { append: true });
    const foreign = aggregator.takeForeignTasks().filter(isTask);
    if (foreign.length) {
      try {
        main.write("set_event_notrace_pid", foreign.join(" "), { append: true });
      } catch {
        // kernels before 5.8 lack it: their records are dropped in user space
      }
    }
    this.#followRings();
  }

  /** Adds the processes that joined the cgroup since the last look (every 250 ms). */
  #followCgroup(): void {
    if (!this.#cgroup || performance.now() - this.#cgroupReadAt < CGROUP_POLL_MS) return;
    this.#cgroupReadAt = performance.now();
    const joined = cgroupPids(this.#cgroup).filter((p) => !this.#members.has(p));
    if (joined.length === 0) return;
    for (const p of joined) this.#members.add(p);
    const tids = threadsOf(joined);
    if (tids.length === 0) return;
    this.#aggregator.track(tids);
    this.#instances.main.write("set_event_pid", tids.join(" "), { append: true });
  }

  /** Moves the completions of rings seen for the first time to the ring instance. */
  #followRings(): void {
    const rings = this.#instances.rings;
    if (!rings) return;
    if (this.#aggregator.takeNewRings().length) {
      // Widen the main instance first, then narrow the ring instance: a
      // completion in between is seen twice, and the second finds its
      // request already matched (or, multishot, the same timestamp).
      const filters = completionFilters(this.#aggregator.rings());
      this.#instances.main.setFilter(FTRACE_EVENTS.uringComplete, filters.others);
      rings.setFilter(FTRACE_EVENTS.uringComplete, filters.known);
    }
  }
}
