/**
 * A steady workload whose read() P99 is set by a timer, not by the machine's
 * noise: every 10 ms tick it makes 49 reads of 4 KiB from /dev/zero (about a
 * microsecond each), then one read() of a periodic timerfd, which blocks
 * until the next tick (about 10 ms). One read in 50 is slow (2%), so the
 * read P99 falls in the middle of the slow ones, at their median: about 10 ms
 * plus the timer's median wakeup latency, the same second after second (a
 * loaded 2-CPU host moves that median by tens of microseconds, well under
 * the 6% a bucket spans).
 * Prints "ready <pid>", waits for a line on stdin, then runs until killed.
 * Usage: deno run -A timer_reads.ts [PERIOD_US] [FAST_PER_TICK]
 */

const [periodUs = "10000", fastPerTick = "49"] = Deno.args;
const libc = Deno.dlopen("libc.so.6", {
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  timerfd_create: { parameters: ["i32", "i32"], result: "i32" },
  timerfd_settime: { parameters: ["i32", "i32", "buffer", "pointer"], result: "i32" },
});
const CLOCK_MONOTONIC = 1;
const zero = libc.symbols.open(new TextEncoder().encode("/dev/zero\0"), 0);
const timer = libc.symbols.timerfd_create(CLOCK_MONOTONIC, 0);
if (zero < 0 || timer < 0) throw new Error("open /dev/zero or timerfd_create failed");
// struct itimerspec { it_interval {sec, nsec}; it_value {sec, nsec} }
const spec = new BigInt64Array([
  0n,
  BigInt(Number(periodUs) * 1000),
  0n,
  BigInt(Number(periodUs) * 1000),
]);
if (libc.symbols.timerfd_settime(timer, 0, new Uint8Array(spec.buffer), null) !== 0) {
  throw new Error("timerfd_settime failed");
}
const buf = new Uint8Array(4096);
const ticks = new Uint8Array(8);

console.log(`ready ${Deno.pid}`);
await Deno.stdin.readable.getReader().read();
for (;;) {
  for (let i = 0; i < Number(fastPerTick); i++) libc.symbols.read(zero, buf, 4096n);
  libc.symbols.read(timer, ticks, 8n);
}
