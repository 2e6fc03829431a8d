/**
 * Run inside each kernel of the matrix: starts the bpf backend on this
 * process, prints how it attached and what it found (one `IOSCOPE-ATTACH`
 * JSON line), and stops it.
 * @module
 */

import { startBpf } from "../../agent/trace/backends/bpf.ts";
import { memlockCharged, rawTracepointArgs } from "../../ffi/bpf/features.ts";

const backend = startBpf({ pids: [Deno.pid] });
const ids = backend.objectIds();
await backend.stop();
const exitArgs = rawTracepointArgs("sched_process_exit");
console.log(`IOSCOPE-ATTACH ${
  JSON.stringify({
    kind: backend.attach.kind,
    starts: backend.attach.starts,
    programs: ids.programs.length,
    exitArgs: exitArgs.args ?? exitArgs.reason,
    memlock: memlockCharged().ok ? "raised" : "not charged",
    compat: backend.compatCheck,
    unsupported: backend.unsupported.map((u) => u.metric),
    reasons: backend.attach.reasons,
  })
}`);
