/**
 * What one FFI call and one io_uring round trip cost on this host.
 *
 *   deno bench -A benchmarks/ffi_bench.ts
 *
 * `abs` is an FFI call that does no work: the cost of crossing from
 * JavaScript to C and back. `getpid` adds the cheapest real syscall (glibc
 * has not cached the PID since 2.25). `pread 1 byte` adds a file, an offset
 * and a copy, and the errno check of ffi/. The io_uring round trip is one NOP
 * prepared in the SQ ring, submitted with io_uring_enter waiting for its
 * completion, and reaped from the CQ ring; the 8-NOP case shares one enter.
 * @module
 */

import { allocPages, libc, openFile, pread, Ring } from "../ffi/mod.ts";

const c = libc();
const path = Deno.makeTempFileSync({ prefix: "ioscope-ffi-bench-" });
Deno.writeFileSync(path, new Uint8Array(4096).fill(1));
const file = openFile(path);
const buf = allocPages(4096);
const ring = new Ring(8);
const WAIT_ONE = { waitFor: 1 } as const;
const reap = () => {};

Deno.bench("FFI call: abs() (no syscall)", { group: "ffi", baseline: true }, () => {
  c.abs(-1);
});

Deno.bench("FFI call: getpid() (one syscall)", { group: "ffi" }, () => {
  c.getpid();
});

Deno.bench("FFI call: pread 1 byte of a cached file", { group: "ffi" }, () => {
  pread(file.fd, buf.pointer, 1, 0);
});

Deno.bench("io_uring NOP: prep + submit/wait + reap", { group: "uring" }, () => {
  ring.prepNop();
  ring.submit(WAIT_ONE);
  ring.forEachCompletion(reap);
});

Deno.bench("io_uring 8 NOPs: one enter", { group: "uring" }, () => {
  for (let i = 0; i < 8; i++) ring.prepNop();
  ring.submit({ waitFor: 8 });
  ring.forEachCompletion(reap);
});

globalThis.addEventListener("unload", () => {
  ring.close();
  buf.close();
  file.close();
  Deno.removeSync(path);
});
