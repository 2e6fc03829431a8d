/**
 * The soak's growth estimate: a trace gives memory back once a minute, so RSS
 * saws; the estimate must read a flat sawtooth as flat and keep a real trend.
 */

import { assert } from "../_helpers/assert.ts";
import { periodMeans, theilSen } from "../../benchmarks/soak.ts";

/** RSS in KiB every 5 s for 8 minutes: a 60 s tooth (slow rise, one drop) plus a trend. */
function sawtooth(kibPerHour: number): [number, number][] {
  const out: [number, number][] = [];
  for (let t = 120; t <= 600; t += 5) {
    out.push([t, 65_000 + 800 * ((t % 60) / 60) + kibPerHour * t / 3600]);
  }
  return out;
}

const perHourMiB = (pts: [number, number][]) => theilSen(pts) * 3600 / 1024;

Deno.test("a flat sawtooth reads as flat by whole periods, as growth sample by sample", () => {
  const flat = sawtooth(0);
  // The teeth's rises outnumber their drops: the plain median reads +0.77 MiB/h,
  // most of the 1 MiB/h goal, from a tooth of 800 KiB that does not grow.
  assert(perHourMiB(flat) > 0.5, `${perHourMiB(flat)} MiB/h`);
  const byPeriod = perHourMiB(periodMeans(flat, 60));
  assert(Math.abs(byPeriod) < 0.05, `${byPeriod} MiB/h`);
});

Deno.test("a real trend under the sawtooth is kept by whole periods", () => {
  const byPeriod = perHourMiB(periodMeans(sawtooth(2048), 60));
  assert(Math.abs(byPeriod - 2) < 0.05, `${byPeriod} MiB/h, not 2`);
});

Deno.test("periodMeans leaves out a period the samples cover under 80% of", () => {
  const means = periodMeans([[0, 1], [55, 1], [60, 2], [110, 2], [120, 9], [140, 9]], 60);
  assert(means.length === 2 && means[0]?.[1] === 1 && means[1]?.[1] === 2, JSON.stringify(means));
});
