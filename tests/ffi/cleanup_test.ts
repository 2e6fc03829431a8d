import { assert, assertEquals } from "../_helpers/assert.ts";
import { mappingsAt, maps, openFds, tempFile } from "../_helpers/ffi.ts";
import {
  acceptConnection,
  allocPages,
  ErrnoError,
  Fd,
  localPort,
  mapFile,
  openFile,
  pipe,
  Ring,
  tcpConnect,
  tcpListen,
} from "../../ffi/mod.ts";

/**
 * Our mappings in /proc/self/maps: io_uring rings and test files by name.
 * (Anonymous buffers are checked by address where they are closed: V8 maps
 * and unmaps anonymous memory of its own at any time.)
 */
function ourMaps(): string[] {
  return maps().filter((l) => /io_uring|ioscope-ffi-test/.test(l));
}

/** Runs `fn` and checks that it left no descriptor and no mapping behind. */
function leavesNothing(what: string, fn: () => void): void {
  fn(); // once first: libc and lazy runtime allocations settle
  const fds = openFds();
  const m = ourMaps();
  for (let i = 0; i < 20; i++) fn();
  assertEquals(openFds(), fds, `${what}: descriptors left open`);
  assertEquals(ourMaps(), m, `${what}: mappings left behind`);
}

/** Closes `m` and checks that its address is no longer mapped. */
function unmapped(address: number, what: string): void {
  assertEquals(mappingsAt(address), [], `${what} is still mapped`);
}

function fails(fn: () => void): void {
  try {
    fn();
  } catch (e: unknown) {
    if (e instanceof ErrnoError) return;
    throw e;
  }
  throw new Error("expected an ErrnoError");
}

Deno.test("files, pipes and mappings closed by `using` leave no descriptor or mapping", () => {
  using t = tempFile(65536);
  leavesNothing("file + mapping + pipe", () => {
    let at = 0;
    {
      using f = openFile(t.path);
      using m = mapFile(f.fd, 65536);
      using p = pipe();
      using buf = allocPages(8192);
      assert(m.length > 0 && p.sizeBytes > 0 && buf.length > 0);
      assertEquals(ourMaps().filter((l) => l.includes(t.path)).length, 1, "mapped while open");
      at = buf.address;
    }
    unmapped(at, "the buffer");
  });
});

Deno.test("an io_uring ring closes its descriptor and unmaps its three regions", () => {
  leavesNothing("ring", () => {
    using ring = new Ring(64);
    assert(ourMaps().some((l) => l.includes("io_uring")), "the rings show in /proc/self/maps");
    using buf = allocPages(4096);
    ring.registerBuffers([{ buffer: buf.address, length: 4096 }]);
    ring.iovecMemory(4);
    ring.prepNop();
    ring.submit({ waitFor: 1 });
    ring.completions();
  });
});

Deno.test("sockets are closed, on success and when connect or bind fails", () => {
  leavesNothing("loopback connection", () => {
    using l = tcpListen();
    using c = tcpConnect(localPort(l.fd));
    using s = acceptConnection(l);
    assert(c.fd !== s.fd);
  });
  leavesNothing("refused connect", () => fails(() => tcpConnect(1)));
  using taken = tcpListen();
  const port = localPort(taken.fd);
  leavesNothing("bind to a port in use", () => fails(() => tcpListen({ port })));
});

Deno.test("failed opens and maps leave nothing behind", () => {
  leavesNothing("open ENOENT", () => fails(() => openFile("/nonexistent/x")));
  using f = openFile("/proc/self/stat");
  leavesNothing("mmap EINVAL", () => fails(() => mapFile(f.fd, 4096, { offset: 1 })));
});

Deno.test("close is idempotent and release hands the descriptor over", () => {
  const before = openFds();
  const f = openFile("/proc/self/stat");
  f.close();
  f.close();
  assert(f.closed);
  const g = openFile("/proc/self/stat");
  const n = g.release();
  assert(g.closed, "released counts as closed for the Fd");
  assert(openFds().includes(n), "but the descriptor is still open");
  new Fd(n).close();
  assertEquals(openFds(), before);
});
