// Failed calls apart from successful ones, errors by errno, restart codes not
// errors, on a real socket server on 127.0.0.1
// (tests/_helpers/workloads/socket_errors.py): EAGAIN non-blocking recvfrom()
// calls (~1 us each), OK blocking recvfrom() calls a peer answers 2 ms later,
// and one read() on a pipe restarted RESTARTS times by SIGUSR1 (SA_RESTART).
//
// Before (main at 7028a44): recvfrom's P50 was an EAGAIN's (~2 us) though
// every successful recvfrom took ~2 ms; the restarted read counted
// 1 + RESTARTS calls and RESTARTS errors. After: successful latency apart
// (P50 ~2 ms), EAGAIN counted by errno with its own latency, the read counted
// once, restarts apart.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { traceWorkload } from "../_helpers/trace_run.ts";
import type { RunDocument } from "../../schema/mod.ts";
import { startLineWorkload } from "../_helpers/line_workload.ts";

const EAGAIN = 2000;
const OK = 50;
const RESTARTS = 5;

/** Starts the workload; resolves once it is ready. */
function startServer() {
  return startLineWorkload("python3", [
    `${ROOT}tests/_helpers/workloads/socket_errors.py`,
    String(EAGAIN),
    String(OK),
    String(RESTARTS),
  ]);
}

/** Traces the workload from before its first call to its exit. */
export async function traceSocketErrors(
  backend: string,
  dir: string,
): Promise<{ run: RunDocument; conn: number; pipe: number; pid: number }> {
  const server = await startServer();
  const { run, text } = await traceWorkload(server, `${dir}/run.json`, { backend });
  const fd = (what: string) => Number(new RegExp(`${what} (\\d+)`).exec(text)?.[1]);
  return {
    run,
    conn: fd("conn"),
    pipe: fd("pipe"),
    pid: server.pid,
  };
}

for (const backend of ["bpftrace", "ftrace", "bpf"] as const) {
  Deno.test(`${backend}: EAGAIN apart from successful recvfrom latency, errors by errno, a restarted read counted once`, async () => {
    await using dir = tmpDir();
    const { run } = await traceSocketErrors(backend, dir.path);
    // A 64-bit process: no syscall is taken for a 32-bit (compat) one.
    assertEquals(run.meta.compat_syscalls, undefined, "no compat syscalls");
    const recv = run.syscalls.recvfrom;
    assert(recv, "recvfrom traced");
    assertEquals(recv.count, EAGAIN + OK, "every recvfrom");
    assertEquals(recv.errors, EAGAIN, "the EAGAINs");
    assertEquals(recv.errnos, { EAGAIN }, "errors by errno");
    assertEquals(recv.bytes, OK * 46);
    // Successful calls only: each waited ~2 ms for the peer (an EAGAIN takes
    // ~1-5 us here; mixed in, they put the P50 there).
    assert(recv.p50_ns > 1_000_000, `successful recvfrom P50 ${recv.p50_ns} ns`);
    const sum = (b: [number, number, number][]) => b.reduce((s, x) => s + x[2], 0);
    assertEquals(sum(recv.buckets), OK, "buckets: successful calls");
    assertEquals(sum(recv.error_buckets ?? []), EAGAIN, "error_buckets: failed calls");
    assert((recv.error_p50_ns ?? Infinity) < 200_000, `EAGAIN P50 ${recv.error_p50_ns} ns`);
    const read = run.syscalls.read;
    assert(read, "read traced");
    assertEquals(read.restarts, RESTARTS, "each SIGUSR1 restarted the read");
    assertEquals(read.errors, 0, "a restart is not an error");
    assertEquals(read.errnos, {}, "no errno");
  });
}
