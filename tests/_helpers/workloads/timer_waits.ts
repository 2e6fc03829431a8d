/**
 * Calls whose latency a timer sets, timed by the workload itself: COUNT
 * readv() of 8 bytes from a periodic timerfd (PERIOD_US), each blocking until
 * the next tick, each timed around the call with CLOCK_MONOTONIC. At
 * milliseconds a call, what the workload's clock holds beyond the kernel's
 * part (the user/kernel transitions, the FFI call, a tracer's probes: a few
 * microseconds) is well under the 6% a histogram bucket spans, so a tracer's
 * percentiles and the workload's own agree within a bucket whatever the
 * probes cost. readv, because nothing else in a Deno process calls it.
 * The workload's clock also holds any time it was preempted just before or
 * after the call (runnable, not running: on a loaded 2-CPU host up to 0.6 ms
 * was seen), which no tracer of the syscall sees; so each call also says
 * whether the thread's involuntary context switches (getrusage
 * RUSAGE_THREAD, ru_nivcsw, read outside the timed span) moved across it.
 * Prints "ready <pid>", waits for a line on stdin, makes the calls, writes
 * `{ "took": [ns...], "preempted": [bool...] }` (call order) as JSON to OUT
 * and exits.
 * Usage: deno run -A timer_waits.ts OUT [PERIOD_US] [COUNT]
 */

const [out, periodUs = "3000", count = "400"] = Deno.args;
if (!out) throw new Error("usage: timer_waits.ts OUT [PERIOD_US] [COUNT]");
const libc = Deno.dlopen("libc.so.6", {
  readv: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  timerfd_create: { parameters: ["i32", "i32"], result: "i32" },
  timerfd_settime: { parameters: ["i32", "i32", "buffer", "pointer"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  getrusage: { parameters: ["i32", "buffer"], result: "i32" },
});
const RUSAGE_THREAD = 1;
// struct rusage: two timevals, then 14 longs; ru_nivcsw is the last.
const usage = new BigInt64Array(18);
const usageBytes = new Uint8Array(usage.buffer);
const involuntary = (): bigint => {
  if (libc.symbols.getrusage(RUSAGE_THREAD, usageBytes) !== 0) throw new Error("getrusage failed");
  return usage[17]!;
};
const CLOCK_MONOTONIC = 1;
const timer = libc.symbols.timerfd_create(CLOCK_MONOTONIC, 0);
if (timer < 0) throw new Error("timerfd_create failed");
const ticks = new Uint8Array(8);
// struct iovec { void *iov_base; size_t iov_len; }
const iov = new BigUint64Array([
  BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(ticks))),
  8n,
]);
const iovBytes = new Uint8Array(iov.buffer);
const ts = new BigInt64Array(2);
const tsBytes = new Uint8Array(ts.buffer);
const now = (): bigint => {
  libc.symbols.clock_gettime(CLOCK_MONOTONIC, tsBytes);
  return ts[0]! * 1_000_000_000n + ts[1]!;
};

console.log(`ready ${Deno.pid}`);
await Deno.stdin.readable.getReader().read();
// struct itimerspec { it_interval {sec, nsec}; it_value {sec, nsec} }
const ns = BigInt(Number(periodUs) * 1000);
const spec = new BigInt64Array([0n, ns, 0n, ns]);
if (libc.symbols.timerfd_settime(timer, 0, new Uint8Array(spec.buffer), null) !== 0) {
  throw new Error("timerfd_settime failed");
}
const took: number[] = [];
const preempted: boolean[] = [];
for (let i = 0; i < Number(count); i++) {
  const before = involuntary();
  const t0 = now();
  const n = libc.symbols.readv(timer, iovBytes, 1);
  const t1 = now();
  preempted.push(involuntary() !== before);
  took.push(Number(t1 - t0));
  if (n !== 8n) throw new Error(`readv of the timerfd returned ${n}`);
}
Deno.writeTextFileSync(out, JSON.stringify({ took, preempted }));
