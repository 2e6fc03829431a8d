/**
 * The fleet view of `report --fleet DIR,DIR...`: the latest Run of each
 * (host, target) from several stores (or directories of Runs) merged into one
 * histogram per target and syscall. The merge is exact: every Run's buckets
 * become schema-4 native buckets (_native_histogram.ts: exact for schema-4
 * Runs, re-bucketed with its stated bound for older ones), and counts of the
 * same native bucket add up. Each host's own P99 gives the spread.
 * @module
 */

import type { Bucket, FleetRow, RunDocument } from "../../schema/mod.ts";
import { nativeBoundsNs, toNative } from "./_native_histogram.ts";

/** The upper bound (ns) of the native bucket holding quantile q of merged counts. */
function quantileNs(buckets: Map<number, number>, zero: number, q: number): number {
  const total = zero + [...buckets.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let seen = zero;
  if (seen >= q * total) return 0;
  for (const [i, n] of [...buckets.entries()].sort((a, b) => a[0] - b[0])) {
    seen += n;
    if (seen >= q * total) return nativeBoundsNs(i)[1] - 1;
  }
  return 0;
}

/**
 * Merges the latest Run of each (host, target).
 * @param runs Runs from any number of hosts and stores
 * @returns one row per target and syscall, sorted
 * @example
 * ```ts
 * import { fleetView } from "./fleet.ts";
 * import type { RunDocument } from "../../schema/mod.ts";
 * const run = JSON.parse(Deno.readTextFileSync("tests/testdata/run_fio_psync.json")) as RunDocument;
 * const b = structuredClone(run);
 * b.meta.host = "other";
 * const rows = fleetView([run, b]);
 * console.assert(rows.find((r) => r.syscall === "pread64")?.hosts === 2);
 * ```
 */
export function fleetView(runs: readonly RunDocument[]): FleetRow[] {
  const latest = new Map<string, RunDocument>();
  for (const r of runs) {
    const key = JSON.stringify([r.meta.host, r.meta.cgroup?.path ?? r.meta.comm]);
    const had = latest.get(key);
    if (!had || had.meta.started_at < r.meta.started_at) latest.set(key, r);
  }
  const groups = new Map<
    string,
    {
      target: string;
      syscall: string;
      merged: Map<number, number>;
      zero: number;
      hosts: Record<string, number>;
    }
  >();
  for (const r of latest.values()) {
    const target = r.meta.cgroup?.path ?? r.meta.comm;
    for (const [syscall, s] of Object.entries(r.syscalls ?? {})) {
      const key = JSON.stringify([target, syscall]);
      let g = groups.get(key);
      if (!g) groups.set(key, g = { target, syscall, merged: new Map(), zero: 0, hosts: {} });
      const h = toNative(s.buckets ?? [], 0);
      const own = new Map(h.buckets);
      for (const [i, n] of h.buckets) g.merged.set(i, (g.merged.get(i) ?? 0) + n);
      g.zero += h.zeroCount;
      g.hosts[r.meta.host] = quantileNs(own, h.zeroCount, 0.99);
    }
  }
  return [...groups.values()].map((g) => ({
    target: g.target,
    syscall: g.syscall,
    hosts: Object.keys(g.hosts).length,
    count: g.zero + [...g.merged.values()].reduce((a, b) => a + b, 0),
    p50_ns: quantileNs(g.merged, g.zero, 0.5),
    p99_ns: quantileNs(g.merged, g.zero, 0.99),
    p99_by_host: g.hosts,
    buckets: mergedBuckets(g.merged, g.zero),
  })).sort((a, b) => a.target < b.target ? -1 : a.target > b.target ? 1 : b.count - a.count);
}

/** Merged native counts as a Run's buckets, ascending: `[low_ns, high_ns, count]`. */
function mergedBuckets(merged: Map<number, number>, zero: number): Bucket[] {
  const out: Bucket[] = zero > 0 ? [[0, 1, zero]] : [];
  for (const [i, n] of [...merged.entries()].sort((a, b) => a[0] - b[0])) {
    const [low, high] = nativeBoundsNs(i);
    out.push([low, high, n]);
  }
  return out;
}
