// tlb.flushes counts flushes of the target's address space, each once, in
// by_reason (which adds up to it): a process whose one thread unmaps pages
// while its other thread runs on the other CPU makes shootdowns, recorded by
// the kernel three ways: the sender's own flush (local_mm_shootdown), the
// sender's IPIs (remote_ipi_send: not a flush) and each receiver's flush
// (remote_shootdown). Before (main at 145cd7c) every backend added the IPI
// sends, so one shootdown counted twice, and counted events of 0 pages, where
// the kernel flushed nothing (remote_wrong_cpu, an ASID already up to date).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { TRACE_BACKENDS } from "../_helpers/backends.ts";
import { tracePython } from "../_helpers/trace_python.ts";

/** Python: one thread maps, touches and unmaps 16 pages; the other reads /dev/zero (GIL released). */
const UNMAPPER = `
import mmap, os, threading
def reader():
    fd = os.open("/dev/zero", os.O_RDONLY)
    while True:
        os.pread(fd, 1 << 20, 0)
threading.Thread(target=reader, daemon=True).start()
while True:
    m = mmap.mmap(-1, 16 * 4096)
    for i in range(0, 16 * 4096, 4096):
        m[i] = 1
    m.close()
`;

for (const backend of TRACE_BACKENDS) {
  Deno.test(`${backend}: tlb.flushes counts each flush once: no IPI sends, nothing of 0 pages`, async () => {
    const run = await tracePython(UNMAPPER, backend, "2s");
    const reasons = run.tlb.by_reason;
    const what = `${backend}: ${run.tlb.flushes} flushes, ${JSON.stringify(reasons)}`;
    assertEquals(reasons.remote_ipi_send, undefined, what);
    assertEquals(reasons.remote_wrong_cpu, undefined, what);
    assertEquals(run.tlb.flushes, Object.values(reasons).reduce((a, b) => a + b, 0), what);
    const munmaps = run.syscalls.munmap?.count ?? 0;
    assert(munmaps > 1000, `${backend}: ${munmaps} munmaps`);
    // Each munmap of touched pages flushes the unmapping CPU once.
    const local = reasons.local_mm_shootdown ?? 0;
    assert(local >= munmaps * 0.9 && local <= munmaps * 1.1, `${what}, ${munmaps} munmaps`);
  });
}
