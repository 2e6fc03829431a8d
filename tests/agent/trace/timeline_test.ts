import { assert, assertEquals } from "../../_helpers/assert.ts";
import { Timeline, type TimelineSample } from "../../../agent/trace/timeline.ts";

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
