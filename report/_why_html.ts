/**
 * The report's "Where the time went" section: per syscall a stacked bar of
 * its calls' time (CPU, run queue, disk, other sleep) for all calls and for
 * the slow ones, and the block layer's request latency per device. Pure.
 * @module
 */

import {
  formatBytes,
  formatCount,
  formatNs,
  type RunDocument,
  type TimeSplit,
} from "../schema/mod.ts";
import { histogramSeries, percentileMarkers } from "./_histogram.ts";
import { type Html, markup } from "./html.ts";
import { alpha, chartBox, type ChartSpec, color } from "./_page_blocks.ts";

/** The four shares, in stacking order, with their colours. */
const PARTS = [
  { key: "cpu_ns", label: "CPU", color: "#2563eb" },
  { key: "runqueue_ns", label: "run queue", color: "#d97706" },
  { key: "disk_ns", label: "disk", color: "#dc2626" },
  { key: "other_ns", label: "other sleep", color: "#64748b" },
] as const;

function share(t: TimeSplit, key: typeof PARTS[number]["key"]): number {
  const total = t.cpu_ns + t.runqueue_ns + t.disk_ns + t.other_ns;
  return total > 0 ? Math.round(Number(t[key]) / total * 1000) / 1000 : 0; // a fraction, as "percent" formats
}

/**
 * A latency histogram on log axes with its percentiles marked (the syscall
 * histograms' and the block devices' chart).
 * @param id the canvas id
 * @param label the series' name
 * @param stats buckets and percentiles
 * @param i the series' colour index
 * @param titles the axes' titles
 * @returns the chart
 */
export function logHistogramChart(
  id: string,
  label: string,
  stats: Parameters<typeof percentileMarkers>[0] & { buckets?: unknown },
  i: number,
  titles: { x: string; y: string },
): ChartSpec {
  const c = color(i);
  return {
    id,
    type: "line",
    datasets: [{
      label,
      data: histogramSeries(Array.isArray(stats.buckets) ? stats.buckets : []),
      color: c,
      background: alpha(c, 0.25),
      fill: "start",
    }],
    x: { log: true, unit: "ns", title: titles.x },
    y: { log: true, unit: "count", title: titles.y, min: 0.7, suggestedMax: 10 },
    markers: percentileMarkers(stats),
    legend: false,
  };
}

/**
 * The section (empty where the Run has no time split and no block layer).
 * @param doc the Run document
 * @param charts where the section's charts go
 * @returns the section's markup
 */
export function whySection(doc: RunDocument, charts: ChartSpec[]): Html {
  const rows = Object.entries(doc.syscalls ?? {})
    .filter(([, s]) => s.time_split && Number(s.time_split.total_ns) > 0)
    .sort((a, b) => Number(b[1].total_ns) - Number(a[1].total_ns))
    .slice(0, 8);
  const boxes: Html[] = [];
  if (rows.length) {
    const labels: string[] = [];
    const splits: TimeSplit[] = [];
    for (const [name, s] of rows) {
      labels.push(`${name}: all calls`);
      splits.push(s.time_split as TimeSplit);
      const slow = s.slow_time_split;
      if (slow && slow.count > 0) {
        labels.push(`${name}: slow calls`);
        splits.push(slow);
      }
    }
    charts.push({
      id: "time-split",
      type: "bar",
      horizontal: true,
      labels,
      datasets: PARTS.map((p) => ({
        label: p.label,
        data: splits.map((t) => share(t, p.key)),
        color: p.color,
        stack: "split",
        unit: "percent",
      })),
      x: { unit: "percent", stacked: true, beginAtZero: true, max: 1 },
      y: { category: true, stacked: true },
    });
    boxes.push(chartBox("time-split", "Where the calls' time went", {
      size: "tall",
      note: doc.meta?.time_split ?? "",
    }));
  }
  const devices = Object.entries(doc.block?.devices ?? {});
  let i = 0;
  for (const [name, d] of devices) {
    for (const [dir, st] of [["reads", d.read], ["writes", d.write]] as const) {
      if (!st || !(st.count > 0)) continue;
      const id = `block-${i}`;
      charts.push(
        logHistogramChart(id, `${name} ${dir}`, st, i++, {
          x: "issue to complete (log scale)",
          y: "requests (log scale)",
        }),
      );
      const traced = d.traced?.[dir === "reads" ? "read" : "write"]?.count ?? 0;
      boxes.push(chartBox(id, `${name} ${dir}`, {
        size: "small",
        note: `${formatCount(st.count)} requests, ${formatBytes(st.bytes)}; P50 ${
          formatNs(st.p50_ns)
        }, P99 ${formatNs(st.p99_ns)}; ${
          formatCount(traced)
        } issued by the traced processes; ${st.in_flight_mean} in flight on average${
          st.queued && st.queued.count > 0
            ? `; queue to complete P50 ${formatNs(st.queued.p50_ns)}, P99 ${
              formatNs(st.queued.p99_ns)
            }`
            : ""
        }${
          st.unseen
            ? `; ${formatCount(st.unseen)} completions no program saw (counted, not timed)`
            : ""
        }`,
      }));
    }
  }
  if (boxes.length === 0) return markup``;
  return markup`<section id="why"><h2>Where the time went</h2><p class="sub">Inside the traced calls: on a CPU, waiting for one (run queue), asleep while a block request the task issued was in flight (disk), asleep otherwise. Then each block device's requests, issue to complete.</p><div class="grid">${boxes}</div></section>`;
}
