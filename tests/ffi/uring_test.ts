import { assert, assertEquals } from "../_helpers/assert.ts";
import { assertBytes, tempFile } from "../_helpers/ffi.ts";
import {
  acceptConnection,
  allocPages,
  type Cqe,
  ErrnoError,
  IORING_FEAT_NODROP,
  IORING_FEAT_SINGLE_MMAP,
  IORING_OP,
  localPort,
  O_RDWR,
  openFile,
  pipe,
  Ring,
  tcpConnect,
  tcpListen,
  write,
} from "../../ffi/mod.ts";

const EBADF = 9;
const EFAULT = 14;
const EINVAL = 22;
const ECANCELED = 125;

Deno.test("io_uring setup reports its sizes and features", () => {
  using ring = new Ring(6, { cqEntries: 64 });
  assertEquals(ring.sqEntries, 8, "rounded up to a power of two");
  assertEquals(ring.cqEntries, 64);
  assert(ring.features & IORING_FEAT_SINGLE_MMAP, "kernel 6.x maps SQ and CQ rings at once");
  assert(ring.features & IORING_FEAT_NODROP, "NODROP");
  assertEquals(ring.sqSpace(), 8);
  assertEquals(ring.pending(), 0);
  assertEquals(ring.ready(), 0);
  assertEquals(ring.peek(), null);
});

Deno.test("a NOP round trip returns its user data and res 0", () => {
  using ring = new Ring(4);
  ring.prepNop({ userData: 2 ** 40 + 7 });
  assertEquals(ring.pending(), 1);
  assertEquals(ring.submit({ waitFor: 1 }), 1);
  assertEquals(ring.ready(), 1);
  assertEquals(ring.peek(), { userData: 2 ** 40 + 7, res: 0, flags: 0 });
  assertEquals(ring.completions(), [{ userData: 2 ** 40 + 7, res: 0, flags: 0 }]);
  assertEquals(ring.ready(), 0, "reaping releases the slot");
});

Deno.test("completions come back in submission order for inline NOPs, many times around the ring", () => {
  using ring = new Ring(8);
  const seen: number[] = [];
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 8; i++) ring.prepNop({ userData: round * 8 + i });
    ring.submit({ waitFor: 8 });
    ring.forEachCompletion((ud) => seen.push(ud));
  }
  assertEquals(seen, Array.from({ length: 400 }, (_, i) => i), "every one, once, in order");
});

Deno.test("a linked write -> read chain runs in order: the read sees the write", () => {
  using t = tempFile(8192);
  using f = openFile(t.path, { flags: O_RDWR });
  using buf = allocPages(8192);
  const v = buf.bytes();
  v.fill(0xab, 0, 4096);
  {
    using ring = new Ring(4);
    ring.prepWrite(f.fd, {
      buffer: buf.address,
      length: 4096,
      offset: 4096,
      userData: 1,
      link: true,
    });
    ring.prepRead(f.fd, { buffer: buf.address + 4096, length: 4096, offset: 4096, userData: 2 });
    ring.submit({ waitFor: 2 });
    const c = ring.completions();
    assertEquals(c.map((x) => [x.userData, x.res]), [[1, 4096], [2, 4096]]);
  }
  assert(v.subarray(4096).every((b) => b === 0xab), "the linked read saw the written bytes");
});

Deno.test("a failed link cancels the rest of the chain with -ECANCELED", () => {
  using ring = new Ring(4);
  using buf = allocPages(4096);
  ring.prepRead(9999, { buffer: buf.address, length: 10, offset: 0, userData: 1, link: true });
  ring.prepNop({ userData: 2, link: true });
  ring.prepNop({ userData: 3 });
  ring.submit({ waitFor: 3 });
  const byUd = new Map(ring.completions().map((c) => [c.userData, c.res]));
  assertEquals(byUd.get(1), -EBADF);
  assertEquals(byUd.get(2), -ECANCELED);
  assertEquals(byUd.get(3), -ECANCELED);
});

