// Older kernels' event formats (Debian's 5.10, 6.1, 6.12) read by the ftrace
// backend. Before, `ioscope trace --backend ftrace` died at start there with a
// stack trace (`deno task test:kernels`, 2026-12-06): 6.1 and 6.12 "Event
// sched:sched_process_exit has no field 'group_dead'" (the field is newer:
// the leader's exit now ends the process, as with bpftrace); 5.10 "Event
// io_uring:io_uring_complete has no field 'req'" (5.10 has no
// io_uring_submit_req either: io_uring is unsupported there, as the backend's
// Run already says). The formats are this host's (6.18) with the newer fields
// taken out.
import { assertEquals } from "../_helpers/assert.ts";
import { loadFixture, replay } from "../_helpers/ftrace_fixture.ts";

const EXIT_FORMAT_6_1 = `name: sched_process_exit
ID: 369
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;
\tfield:int prio;\toffset:28;\tsize:4;\tsigned:1;

print fmt: "comm=%s pid=%d prio=%d", REC->comm, REC->pid, REC->prio
`;

Deno.test("ftrace: a sched_process_exit without group_dead is read (the leader's exit ends the process)", () => {
  const fixture = loadFixture("ftrace_known_io.json");
  fixture.formats["sched:sched_process_exit"] = EXIT_FORMAT_6_1;
  const s = replay(fixture).snapshot();
  for (const [name, want] of Object.entries(fixture.expected)) {
    const op = s.syscalls.get(name);
    assertEquals({ count: op?.count, errors: op?.errors, bytes: op?.bytes }, want, name);
  }
});

const COMPLETE_FORMAT_5_10 = `name: io_uring_complete
ID: 977
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:void * ctx;\toffset:8;\tsize:8;\tsigned:0;
\tfield:u64 user_data;\toffset:16;\tsize:8;\tsigned:0;
\tfield:long res;\toffset:24;\tsize:8;\tsigned:1;

print fmt: "ring %p, user_data 0x%llx, result %ld", REC->ctx, (unsigned long long)REC->user_data, REC->res
`;

Deno.test("ftrace: an io_uring_complete without req (5.10), and no submit_req, leaves io_uring out", () => {
  const fixture = loadFixture("ftrace_known_io.json");
  for (const e of Object.keys(fixture.formats)) {
    if (e.startsWith("io_uring:")) delete fixture.formats[e];
  }
  fixture.formats["io_uring:io_uring_complete"] = COMPLETE_FORMAT_5_10;
  fixture.formats["sched:sched_process_exit"] = EXIT_FORMAT_6_1;
  const s = replay(fixture).snapshot();
  assertEquals(s.io_uring.size, 0);
  const op = s.syscalls.get("pread64");
  assertEquals(
    { count: op?.count, errors: op?.errors, bytes: op?.bytes },
    fixture.expected.pread64,
  );
});
