import { assert, assertEquals } from "../../_helpers/assert.ts";
import { intervalText } from "../../../agent/cli/_interval_text.ts";
import { liveScreen, type LiveState } from "../../../agent/cli/_live_view.ts";
import type { IntervalDocument, IntervalOpStats } from "../../../schema/interval.ts";

function op(calls: number, total_ns: number, p99_ns: number): IntervalOpStats {
  return {
    calls,
    calls_per_s: calls,
    errors: 0,
    bytes: calls * 65536,
    bytes_per_s: calls * 65536,
    total_ns,
    p50_ns: Math.round(p99_ns / 3),
    p99_ns,
  };
}

function doc(over: Partial<IntervalDocument> = {}): IntervalDocument {
  return {
    schema: "ioscope.interval/1",
    t_s: 3,
    interval_s: 1,
    final: false,
    pids: [4242],
    comm: "fio",
    backend: "bpftrace",
    syscalls: {
      pread64: op(123_456, 900_000_000, 38_000),
      write: op(50_000, 20_000_000, 1_200_000),
      mmap: op(3, 10_000, 9_000),
    },
    io_uring: { READ: op(80_000, 400_000_000, 52_000) },
    faults: 1234,
    faults_per_s: 1234,
    switches: 99_999,
    switches_per_s: 99_999,
    tlb_flushes: 12,
    tlb_flushes_per_s: 12,
    lost_events: 0,
    map_full: 0,
    recursion_misses: 0,
    unsupported: [],
    ...over,
  };
}

function state(over: Partial<LiveState> = {}): LiveState {
  return {
    pids: [4242],
    comm: "fio",
    backend: "bpftrace",
    elapsedS: 12.4,
    last: doc(),
    total: doc({ t_s: 12 }),
    unsupported: [{ metric: "tlb.dtlb_load_misses", reason: "no PMU" }],
    sort: "time",
    ...over,
  };
}

Deno.test("an interval block fits 80 columns, heaviest first, units on every number", () => {
  const text = intervalText(doc());
  const lines = text.split("\n");
  for (const l of lines) assert(l.length <= 80, `${l.length} columns: ${l}`);
  assert(lines[0]!.startsWith("3.0 s (1.0 s): faults 1234/s, switches 100.0k/s, TLB flushes 12/s"));
  const names = lines.slice(2).map((l) => l.trim().split(/\s{2,}/)[0]);
  assertEquals(names, ["pread64", "io_uring READ", "write", "mmap"]);
  assert(lines[2]!.includes("123k/s") && lines[2]!.includes("7.54GiB/s"), lines[2]);
  assert(lines[2]!.includes("38.0us"), lines[2]);
});

Deno.test("an interval with no I/O says so", () => {
  const text = intervalText(doc({ syscalls: {}, io_uring: {} }));
  assert(text.includes("no I/O syscalls in this interval"), text);
});

Deno.test("the live view sorts by time, calls or P99, and fits the terminal", () => {
  const first = (s: LiveState) => liveScreen(s, { columns: 80, rows: 24 })[5]!.split(/\s{2,}/)[0];
  assertEquals(first(state({ sort: "time" })), "pread64");
  assertEquals(first(state({ sort: "calls" })), "pread64");
  assertEquals(first(state({ sort: "p99" })), "write");
  const screen = liveScreen(state(), { columns: 80, rows: 24 });
  for (const l of screen) assert(l.length <= 80, `${l.length} columns: ${l}`);
  assert(screen[2]!.includes("not measured: tlb.dtlb_load_misses"), screen[2]);
  assert(screen[0]!.includes("[q]uit"), screen[0]);
  const small = liveScreen(state(), { columns: 50, rows: 7 });
  assertEquals(small.length, 7);
  assert(small[6]!.startsWith("... 3 more"), small[6]);
  for (const l of small) assert(l.length <= 50, l);
});

Deno.test("hostile process names cannot move the cursor or change the terminal", () => {
  const hostile = "x\x1b[2J\x1b]0;pwned\x07\r\n\x9bm";
  const screen = liveScreen(state({ comm: hostile }), { columns: 80, rows: 24 }).join("\n");
  // deno-lint-ignore no-control-regex
  assert(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(screen), JSON.stringify(screen));
  const block = intervalText(doc({ syscalls: { [hostile]: op(1, 1, 1) }, io_uring: {} }));
  // deno-lint-ignore no-control-regex
  assert(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(block), JSON.stringify(block));
});