Deno.test("errors come back in the CQE as -errno: bad fd, bad fixed index, bad buffer, bad opcode", () => {
  using t = tempFile(4096);
  using f = openFile(t.path);
  using ring = new Ring(8);
  using buf = allocPages(4096);
  ring.registerFiles([f.fd]);
  ring.prepRead(9999, { buffer: buf.address, length: 10, offset: 0, userData: 1 });
  ring.prepRead(5, { fixedFile: true, buffer: buf.address, length: 10, offset: 0, userData: 2 });
  ring.prepRead(f.fd, { buffer: 8, length: 10, offset: 0, userData: 3 });
  ring.prepRead(0, { fixedFile: true, buffer: buf.address, length: 10, offset: 0, userData: 4 });
  ring.submit({ waitFor: 4 });
  const byUd = new Map(ring.completions().map((c) => [c.userData, c.res]));
  assertEquals(byUd.get(1), -EBADF, "closed descriptor");
  assertEquals(byUd.get(2), -EBADF, "registered file index out of range");
  assertEquals(byUd.get(3), -EFAULT, "buffer at address 8");
  assertEquals(byUd.get(4), 10, "the good one still reads");
  assertBytes(buf.bytes().subarray(0, 10), t.data.subarray(0, 10), "its bytes");
  ring.unregisterFiles();
  ring.prepRead(0, { fixedFile: true, buffer: buf.address, length: 10, offset: 0, userData: 5 });
  ring.submit({ waitFor: 1 });
  assertEquals(ring.completions()[0]?.res, -EBADF, "no registered files any more");
});

Deno.test("an opcode the kernel does not know completes with -EINVAL", () => {
  using ring = new Ring(2);
  ring.prepRaw(250, -1, { userData: 9 });
  ring.prepRaw(IORING_OP.NOP, -1, { userData: 10 });
  assertEquals(ring.submit({ waitFor: 2 }), 1, "the kernel stops a batch at an SQE it refuses");
  assertEquals(ring.completions(), [{ userData: 9, res: -EINVAL, flags: 0 }]);
  assertEquals(ring.pending(), 1, "the NOP after it is still queued");
  assertEquals(ring.submit({ waitFor: 1 }), 1);
  assertEquals(ring.completions(), [{ userData: 10, res: 0, flags: 0 }]);
});

Deno.test("READ_FIXED without registered buffers fails in its CQE", () => {
  using ring = new Ring(2);
  using buf = allocPages(4096);
  ring.prepRead(0, { buffer: buf.address, length: 10, offset: 0, bufferIndex: 0, userData: 1 });
  ring.submit({ waitFor: 1 });
  const res = ring.completions()[0]?.res ?? 0;
  assert(res === -EFAULT || res === -EINVAL, `READ_FIXED without buffers: ${res}`);
});

Deno.test("a full submission queue refuses another SQE until submitted", () => {
  using ring = new Ring(4);
  for (let i = 0; i < 4; i++) ring.prepNop({ userData: i });
  assertEquals(ring.sqSpace(), 0);
  let err: unknown = null;
  try {
    ring.prepNop({ userData: 99 });
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof RangeError && /submission queue is full/.test(err.message), String(err));

  assertEquals(ring.pending(), 4, "the refused SQE was not queued");
  ring.submit({ waitFor: 4 });
  assertEquals(ring.sqSpace(), 4);
  assertEquals(ring.completions().map((c) => c.userData), [0, 1, 2, 3]);
  err = null;
  try {
    ring.prepNop({ userData: -1 });
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof RangeError, "bad user data is refused");
  assertEquals(ring.pending(), 0, "and takes no slot");
});

Deno.test("a full completion queue loses nothing (NODROP): overflowed CQEs are flushed later", () => {
  using ring = new Ring(4, { cqEntries: 4 });
  // 12 completions into a 4-entry CQ ring, none reaped until the end.
  for (let batch = 0; batch < 3; batch++) {
    for (let i = 0; i < 4; i++) ring.prepNop({ userData: batch * 4 + i });
    ring.submit();
  }
  const got: Cqe[] = [];
  while (got.length < 12) {
    const before = got.length;
    got.push(...ring.completions());
    if (got.length === before) ring.submit({ waitFor: 1 });
  }
  assertEquals(
    got.map((c) => c.userData).sort((a, b) => a - b),
    Array.from({ length: 12 }, (_, i) => i),
  );
  assertEquals(ring.overflowed, 0, "none dropped");
});

