import { assert, assertEquals } from "../_helpers/assert.ts";
import {
  allocPages,
  ErrnoError,
  errnoName,
  errnoValue,
  libc,
  mapFile,
  mmap,
  openFile,
  pipe,
  pread,
  tcpConnect,
  unwrap,
} from "../../ffi/mod.ts";

function throwsErrno(fn: () => unknown, call: string, code: string): ErrnoError {
  try {
    fn();
  } catch (e: unknown) {
    assert(e instanceof ErrnoError, `expected ErrnoError, got ${e}`);
    assertEquals(e.call, call);
    assertEquals(e.code, code);
    assertEquals(e.errno, errnoValue(code));
    return e;
  }
  throw new Error(`expected ${call} to fail with ${code}`);
}

Deno.test("errno names and numbers map both ways, negative numbers included", () => {
  assertEquals(errnoName(2), "ENOENT");
  assertEquals(errnoName(-9), "EBADF");
  assertEquals(errnoName(11), "EAGAIN");
  assertEquals(errnoName(125), "ECANCELED");
  assertEquals(errnoName(4000), "E4000");
  for (const name of ["EPERM", "EINVAL", "EPIPE", "ECONNREFUSED", "EOPNOTSUPP"]) {
    assertEquals(errnoName(errnoValue(name)!), name);
  }
  assertEquals(errnoValue("ENOTANERRNO"), undefined);
});

Deno.test("ErrnoError says which call failed, the errno name and its meaning", () => {
  const e = new ErrnoError("sendfile", "EAGAIN");
  assertEquals(e.call, "sendfile");
  assertEquals(e.code, "EAGAIN");
  assertEquals(e.errno, 11);
  assertEquals(e.message, "sendfile failed: EAGAIN (Resource temporarily unavailable)");
  assertEquals(
    new ErrnoError("read", 9, "fd 7").message,
    "read failed: EBADF (Bad file descriptor): fd 7",
  );
});

Deno.test("unwrap passes results through and turns -1 into the errno of the call", () => {
  assertEquals(unwrap(5n, "x"), 5);
  assertEquals(unwrap(0, "x"), 0);
  throwsErrno(() => unwrap(libc().close(-1), "close"), "close", "EBADF");
});

Deno.test("a missing file fails open with ENOENT and names the path", () => {
  const e = throwsErrno(() => openFile("/nonexistent/ioscope"), "open", "ENOENT");
  assert(e.message.includes("/nonexistent/ioscope"), e.message);
});

Deno.test("opening a directory for writing fails with EISDIR", () => {
  throwsErrno(() => openFile("/tmp", { flags: 1 }), "open", "EISDIR");
});

Deno.test("reading a closed descriptor fails with EBADF, not a bare -1", () => {
  using buf = allocPages(4096);
  const f = openFile("/proc/self/stat");
  const n = f.fd;
  f.close();
  throwsErrno(() => pread(n, buf.pointer, 1, 0), "pread", "EBADF");
});

Deno.test("pread on a pipe fails with ESPIPE", () => {
  using p = pipe();
  using buf = allocPages(4096);
  throwsErrno(() => pread(p.readEnd.fd, buf.pointer, 1, 0), "pread", "ESPIPE");
});

Deno.test("mmap turns MAP_FAILED into ErrnoError (bad descriptor, bad length)", () => {
  throwsErrno(() => mmap(4096, 1, 1, 9999, 0), "mmap", "EBADF");
  using f = openFile("/proc/self/stat");
  throwsErrno(() => mapFile(f.fd, 4096, { offset: 3 }), "mmap", "EINVAL");
  let threw = false;
  try {
    allocPages(0);
  } catch (e: unknown) {
    threw = e instanceof RangeError;
  }
  assert(threw, "a zero-length mapping is refused before the call");
});

Deno.test("connecting to a closed port fails with ECONNREFUSED", () => {
  throwsErrno(() => tcpConnect(1), "connect", "ECONNREFUSED");
});
