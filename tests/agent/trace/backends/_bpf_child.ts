// A process that starts the bpf backend on itself, prints its program and
// link ids as one JSON line, and waits to be killed (the kill -9 test).
import { startBpf } from "../../../../agent/trace/backends/bpf.ts";

const backend = startBpf({ pids: [Deno.pid] });
console.log(JSON.stringify(backend.objectIds()));
await new Promise(() => {});
