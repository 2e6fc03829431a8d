// sched_process_exit without `group_dead` (Debian's 5.10, 6.1 and 6.12; the
// field is newer): the ftrace backend ends a process at its leader's exit, as
// bpftrace does. Before: `ioscope trace --backend ftrace` died at start there
// with "Event sched:sched_process_exit has no field 'group_dead'" (seen in
// `deno task test:kernels 6.1`, 2026-12-06). The format below is this host's
// (6.18) with the group_dead line taken out, which is 6.1's.
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