Deno.test("READ at queue depth 8 reads a whole file, blocks completing in any order", () => {
  const bs = 16_384;
  using t = tempFile(40 * bs + 1000);
  using f = openFile(t.path);
  using ring = new Ring(8);
  using buf = allocPages(t.data.length);
  let next = 0;
  let done = 0;
  const blocks = Math.ceil(t.data.length / bs);
  const issue = (i: number) =>
    ring.prepRead(f.fd, {
      buffer: buf.address + i * bs,
      length: Math.min(bs, t.data.length - i * bs),
      offset: i * bs,
      userData: i,
    });
  while (next < 8) issue(next++);
  while (done < blocks) {
    ring.submit({ waitFor: 1 });
    ring.forEachCompletion((i, res) => {
      assertEquals(res, Math.min(bs, t.data.length - i * bs), `block ${i}`);
      done++;
      if (next < blocks) issue(next++);
    });
  }
  assertBytes(buf.bytes(), t.data, "file read through io_uring");
});

Deno.test("READV, WRITEV and READ_FIXED with registered buffers move the right bytes", () => {
  using t = tempFile(3 * 4096);
  using out = tempFile(0);
  using f = openFile(t.path);
  using o = openFile(out.path, { flags: O_RDWR });
  using ring = new Ring(4);
  using buf = allocPages(4 * 4096);
  const iov = ring.iovecMemory(2);
  const set = (i: number, a: number, n: number) => {
    iov.words[i * 4] = a >>> 0;
    iov.words[i * 4 + 1] = Math.floor(a / 2 ** 32);
    iov.words[i * 4 + 2] = n;
  };
  set(0, buf.address + 4096, 4096);
  set(1, buf.address, 4096);
  ring.prepReadv(f.fd, { iovecs: iov.address, count: 2, offset: 4096, userData: 1 });
  ring.submit({ waitFor: 1 });
  assertEquals(ring.completions()[0]?.res, 8192);
  const v = buf.bytes();
  assertBytes(v.subarray(4096, 8192), t.data.subarray(4096, 8192), "iov 0");
  assertBytes(v.subarray(0, 4096), t.data.subarray(8192), "iov 1");
  ring.prepWritev(o.fd, { iovecs: iov.address, count: 2, offset: 0, userData: 2 });
  ring.submit({ waitFor: 1 });
  assertEquals(ring.completions()[0]?.res, 8192);
  assertBytes(Deno.readFileSync(out.path), t.data.subarray(4096), "writev");
  ring.registerBuffers([{ buffer: buf.address + 8192, length: 8192 }]);
  ring.prepRead(f.fd, {
    buffer: buf.address + 8192,
    length: 4096,
    offset: 0,
    bufferIndex: 0,
    userData: 3,
  });
  ring.submit({ waitFor: 1 });
  assertEquals(ring.completions()[0]?.res, 4096);
  assertBytes(v.subarray(8192, 12288), t.data.subarray(0, 4096), "READ_FIXED");
  ring.unregisterBuffers();
});

