/**
 * A real io_uring server with exactly known requests, for multishot and
 * CQE_SKIP_SUCCESS accounting. Prints "ready <pid> <port>", waits for a line
 * on stdin, then submits one multishot ACCEPT (IORING_ACCEPT_MULTISHOT) on a
 * listening socket on 127.0.0.1 and SKIPS NOPs with IOSQE_CQE_SKIP_SUCCESS
 * (they succeed, so they post no completion); reaps one ACCEPT completion
 * (IORING_CQE_F_MORE set) per connection the test makes, closing each, until
 * CONNS; then cancels the ACCEPT (its last completion: -ECANCELED, no F_MORE),
 * prints "done" and exits.
 * Usage: deno run -A uring_multishot.ts CONNS SKIPS
 */

import { IORING_ACCEPT_MULTISHOT, IORING_OP, Ring } from "../../../ffi/uring.ts";
import { localPort, SOCK_CLOEXEC, tcpListen } from "../../../ffi/socket.ts";
import { libc } from "../../../ffi/libc.ts";

const [conns = "10", skips = "20"] = Deno.args;
const ACCEPT_UD = 1;
const CANCEL_UD = 3;
using listener = tcpListen({ backlog: 64 });
using ring = new Ring(64, { cqEntries: 256 });
console.log(`ready ${Deno.pid} ${localPort(listener.fd)}`);
const reader = Deno.stdin.readable.getReader();
await reader.read();

ring.prepRaw(IORING_OP.ACCEPT, listener.fd, {
  ioprio: IORING_ACCEPT_MULTISHOT,
  opFlags: SOCK_CLOEXEC,
  userData: ACCEPT_UD,
});
for (let i = 0; i < Number(skips); i++) ring.prepNop({ skipSuccess: true, userData: 2 });
ring.submit();
let accepted = 0;
let acceptEnded = false;
const reap = () =>
  ring.forEachCompletion((ud, res, flags) => {
    if (ud !== ACCEPT_UD) return;
    if (res >= 0) {
      accepted++;
      libc().close(res);
    }
    if ((flags & 2) === 0) acceptEnded = true;
  });
while (accepted < Number(conns)) {
  ring.submit({ waitFor: 1 });
  reap();
}
ring.prepRaw(IORING_OP.ASYNC_CANCEL, -1, { address: ACCEPT_UD, userData: CANCEL_UD });
while (!acceptEnded) {
  ring.submit({ waitFor: 1 });
  reap();
}
console.log(`done ${accepted}`);
