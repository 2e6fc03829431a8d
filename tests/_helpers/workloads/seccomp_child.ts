/**
 * A child for the io_uring-unavailable tests: installs a seccomp filter that
 * makes io_uring_setup fail with the errno named in its first argument (as a
 * container runtime's policy or kernel.io_uring_disabled would). Then, with
 * `ring` (the default), tries to set up a ring and prints the error it got as
 * JSON; with `bench`, runs an untraced bench (whose workers inherit the
 * filter) and prints its document. Only this process and its children are
 * affected.
 * @module
 */

import { allocPages, ErrnoError, errnoValue, libc, Ring } from "../../../ffi/mod.ts";

const PR_SET_NO_NEW_PRIVS = 38;
const PR_SET_SECCOMP = 22;
const SECCOMP_MODE_FILTER = 2;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO = 0x00050000;

const errno = errnoValue(Deno.args[0] ?? "EPERM") ?? 1;
// struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
const prog = [
  [0x20, 0, 0, 0], // ld [0]: the syscall number
  [0x15, 0, 1, 425], // jeq #425 (io_uring_setup), next, skip one
  [0x06, 0, 0, SECCOMP_RET_ERRNO | errno], // ret ERRNO
  [0x06, 0, 0, SECCOMP_RET_ALLOW], // ret ALLOW
];
using mem = allocPages(4096);
const dv = new DataView(mem.bytes().buffer);
prog.forEach(([code, jt, jf, k], i) => {
  dv.setUint16(64 + i * 8, code!, true);
  dv.setUint8(64 + i * 8 + 2, jt!);
  dv.setUint8(64 + i * 8 + 3, jf!);
  dv.setUint32(64 + i * 8 + 4, k!, true);
});
// struct sock_fprog { unsigned short len; struct sock_filter *filter; }
dv.setUint16(0, prog.length, true);
dv.setBigUint64(8, BigInt(mem.address + 64), true);
const c = libc();
if (c.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) !== 0) throw new Error("PR_SET_NO_NEW_PRIVS");
if (c.prctl(PR_SET_SECCOMP, BigInt(SECCOMP_MODE_FILTER), BigInt(mem.address), 0n, 0n) !== 0) {
  throw new Error("PR_SET_SECCOMP failed");
}
if (Deno.args[1] === "bench") {
  const { runBench } = await import("../../../agent/bench/runner.ts");
  const doc = await runBench({
    scenario: (Deno.args[2] ?? "scan") as "scan",
    backend: "none",
    sizeBytes: 4 << 20,
  });
  console.log(JSON.stringify(doc));
  Deno.exit(0);
}
try {
  new Ring(4).close();
  console.log(JSON.stringify({ code: "none", message: "io_uring_setup succeeded" }));
} catch (e: unknown) {
  const code = e instanceof ErrnoError ? e.code : "not-errno";
  console.log(JSON.stringify({ code, message: e instanceof Error ? e.message : String(e) }));
}
