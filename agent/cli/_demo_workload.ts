/**
 * The demo's built-in workload: a process that writes a file, reads it back
 * through several I/O paths (read, pread64, preadv, mmap, sendfile), syncs,
 * and sends a little over a pipe, for about `seconds` seconds. Every call
 * goes through ffi/.
 * Usage: deno run -A agent/cli/_demo_workload.ts DIR SECONDS
 * @module
 */

import {
  allocPages,
  IoVec,
  libc,
  MAP_SHARED,
  mmap,
  O_CREAT,
  O_RDWR,
  O_TRUNC,
  O_WRONLY,
  openFile,
  pread,
  preadv,
  PROT_READ,
  pwrite,
  read,
  sendfile,
} from "../../ffi/mod.ts";

const [dir = "/tmp", secondsText = "3"] = Deno.args;
const seconds = Number(secondsText);
const path = `${dir}/ioscope-demo-${Deno.pid}.bin`;
const FILE_BYTES = 8 << 20;
const c = libc();
using file = openFile(path, { flags: O_RDWR | O_CREAT | O_TRUNC, mode: 0o600 });
using devNull = openFile("/dev/null", { flags: O_WRONLY });
const fd = file.fd;

// Buffers in mapped memory: the kernel must see addresses that no garbage
// collector can move or reuse.
using block = allocPages(64 * 1024);
block.bytes().fill(0x5a);
using small = allocPages(4096);
using vecData = allocPages(4 * 4096);
const iov = new IoVec(
  [0, 1, 2, 3].map((i) => ({ buffer: vecData.address + i * 4096, length: 4096 })),
);

for (let off = 0; off < FILE_BYTES; off += block.length) {
  pwrite(fd, block.pointer, block.length, off);
}
c.fdatasync(fd);

const end = performance.now() + seconds * 1000;
let round = 0;
// Paced at one round per ROUND_MS: a busy but steady process, whose event rate
// (about 250k records/s) the ftrace backend also reads without loss.
const ROUND_MS = 40;
while (performance.now() < end) {
  const roundStart = performance.now();
  round++;
  // Many small preads (a finding: batch them), then sequential reads.
  for (let i = 0; i < 2000; i++) pread(fd, small.pointer, 4096, ((i * 7919) % 2048) * 4096);
  c.lseek(fd, 0n, 0);
  while (read(fd, block.pointer, block.length) > 0);
  for (let i = 0; i < 200; i++) preadv(fd, iov, i * 16384);
  // mmap the file and touch every page: page faults, then munmap: TLB flushes.
  {
    using map = mmap(FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    const view = new Deno.UnsafePointerView(map.pointer);
    for (let off = 0; off < FILE_BYTES; off += 4096) view.getUint8(off);
  }
  // Zero-copy: the whole file to /dev/null with sendfile.
  c.lseek(fd, 0n, 0);
  while (sendfile(devNull.fd, fd, null, 1 << 20) > 0);
  // Rewrite a little and sync.
  for (let i = 0; i < 64; i++) pwrite(fd, small.pointer, 4096, i * 4096);
  c.fdatasync(fd);
  const rest = ROUND_MS - (performance.now() - roundStart);
  // A plain sleep in this thread: no event-loop wakeups of Deno's own to trace.
  if (rest > 0) c.usleep(Math.round(rest * 1000));
}
Deno.removeSync(path);
console.error(`demo workload: ${round} rounds`);
