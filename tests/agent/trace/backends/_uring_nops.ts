// A workload with exactly known io_uring requests: after a line on stdin,
// N NOPs, each submitted and reaped on its own (io_uring_enter waiting for 1).
import { Ring } from "../../../../ffi/mod.ts";

const n = Number(Deno.args[0] ?? "1000");
using ring = new Ring(8);
console.log("ready");
await Deno.stdin.readable.getReader().read();
for (let i = 0; i < n; i++) {
  ring.prepNop({ userData: i });
  ring.submit({ waitFor: 1 });
  ring.forEachCompletion(() => {});
}
