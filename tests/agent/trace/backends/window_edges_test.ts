// The counting window ends the moment the backend is stopped, not when its
// tracer has finished: this process traces itself, makes K io_uring NOP round
// trips inside the window, calls stop(), and at once (before the tracer can
// have reacted) makes M more. Exactly K are counted.
//
// Before (main at 7028a44): bpftrace counted K + M (1000 + 1000 of 1000): it
// counts until it has handled SIGINT and printed its maps, 0.3-0.6 s after
// stop() on this host. ftrace was already exact (it disables its events in
// stop() before returning), and so was bpf (it detached in stop(); now its
// gate closes there).
import { assertEquals } from "../../../_helpers/assert.ts";
import { startBpf } from "../../../../agent/trace/backends/bpf.ts";
import { startBpftrace } from "../../../../agent/trace/backends/bpftrace.ts";
import { startFtrace } from "../../../../agent/trace/backends/ftrace.ts";
import type { TraceBackend } from "../../../../agent/trace/backends/trace_backend.ts";
import { Ring } from "../../../../ffi/uring.ts";
import { ensureTracefs, releaseTracefs } from "../../../../agent/trace/tracefs.ts";

const K = 1000;
const M = 1000;

function nops(ring: Ring, n: number): void {
  for (let i = 0; i < n; i++) {
    ring.prepNop({ userData: i });
    ring.submit({ waitFor: 1 });
    ring.completions();
  }
}

const starts: Record<string, () => Promise<TraceBackend>> = {
  bpf: () => Promise.resolve(startBpf({ pids: [Deno.pid] })),
  bpftrace: () => Promise.resolve(startBpftrace({ pids: [Deno.pid] })),
  ftrace: () => startFtrace({ pids: [Deno.pid] }),
};

for (const [name, start] of Object.entries(starts)) {
  Deno.test(`${name}: nothing is counted after stop(), though the tracer still runs`, async () => {
    ensureTracefs();
    using ring = new Ring(8);
    const backend = await start();
    try {
      await backend.attached;
      nops(ring, K);
      const final = backend.stop();
      nops(ring, M);
      const s = await final;
      assertEquals(s.io_uring.get("NOP")?.count, K, `${name}: NOPs in the window`);
    } finally {
      await backend.stop();
      releaseTracefs();
    }
  });
}
