// The bpf backend's gate (probes/bpf/layout.ts GATE): every counting program
// reads it first, so what they count lies in one window, opened once every
// program is attached and closed before anything detaches. Before it (main at
// 145cd7c), each program counted from its own attach to its own detach, in
// programs.ts order (sys_exit before sys_enter); a classic tracepoint's detach
// waits for RCU, so on classic tracepoints a thread in a loop of 1-byte reads
// kept starting calls that no exit program saw: the first test read "395068
// calls in flight (677329 reads ended)" there (raw tracepoints detach at once:
// it passed). /proc's faults also ran 0.9-3.6% over the tracepoint's
// (tests/e2e/faults_window_test.ts).
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { startBpf } from "../../../../agent/trace/backends/bpf.ts";

for (const attach of ["raw_tp", "tp"] as const) {
  Deno.test(`bpf (${attach}): a thread in a loop of reads has at most its one current call in flight when the window closes`, async () => {
    // One thread: read and write 1 byte at a time, a few microseconds each.
    const child = new Deno.Command("dd", {
      args: ["if=/dev/zero", "of=/dev/null", "bs=1", "count=1000000000"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const backend = startBpf({ pids: [child.pid], attach });
      await new Promise((r) => setTimeout(r, 300));
      const s = await backend.stop();
      const reads = s.syscalls.get("read")?.count ?? 0;
      assert(reads > 10_000, `${reads} reads in 0.3 s`);
      assert(s.inFlight <= 1, `${s.inFlight} calls in flight (${reads} reads ended)`);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  });
}

/** Whether the process is blocked in read() (syscall 0 on x86_64) of descriptor 0. */
function blockedInRead(pid: number): boolean {
  return Deno.readTextFileSync(`/proc/${pid}/syscall`).startsWith("0 0x0 ");
}

/** Reads stdin a byte at a time and writes each byte back, until EOF. */
const ECHO = `
import os
os.write(1, b"r")
while True:
    b = os.read(0, 1)
    if not b:
        break
    os.write(1, b)
`;

Deno.test("bpf: a read blocked across the window's end is in flight, not counted; one blocked across its start is not counted", async () => {
  const N = 5;
  const child = new Deno.Command("python3", {
    args: ["-c", ECHO],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  const echoed = async () => {
    const { value } = await reader.read();
    assertEquals(value?.length, 1, "one byte echoed");
  };
  try {
    await echoed(); // "r"
    // Until it waits in read(0, ...): /proc/PID/syscall gives the number and arguments.
    for (let i = 0; i < 200 && !blockedInRead(child.pid); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert(blockedInRead(child.pid), "the echo waits in read(0)");
    const backend = startBpf({ pids: [child.pid] });
    for (let i = 0; i < N; i++) {
      await writer.write(new Uint8Array([0x61 + i]));
      await echoed();
    }
    // Now its (N+1)th read waits: it started inside the window and ends after.
    await new Promise((r) => setTimeout(r, 50));
    const s = await backend.stop();
    const fd = (n: number) => s.fds.get(`${child.pid}:${n}`)?.count ?? 0;
    // The first read started before the window opened: its start is unknown,
    // so it is not counted; the N-1 after it are; every echo write is.
    assertEquals([fd(0), fd(1)], [N - 1, N], "reads of stdin, writes of stdout in the window");
    assertEquals(s.inFlight, 1, "the read waiting when the window closed");
  } finally {
    await writer.close().catch(() => {});
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
});