Deno.test("SEND, RECV and a SPLICE chain move bytes over a loopback socket", () => {
  using t = tempFile(50_000);
  using f = openFile(t.path);
  using listener = tcpListen();
  using client = tcpConnect(localPort(listener.fd));
  using server = acceptConnection(listener);
  using ring = new Ring(8);
  using buf = allocPages(3 * 65536);
  const v = buf.bytes();
  v.set(t.data.subarray(0, 1000));
  ring.prepSend(client.fd, { buffer: buf.address, length: 1000, userData: 1 });
  ring.prepRecv(server.fd, {
    buffer: buf.address + 65536,
    length: 1000,
    msgFlags: 0x100,
    userData: 2,
  });
  ring.submit({ waitFor: 2 });
  const res = new Map(ring.completions().map((c) => [c.userData, c.res]));
  assertEquals(res.get(1), 1000);
  assertEquals(res.get(2), 1000);
  assertBytes(v.subarray(65536, 66536), t.data.subarray(0, 1000), "SEND -> RECV");

  using p = pipe();
  p.resize(65536);
  ring.prepSplice(p.writeEnd.fd, {
    fdIn: f.fd,
    offsetIn: 0,
    length: 50_000,
    userData: 3,
    link: true,
  });
  ring.prepSplice(client.fd, { fdIn: p.readEnd.fd, length: 50_000, userData: 4 });
  ring.submit({ waitFor: 2 });
  const sp = new Map(ring.completions().map((c) => [c.userData, c.res]));
  assertEquals(sp.get(3), 50_000);
  assertEquals(sp.get(4), 50_000);
  ring.prepRecv(server.fd, {
    buffer: buf.address + 65536,
    length: 50_000,
    msgFlags: 0x100,
    userData: 5,
  });
  ring.submit({ waitFor: 1 });
  assertEquals(ring.completions()[0]?.res, 50_000);
  assertBytes(v.subarray(65536, 65536 + 50_000), t.data, "SPLICE file -> pipe -> socket");
});

Deno.test("waitAsync lets the event loop run while the ring waits", async () => {
  using listener = tcpListen();
  using client = tcpConnect(localPort(listener.fd));
  using server = acceptConnection(listener);
  using ring = new Ring(2);
  using buf = allocPages(4096);
  buf.bytes()[0] = 42;
  ring.prepRecv(server.fd, { buffer: buf.address + 100, length: 1, userData: 7 });
  // The data is sent by a timer: it can only fire if waitAsync does not block.
  let fired = false;
  setTimeout(() => {
    fired = true;
    write(client.fd, buf.address, 1);
  }, 50);
  await ring.waitAsync(1);
  assert(fired, "the timer ran during the wait");
  assertEquals(ring.completions(), [{ userData: 7, res: 1, flags: 0 }]);
  assertEquals(buf.bytes()[100], 42);
});

Deno.test("a ring is unusable after close, and close is idempotent", () => {
  const ring = new Ring(2);
  ring.close();
  ring.close();
  assert(ring.closed);
  let err: unknown = null;
  try {
    ring.prepNop();
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof Error && /after close/.test(err.message), String(err));
});

Deno.test("bad ring sizes are refused before any syscall", () => {
  for (const n of [0, -1, 1.5, 40_000]) {
    let err: unknown = null;
    try {
      new Ring(n).close();
    } catch (e: unknown) {
      err = e;
    }
    assert(err instanceof RangeError, `entries ${n}: ${err}`);
  }
});

async function inSeccompChild(errno: string): Promise<{ code: string; message: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../_helpers/workloads/seccomp_child.ts", import.meta.url).pathname,
      errno,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert(out.success, `child failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text);
}

Deno.test("io_uring forbidden (EPERM from io_uring_setup) gives a clear error, no crash", async () => {
  const r = await inSeccompChild("EPERM");
  assertEquals(r.code, "EPERM");
  assert(/io_uring_setup failed: EPERM/.test(r.message), r.message);
  assert(/io_uring is (disabled|forbidden)/.test(r.message), r.message);
});

Deno.test("a kernel without io_uring (ENOSYS) gives a clear error, no crash", async () => {
  const r = await inSeccompChild("ENOSYS");
  assertEquals(r.code, "ENOSYS");
  assert(/this kernel has no io_uring/.test(r.message), r.message);
});

Deno.test("ErrnoError from io_uring_register names the call", () => {
  using ring = new Ring(2);
  let err: unknown = null;
  try {
    ring.registerFiles([9999]);
  } catch (e: unknown) {
    err = e;
  }
  assert(err instanceof ErrnoError && err.call === "io_uring_register", String(err));
  assertEquals((err as ErrnoError).code, "EBADF");
});
