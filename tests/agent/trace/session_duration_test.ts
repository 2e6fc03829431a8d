// A duration setTimeout cannot wait (2^31 ms or more fires at once) is refused
// before anything is attached: the trace would otherwise end as it starts.
import { assert } from "../../_helpers/assert.ts";
import { startTrace } from "../../../agent/trace/session.ts";

Deno.test("startTrace refuses a duration of 2^31 ms or more before it attaches anything", async () => {
  for (const durationMs of [2 ** 31, 600 * 3_600_000]) {
    let caught: unknown = null;
    try {
      const s = await startTrace({ pids: [Deno.pid] }, { durationMs });
      await s.stop("stopped");
    } catch (e: unknown) {
      caught = e;
    }
    assert(caught instanceof RangeError, `${durationMs} ms: ${caught}`);
    assert(String(caught).includes("at most 2147483647"), String(caught));
  }
});
