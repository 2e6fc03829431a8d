/**
 * The fleet document (`report --fleet DIR,DIR --json`): the latest Run of
 * each (host, target) merged into one histogram per target and syscall, with
 * each host's own P99 (the spread). Add fields freely; never rename or drop
 * one without bumping the schema.
 * @module
 */

import type { Bucket } from "./run.ts";

/** The schema name and version a fleet document carries. */
export const FLEET_SCHEMA = "ioscope.fleet/1";

/** One target's syscall over the fleet. */
export interface FleetRow {
  target: string;
  syscall: string;
  hosts: number;
  /** Timed (successful) calls, all hosts. */
  count: number;
  /** P50 and P99 of the merged histogram, ns (the native bucket's upper bound). */
  p50_ns: number;
  p99_ns: number;
  /** Each host's own P99, ns (same rule), by host. */
  p99_by_host: Record<string, number>;
  /**
   * The merged histogram: schema-4 native buckets as `[low_ns, high_ns,
   * count]` (`[0, 1, n]`: the calls of 0 ns), ascending; absent in older
   * documents.
   */
  buckets?: Bucket[];
}

/** `report --fleet`'s document. */
export interface FleetDocument {
  schema: "ioscope.fleet/1";
  rows: FleetRow[];
}
