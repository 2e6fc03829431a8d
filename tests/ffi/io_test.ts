import { assert, assertEquals } from "../_helpers/assert.ts";
import { assertBytes, tempFile } from "../_helpers/ffi.ts";
import {
  acceptConnection,
  allocPages,
  getrusage,
  IoVec,
  localPort,
  O_CREAT,
  O_RDWR,
  openFile,
  pipe,
  POLLIN,
  pollOne,
  pread,
  preadv,
  pwrite,
  read,
  readv,
  sendfile,
  shutdownWrite,
  splice,
  tcpConnect,
  tcpListen,
  threadCpuSeconds,
  write,
  writeAll,
  writev,
} from "../../ffi/mod.ts";

Deno.test("pread reads the bytes at an offset and leaves the position alone", () => {
  using t = tempFile(3 * 4096 + 123);
  using f = openFile(t.path);
  using buf = allocPages(8192);
  assertEquals(pread(f.fd, buf.pointer, 5000, 1000), 5000);
  assertBytes(buf.bytes().subarray(0, 5000), t.data.subarray(1000, 6000), "pread");
  // read() starts at position 0: pread did not move it.
  assertEquals(read(f.fd, buf.pointer, 10), 10);
  assertBytes(buf.bytes().subarray(0, 10), t.data.subarray(0, 10), "read");
  // At the end, a short read, then 0.
  assertEquals(pread(f.fd, buf.pointer, 8192, t.data.length - 100), 100);
  assertEquals(pread(f.fd, buf.pointer, 8192, t.data.length), 0);
});

Deno.test("readv and preadv scatter one read over several buffers in order", () => {
  using t = tempFile(64 * 1024);
  using f = openFile(t.path);
  using buf = allocPages(3 * 4096);
  const b = buf.address;
  // Out of memory order on purpose: the iovec order is what counts.
  const iov = new IoVec([
    { buffer: b + 8192, length: 4096 },
    { buffer: b, length: 100 },
    { buffer: b + 4096, length: 4000 },
  ]);
  assertEquals(iov.totalLength, 8196);
  assertEquals(preadv(f.fd, iov, 777), 8196);
  const v = buf.bytes();
  assertBytes(v.subarray(8192, 12288), t.data.subarray(777, 777 + 4096), "iov 0");
  assertBytes(v.subarray(0, 100), t.data.subarray(777 + 4096, 777 + 4196), "iov 1");
  assertBytes(v.subarray(4096, 8096), t.data.subarray(777 + 4196, 777 + 8196), "iov 2");
  assertEquals(readv(f.fd, iov), 8196);
  assertBytes(v.subarray(8192, 12288), t.data.subarray(0, 4096), "readv from position 0");
});

Deno.test("write, pwrite and writev put the bytes where asked", () => {
  using t = tempFile(0);
  using f = openFile(t.path, { flags: O_RDWR | O_CREAT });
  using buf = allocPages(4096);
  const v = buf.bytes();
  for (let i = 0; i < 4096; i++) v[i] = i & 0xff;
  assertEquals(write(f.fd, buf.pointer, 10), 10);
  const iov = new IoVec([{ buffer: buf.address + 100, length: 5 }, {
    buffer: buf.address,
    length: 3,
  }]);
  assertEquals(writev(f.fd, iov), 8);
  assertEquals(pwrite(f.fd, buf.address + 200, 2, 100), 2);
  writeAll(f.fd, buf.address + 50, 4);
  const got = Deno.readFileSync(t.path);
  assertEquals(got.length, 102);
  assertBytes(
    got.subarray(0, 22),
    new Uint8Array([
      0,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      100,
      101,
      102,
      103,
      104,
      0,
      1,
      2,
      50,
      51,
      52,
      53,
    ]),
    "file",
  );
  assertBytes(got.subarray(100, 102), new Uint8Array([200, 201]), "pwrite at 100");
});

Deno.test("sendfile copies a file range to another descriptor inside the kernel", () => {
  using t = tempFile(100_000);
  using out = tempFile(0);
  using src = openFile(t.path);
  using dst = openFile(out.path, { flags: O_RDWR });
  let off = 5000;
  while (off < 100_000) off += sendfile(dst.fd, src.fd, off, Math.min(30_000, 100_000 - off));
  assertEquals(off, 100_000);
  assertBytes(Deno.readFileSync(out.path), t.data.subarray(5000), "sendfile output");
});

Deno.test("splice moves file bytes through a pipe into another file", () => {
  using t = tempFile(200_000);
  using out = tempFile(0);
  using src = openFile(t.path);
  using dst = openFile(out.path, { flags: O_RDWR });
  using p = pipe();
  const cap = p.resize(65536);
  assert(cap >= 65536, `pipe capacity ${cap}`);
  assertEquals(p.sizeBytes, cap);
  let off = 0;
  let outOff = 0;
  while (off < t.data.length) {
    const n = splice(src.fd, off, p.writeEnd.fd, null, Math.min(cap, t.data.length - off));
    assert(n > 0, "splice from the file moved nothing");
    off += n;
    for (let m = 0; m < n;) {
      const k = splice(p.readEnd.fd, null, dst.fd, outOff, n - m);
      m += k;
      outOff += k;
    }
  }
  assertBytes(Deno.readFileSync(out.path), t.data, "splice output");
});

Deno.test("TCP on loopback: listen, connect, accept, send, poll, end of file", () => {
  using listener = tcpListen();
  const port = localPort(listener.fd);
  assert(port > 0 && port < 65536, `port ${port}`);
  using client = tcpConnect(port);
  using server = acceptConnection(listener);
  using buf = allocPages(4096);
  const v = buf.bytes();
  v.set([1, 2, 3, 4, 5]);
  assertEquals(pollOne(server.fd, POLLIN, 0), 0, "nothing to read yet");
  writeAll(client.fd, buf.pointer, 5);
  assert(pollOne(server.fd, POLLIN, 1000) & POLLIN, "data arrives");
  assertEquals(read(server.fd, buf.address + 100, 100), 5);
  assertBytes(v.subarray(100, 105), new Uint8Array([1, 2, 3, 4, 5]), "received");
  shutdownWrite(client.fd);
  assertEquals(read(server.fd, buf.address, 100), 0, "end of file after shutdown");
});

Deno.test("getrusage counts this process's CPU time, and it grows", () => {
  const a = getrusage();
  let x = 0;
  const until = performance.now() + 30;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  const b = getrusage();
  assert(b.userS + b.sysS > a.userS + a.sysS, "CPU time went up");
  assert(b.maxRssBytes > 1 << 20, `max RSS ${b.maxRssBytes}`);
  assert(b.minorFaults >= a.minorFaults, "fault counts never go down");
});

Deno.test("threadCpuSeconds counts this thread's CPU to well under a tick, not its sleep", async () => {
  const t0 = threadCpuSeconds();
  const w0 = performance.now();
  let x = 0;
  while (performance.now() - w0 < 1) x += Math.sqrt(x + 1);
  const spun = threadCpuSeconds() - t0;
  // 1 ms of spinning: getrusage's tick (4 ms) would say 0 or 4 ms.
  assert(spun > 0.0002 && spun < 0.0035, `1 ms of spinning counted ${spun * 1e3} ms`);
  const s0 = threadCpuSeconds();
  await new Promise((r) => setTimeout(r, 50));
  const slept = threadCpuSeconds() - s0;
  assert(slept < 0.02, `50 ms asleep counted ${slept * 1e3} ms of CPU`);
});
