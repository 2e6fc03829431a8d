import { assert, assertEquals } from "../_helpers/assert.ts";
import { BpftraceParser, programFor } from "../../probes/bpftrace.ts";

// Recorded with tests/testdata/record_known_io.ts (see tests/testdata/README.md):
// 1000 preads of 4096 B, 500 pwrites of 1000 B, 2 preads on a bad fd, 10
// sendfiles of 64 KiB, traced by probes/io_syscalls.bt on kernel 6.18.
const FIXTURE = new URL("../testdata/bpftrace_known_io.jsonl", import.meta.url);

function parseFixture(): BpftraceParser {
  const parser = new BpftraceParser();
  for (const line of Deno.readTextFileSync(FIXTURE).split("\n")) parser.feed(line);
  return parser;
}

Deno.test("parser reads exact counts, bytes and errors from recorded bpftrace output", () => {
  const s = parseFixture().final();
  const pread = s.syscalls.get("pread64");
  assert(pread, "pread64 present");
  assertEquals(pread.count, 1002);
  assertEquals(pread.errors, 2);
  assertEquals(pread.bytes, 1000 * 4096);
  assertEquals(s.syscalls.get("pwrite64")?.count, 500);
  assertEquals(s.syscalls.get("pwrite64")?.bytes, 500 * 1000);
  assertEquals(s.syscalls.get("sendfile64")?.bytes, 10 * 65536);
  const histTotal = [...pread.hist.values()].reduce((a, b) => a + b, 0);
  assertEquals(histTotal, 1002, "histogram holds every call");
  assert(pread.max_ns > 0 && pread.total_ns > pread.max_ns);
});

Deno.test("parser reads faults, TLB flush reasons and context switches", () => {
  const s = parseFixture().final();
  assert(s.faults > 0);
  assert(
    s.tlb.size > 0 && [...s.tlb.keys()].every((k) => !k.startsWith("reason_")),
    [...s.tlb.keys()].join(),
  );
  assert(s.voluntary + s.involuntary > 0);
});

Deno.test("a snapshot handed out at a tick is not changed by later lines", () => {
  const parser = new BpftraceParser();
  const lines = Deno.readTextFileSync(FIXTURE).split("\n");
  const firstTick = lines.findIndex((l) => l.includes("tick"));
  assert(firstTick > 0, "fixture has a tick");
  let completed = false;
  for (const l of lines.slice(0, firstTick + 1)) completed = parser.feed(l);
  assert(completed, "the tick line completes a snapshot");
  const atTick = parser.latest();
  const before = atTick.syscalls.get("pread64")?.count ?? 0;
  parser.feed(
    '{"type": "stats", "data": {"@stats": {"17": {"count": 999999, "average": 1, "total": 1}}}}',
  );
  assertEquals(atTick.syscalls.get("pread64")?.count ?? 0, before);
  assertEquals(parser.final().syscalls.get("pread64")?.count, 999999);
  assert(parser.attachedProbes >= 6, `attached ${parser.attachedProbes}`);
});

Deno.test("parser keeps lines it does not understand aside", () => {
  const parser = new BpftraceParser();
  assertEquals(parser.feed("Attaching 7 probes..."), false);
  assertEquals(parser.strays, ["Attaching 7 probes..."]);
});

Deno.test("program filter widens to every PID given", () => {
  assertEquals(programFor("/pid == $1/ {}", [42]), "/pid == 42/ {}");
  assertEquals(programFor("/pid == $1 && x/", [1, 2]), "/(pid == 1 || pid == 2) && x/");
  let threw = false;
  try {
    programFor("x", [0]);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "PID 0 refused");
});

Deno.test("programFor with followChildren seeds a PID map, grows it on fork, and clears it at END", () => {
  const src = "tracepoint:x:y\n/pid == $1/\n{ @a = count(); }\n\nEND\n{\n  clear(@start);\n}\n";
  const p = programFor(src, [7, 9], { followChildren: true });
  assert(p.includes("@ioscope_pid[7] = 1;") && p.includes("@ioscope_pid[9] = 1;"), p);
  assert(p.includes("tracepoint:sched:sched_process_fork\n/@ioscope_pid[pid]/"), p);
  assert(p.includes("/@ioscope_pid[pid]/\n{ @a = count(); }"), p);
  assert(!p.includes("pid == $1"), p);
  assert(p.includes("END\n{\n  clear(@ioscope_pid);\n  clear(@start);"), p);
});

Deno.test("a tick's kernel time stays with its snapshot, not with what comes after it", () => {
  const parser = new BpftraceParser();
  parser.feed('{"type": "printf", "data": "{\\"type\\": \\"tick\\", \\"data\\": 5000000000}\\n"}');
  parser.feed('{"type": "printf", "data": "{\\"type\\": \\"tick\\", \\"data\\": 6000250000}\\n"}');
  assertEquals(parser.latest().takenNs, 6_000_250_000);
  assertEquals(parser.final().takenNs, undefined, "the maps printed at exit have no tick time");
});
