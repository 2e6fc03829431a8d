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

/** A split of `total_ns` by shares (in percent) of CPU, run queue, disk and other. */
function split(count: number, total_ns: number, shares: [number, number, number, number]) {
  const [cpu, rq, disk, other] = shares.map((p) => Math.round(total_ns * p / 100)) as [
    number,
    number,
    number,
    number,
  ];
  return {
    cpu_ns: cpu,
    runqueue_ns: rq,
    disk_ns: disk,
    other_ns: other,
    faults: 0,
    tlb_flushes: 0,
    count,
    total_ns,
  };
}

/** What the bpf backend measures: a split per syscall (and for its slow calls) and the block layer. */
function bpfDoc(): IntervalDocument {
  const pread = op(123_456, 900_000_000, 38_000);
  pread.time_split = split(123_456, 900_000_000, [5, 3, 92, 0]);
  pread.slow_time_split = split(1234, 50_000_000, [2, 1, 97, 0]);
  const write = op(50_000, 20_000_000, 1_200_000);
  // The first interval: no slow threshold yet, so no slow calls.
  write.time_split = split(50_000, 20_000_000, [60, 0, 0, 40]);
  write.slow_time_split = split(0, 0, [0, 0, 0, 0]);
  const mmap = op(3, 10_000, 9_000);
  mmap.time_split = split(3, 10_000, [100, 0, 0, 0]);
  mmap.slow_time_split = split(0, 0, [0, 0, 0, 0]);
  const read = (count: number, p99_ns: number) => ({
    count,
    bytes: count * 4096,
    p50_ns: p99_ns / 2,
    p99_ns,
    traced: count,
  });
  return doc({
    backend: "bpf",
    syscalls: { pread64: pread, write, mmap },
    block: { vda: { read: read(1200, 1_100_000), write: read(30, 2_000_000) } },
  });
}

Deno.test("the live view shows where each syscall's time went, all calls and P99 calls, and the block layer", () => {
  const screen = liveScreen(state({ backend: "bpf", last: bpfDoc(), total: bpfDoc() }), {
    columns: 80,
    rows: 24,
  });
  for (const l of screen) assert(l.length <= 80, `${l.length} columns: ${l}`);
  assertEquals(screen[3], "block vda 1200 rd/s p99 1.1ms, 30 wr/s p99 2.0ms");
  assert(screen[4]!.startsWith("SYSCALL"), "the header stays on line 5");
  assert(screen[5]!.startsWith("pread64"), screen[5]);
  assertEquals(screen[6], "  time 92% disk, 5% CPU, 3% runq; P99 calls 97% disk, 2% CPU, 1% runq");
  const write = screen.indexOf(screen.find((l) => l.startsWith("write"))!);
  // No slow calls in the interval: the all-calls split alone.
  assertEquals(screen[write + 1], "  time 60% CPU, 40% other");
  // Rows and their split lines stay within the terminal, with "... N more" when they do not fit.
  const small = liveScreen(state({ last: bpfDoc(), total: bpfDoc() }), { columns: 80, rows: 9 });
  assertEquals(small.length, 9);
  assert(small[5]!.startsWith("pread64") && small[6]!.startsWith("  time 92% disk"), small[6]);
  assert(small[8]!.startsWith("... "), small.join("\n"));
});

Deno.test("a backend without the split says so once, with the reason, and never shows 0%", () => {
  const reason = "the ftrace backend does not follow calls through the scheduler (bpf only)";
  const unsupported = [
    { metric: "time_split", reason },
    { metric: "block", reason },
    { metric: "tlb.dtlb_load_misses", reason: "no PMU" },
  ];
  const syscalls = Object.fromEntries(
    Object.entries(doc().syscalls).map(([n, s]) => [n, { ...s, time_split: null }]),
  );
  const last = doc({ backend: "ftrace", syscalls, block: null, unsupported });
  const screen = liveScreen(
    state({ backend: "ftrace", last, total: last, unsupported }),
    { columns: 200, rows: 24 },
  );
  assertEquals(screen[3], `time split, block layer not measured: ${reason}`);
  assertEquals(screen.filter((l) => l.includes("not measured: the ftrace")).length, 1);
  assert(screen[2]!.endsWith("not measured: tlb.dtlb_load_misses"), screen[2]);
  assert(!screen.some((l) => /(^|\s)0%|time \d/.test(l)), screen.join("\n"));
  assertEquals(screen.slice(5, 9).map((l) => l.split(/\s+/)[0]), [
    "pread64",
    "io_uring",
    "write",
    "mmap",
  ]);
  const text = intervalText(last);
  assert(text.includes(`time split, block layer not measured: ${reason}`.slice(0, 60)), text);
  assert(!/(^|\s)0%/m.test(text), text);
});

Deno.test("an interval block shows each syscall's split and the block layer, in 80 columns", () => {
  const lines = intervalText(bpfDoc()).split("\n");
  for (const l of lines) assert(l.length <= 80, `${l.length} columns: ${l}`);
  const at = lines.findIndex((l) => l.startsWith("  pread64"));
  assertEquals(
    lines[at + 1],
    "    time 92% disk, 5% CPU, 3% runq; P99 calls 97% disk, 2% CPU, 1% runq",
  );
  assertEquals(lines.at(-1), "  block vda 1200 rd/s p99 1.1ms, 30 wr/s p99 2.0ms");
});
