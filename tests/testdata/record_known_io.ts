// Records tests/testdata/bpftrace_known_io.jsonl: the raw `bpftrace -f json`
// output of probes/io_syscalls.bt tracing tests/_helpers/workloads/known_io.ts
// (1000 preads, 500 pwrites, 2 failing preads, 10 sendfiles), SIGINT at the end.
// Run as root: deno run -A tests/testdata/record_known_io.ts
import { startWorkload } from "../_helpers/common.ts";

const root = new URL("../../", import.meta.url).pathname;
await using w = await startWorkload("known_io.ts", ["/tmp", "1000", "500", "10"]);
const program = Deno.readTextFileSync(`${root}probes/io_syscalls.bt`).replaceAll("$1", String(w.pid));
const bt = new Deno.Command("bpftrace", { args: ["-f", "json", "-e", program], stdout: "piped", stderr: "null" })
  .spawn();
const out: Uint8Array[] = [];
const reading = (async () => {
  for await (const c of bt.stdout) out.push(c);
})();
await new Promise((r) => setTimeout(r, 1500));
await w.go();
await w.child.status;
await new Promise((r) => setTimeout(r, 1200));
bt.kill("SIGINT");
await bt.status;
await reading;
const text = new TextDecoder().decode(new Uint8Array(out.flatMap((c) => [...c])));
Deno.writeTextFileSync(`${root}tests/testdata/bpftrace_known_io.jsonl`, text);
console.log(`recorded ${text.split("\n").length} lines`);
