/**
 * The demo's built-in workload: a process that writes a file, reads it back
 * through several I/O paths (read, pread64, readv, mmap, sendfile), syncs,
 * and sends a little over a pipe, for about `seconds` seconds.
 * Usage: deno run -A agent/cli/demo_workload.ts DIR SECONDS
 * @module
 */

const [dir = "/tmp", secondsText = "3"] = Deno.args;
const seconds = Number(secondsText);
const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  pwrite: { parameters: ["i32", "buffer", "usize", "i64"], result: "isize" },
  preadv: { parameters: ["i32", "pointer", "i32", "i64"], result: "isize" },
  malloc: { parameters: ["usize"], result: "pointer" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  sendfile: { parameters: ["i32", "i32", "pointer", "usize"], result: "isize" },
  fdatasync: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  usleep: { parameters: ["u32"], result: "i32" },
});
const c = libc.symbols;
const path = new TextEncoder().encode(`${dir}/ioscope-demo-${Deno.pid}.bin\0`);
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const FILE_BYTES = 8 << 20;
const fd = c.open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600);
const devNull = c.open(new TextEncoder().encode("/dev/null\0"), 1, 0);
if (fd < 0 || devNull < 0) throw new Error("demo workload: open failed");

const block = new Uint8Array(64 * 1024).fill(0x5a);
for (let off = 0; off < FILE_BYTES; off += block.length) {
  c.pwrite(fd, block, BigInt(block.length), BigInt(off));
}
c.fdatasync(fd);

// iovecs for preadv, and the buffers they point to, in malloc'd memory: the
// kernel must see addresses that no garbage collector can move or reuse.
const vecData = c.malloc(4n * 4096n);
const iov = c.malloc(4n * 16n);
if (!vecData || !iov) throw new Error("demo workload: malloc failed");
const iovView = new BigUint64Array(Deno.UnsafePointerView.getArrayBuffer(iov, 64));
for (let i = 0; i < 4; i++) {
  iovView[i * 2] = BigInt(Deno.UnsafePointer.value(vecData)) + BigInt(i * 4096);
  iovView[i * 2 + 1] = 4096n;
}
const small = new Uint8Array(4096);
const PROT_READ = 1;
const MAP_SHARED = 1;
const end = performance.now() + seconds * 1000;
let round = 0;
// Paced at one round per ROUND_MS: a busy but steady process, whose event rate
// (about 250k records/s) the ftrace backend also reads without loss.
const ROUND_MS = 40;
while (performance.now() < end) {
  const roundStart = performance.now();
  round++;
  // Many small preads (a finding: batch them), then sequential reads.
  for (let i = 0; i < 2000; i++) c.pread(fd, small, 4096n, BigInt(((i * 7919) % 2048) * 4096));
  c.lseek(fd, 0n, 0);
  while (c.read(fd, block, BigInt(block.length)) > 0n);
  for (let i = 0; i < 200; i++) c.preadv(fd, iov, 4, BigInt(i * 16384));
  // mmap the file and touch every page: page faults, then munmap: TLB flushes.
  const map = c.mmap(null, BigInt(FILE_BYTES), PROT_READ, MAP_SHARED, fd, 0n);
  if (map) {
    const view = new Deno.UnsafePointerView(map);
    for (let off = 0; off < FILE_BYTES; off += 4096) view.getUint8(off);
    c.munmap(map, BigInt(FILE_BYTES));
  }
  // Zero-copy: the whole file to /dev/null with sendfile.
  c.lseek(fd, 0n, 0);
  while (c.sendfile(devNull, fd, null, 1n << 20n) > 0n);
  // Rewrite a little and sync.
  for (let i = 0; i < 64; i++) c.pwrite(fd, small, 4096n, BigInt(i * 4096));
  c.fdatasync(fd);
  const rest = ROUND_MS - (performance.now() - roundStart);
  // A plain sleep in this thread: no event-loop wakeups of Deno's own to trace.
  if (rest > 0) c.usleep(Math.round(rest * 1000));
}
c.close(fd);
c.close(devNull);
Deno.removeSync(new TextDecoder().decode(path.subarray(0, path.length - 1)));
console.error(`demo workload: ${round} rounds`);
