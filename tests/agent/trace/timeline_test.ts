import { assert, assertEquals } from "../../_helpers/assert.ts";
import { Timeline, type TimelineSample } from "../../../agent/trace/timeline.ts";
import v8 from "node:v8";
import vm from "node:vm";

function day(seconds: number): { timeline: Timeline; pushed: TimelineSample[] } {
  const timeline = new Timeline();
  const pushed: TimelineSample[] = [];
  for (let t = 0; t < seconds; t++) {
    const p = { t, syscalls: 50_000 + (t % 7), bytes: 4096 * t, faults: t % 3 };
    pushed.push(p);
    timeline.push(p);
  }
  return { timeline, pushed };
}

function sum(points: TimelineSample[], key: "syscalls" | "bytes" | "faults"): number {
  return points.reduce((a, p) => a + p[key], 0);
}

Deno.test("a day's timeline: the last hour per second, minutes before, every count kept", () => {
  const { timeline, pushed } = day(86_400);
  const points = timeline.points();
  const recent = points.filter((p) => (p.dt ?? 1) < 2);
  const older = points.filter((p) => (p.dt ?? 1) >= 2);
  assert(recent.length >= 3600 && recent.length < 3660, `recent ${recent.length}`);
  assertEquals(recent[recent.length - 1]?.t, 86_399);
  assertEquals(older.length, (86_400 - recent.length) / 60);
  assert(older.every((p) => p.dt === 60));
  // Contiguous, no second lost or counted twice.
  let t = 0;
  for (const p of points) {
    assertEquals(p.t, t);
    t += p.dt ?? 1;
  }
  assertEquals(t, 86_400);
  for (const key of ["syscalls", "bytes", "faults"] as const) {
    assertEquals(sum(points, key), sum(pushed, key), key);
  }
});

Deno.test("a week's timeline stays bounded: older points merge in pairs", () => {
  const { timeline } = day(7 * 86_400);
  const points = timeline.points();
  assert(timeline.length <= 3660 + 1440, `${timeline.length} points`);
  const steps = new Set(points.map((p) => p.dt ?? 1));
  assert(steps.has(480) || steps.has(240), `steps ${[...steps]}`);
  assertEquals(points.reduce((a, p) => a + (p.dt ?? 1), 0), 7 * 86_400);
});

Deno.test("a coarse point keeps each syscall's highest per-second P99", () => {
  const timeline = new Timeline({ recentSeconds: 2, olderStepSeconds: 3 });
  for (let t = 0; t < 5; t++) {
    timeline.push({
      t,
      syscalls: 1,
      bytes: 0,
      faults: 0,
      p99_ns: { read: 1000 * (t + 1), ...(t === 1 ? { write: 7 } : {}) },
    });
  }
  const [coarse] = timeline.points();
  assertEquals(coarse?.dt, 3);
  assertEquals(coarse?.p99_ns, { read: 3000, write: 7 });
});

Deno.test("an hour of per-second points costs the timeline no new memory", () => {
  // V8's collector, exposed at run time: the bound is on what stays after a full collection.
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  const held = () => {
    gc();
    gc();
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  const timeline = new Timeline();
  const point = (t: number): TimelineSample => ({
    t: t * 1.003,
    dt: 1.003,
    syscalls: 50_000 + t,
    bytes: 4096 * (50_000 + t),
    faults: t % 3,
    p99_ns: { lseek: 900 + (t % 7), pread64: 2048 + (t % 5), read: 3000.5 },
  });
  timeline.push(point(0));
  const before = held();
  const columnsBefore = timeline.recentBytes;
  for (let t = 1; t < 3600; t++) timeline.push(point(t));
  const grown = held() - before;
  // As one object per point (before the columns) the hour held 626 KiB more,
  // about 180 bytes a point: most of the soak's +1.19 MiB/h RSS in its first hour.
  assert(grown < 64 * 1024, `an hour of points grew the heap by ${(grown / 1024).toFixed(0)} KiB`);
  assertEquals(timeline.recentBytes, columnsBefore);
  assertEquals(timeline.length, 3600);
  assertEquals(timeline.points()[3599], point(3599));
});
