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

Deno.test("program filter compares the PIDs given, then checks they are still in the set", () => {
  const one = programFor("/pid == $1/ {}", [42]);
  assert(one.includes("/pid == 42 && @ioscope_pid[pid]/ {}"), one);
  assert(one.includes("@ioscope_pid[42] = 1;"), one);
  const two = programFor("/pid == $1 && x/", [1, 2]);
  assert(two.includes("/(pid == 1 || pid == 2) && @ioscope_pid[pid] && x/"), two);
  // A process leaves the set when its last thread exits: its PID may be reused.
  assert(
    two.includes(
      "tracepoint:sched:sched_process_exit\n/@ioscope_pid[pid] && args->group_dead/\n{\n  delete(@ioscope_pid[pid]);",
    ),
    two,
  );
  assert(!two.includes("task_newtask"), "a fixed set follows no fork");
  let threw = false;
  try {
    programFor("x", [0]);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw, "PID 0 refused");
});

Deno.test("programFor with followChildren seeds a PID map, grows it on fork (not on a thread), and clears it at END", () => {
  const src = "tracepoint:x:y\n/pid == $1/\n{ @a = count(); }\n\nEND\n{\n  clear(@start);\n}\n";
  const p = programFor(src, [7, 9], { followChildren: true });
  assert(p.includes("@ioscope_pid[7] = 1;") && p.includes("@ioscope_pid[9] = 1;"), p);
  assert(
    p.includes(
      "tracepoint:task:task_newtask\n/@ioscope_pid[pid] && (args->clone_flags & 0x10000) == 0/",
    ),
    p,
  );
  assert(p.includes('@ioscope_map_full["pid"] = count();'), "a full map is counted");
  assert(p.includes("/@ioscope_pid[pid]/\n{ @a = count(); }"), p);
  assert(!p.includes("pid == $1"), p);
  assert(p.includes("END\n{\n  clear(@ioscope_pid);\n  clear(@start);"), p);
});

Deno.test("programFor with comm joins processes that exec that name, escaped, and lets others leave", () => {
  const p = programFor("/pid == $1/ {}", [3], { comm: 'we"ird\\' });
  assert(p.includes('if (comm == "we\\"ird\\\\") {'), p);
  assert(p.includes("tracepoint:task:task_newtask"), "forks of the named processes are followed");
  assert(p.includes("if (@ioscope_pid[pid]) { delete(@ioscope_pid[pid]); }"), p);
  const old = programFor("/pid == $1/ {}", [3], { groupDead: false });
  assert(old.includes("/@ioscope_pid[pid] && tid == pid/"), old);
});

Deno.test("parser counts calls in flight at exit, failed map inserts and lost events", () => {
  const parser = new BpftraceParser();
  parser.feed('{"type": "map", "data": {"@ioscope_map_full": {"start": 3, "pid": 1}}}');
  parser.feed('{"type": "lost_events", "data": {"events": 5}}');
  parser.feed('{"type": "map", "data": {"@start": {"101": 5, "102": 6}}}');
  parser.feed('{"type": "map", "data": {"@uring_start": {"18446": 7}}}');
  // 10 reads counted, 7 in the histograms: a full @hist dropped 3.
  parser.feed(
    '{"type": "stats", "data": {"@stats": {"0": {"count": 10, "average": 5, "total": 50}}}}',
  );
  parser.feed('{"type": "map", "data": {"@hist": {"0,70": 6}}}');
  parser.feed('{"type": "map", "data": {"@ehist": {"0,70": 1}}}');
  const s = parser.final();
  assertEquals([s.mapFull, s.lostEvents, s.inFlight], [4 + 3, 5, 3]);
});

Deno.test("a tick's kernel time stays with its snapshot, not with what comes after it", () => {
  const parser = new BpftraceParser();
  parser.feed('{"type": "printf", "data": "{\\"type\\": \\"tick\\", \\"data\\": 5000000000}\\n"}');
  parser.feed('{"type": "printf", "data": "{\\"type\\": \\"tick\\", \\"data\\": 6000250000}\\n"}');
  assertEquals(parser.latest().takenNs, 6_000_250_000);
  assertEquals(parser.final().takenNs, undefined, "the maps printed at exit have no tick time");
});
