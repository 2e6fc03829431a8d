// Multishot and CQE_SKIP_SUCCESS io_uring requests, on a real io_uring server
// (tests/_helpers/workloads/uring_multishot.ts): one multishot ACCEPT on
// 127.0.0.1 takes CONNS connections made INTERVAL_MS apart, then is cancelled;
// SKIPS NOPs with IOSQE_CQE_SKIP_SUCCESS post no completion at all.
//
// Before (main at 7028a44), bpftrace: every ACCEPT completion was timed from
// the one submission, so its "latency" was the listener's age: P50 ~ 0.6 s,
// max ~ 1.2 s for 12 connections 100 ms apart; the NOPs were not mentioned.
// After: each completion after the first is timed from the one before it
// (~100 ms), `multishot` counts them, and the NOPs are counted as `untimed`.
// bpf: the kernel posts all but the ACCEPT's last completion with req NULL;
// matched by request only, 1 of 13 was counted (the cancel, timed from the
// submission); matched by ring and user_data as well, all 13.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { tracePid } from "../_helpers/trace_run.ts";
import { connectEach, startMultishotServer } from "../_helpers/multishot_server.ts";

const CONNS = 12;
const INTERVAL_MS = 100;
const SKIPS = 20;
const ECANCELED = 125;

for (const backend of ["bpftrace", "ftrace", "bpf"] as const) {
  Deno.test({
    name:
      `${backend}: multishot ACCEPT completions timed from the previous one, CQE_SKIP_SUCCESS NOPs counted untimed`,
  }, async () => {
    await using dir = tmpDir();
    const server = await startMultishotServer(CONNS, SKIPS);
    const { run } = await tracePid(server.pid, `${dir.path}/run.json`, {
      backend,
      during: async () => {
        await connectEach(server, CONNS, INTERVAL_MS);
        const { status, text } = await server.done();
        assert(status.success, `server: ${text}`);
        assert(text.includes(`done ${CONNS}`), text);
      },
    });
    const accept = run.io_uring.ACCEPT;
    assert(accept, `ACCEPT traced: ${JSON.stringify(run.io_uring)}`);
    // CONNS connections, then the cancellation's last completion (-ECANCELED).
    assertEquals(accept.count, CONNS + 1, "one completion per connection, one for the cancel");
    assertEquals(accept.errors, 1, "the cancellation");
    assertEquals(accept.errnos, { ECANCELED: 1 }, `errno ${ECANCELED}`);
    assertEquals(accept.multishot, CONNS + 1, "every completion of the multishot request");
    // Timed from the previous completion: ~INTERVAL_MS each (the first from
    // the submission, ~INTERVAL_MS too). From the submission they reached
    // CONNS * INTERVAL_MS.
    assert(
      accept.max_ns < 4 * INTERVAL_MS * 1e6,
      `slowest ACCEPT ${accept.max_ns} ns: timed from the submission?`,
    );
    assert(accept.p50_ns > 0.5 * INTERVAL_MS * 1e6, `ACCEPT P50 ${accept.p50_ns} ns`);
    const nop = run.io_uring.NOP;
    assert(nop, "the CQE_SKIP_SUCCESS NOPs are reported");
    assertEquals(nop.untimed, SKIPS, "NOPs with no completion: untimed");
    assertEquals(nop.count, 0, "no NOP completion to time");
  });
}
