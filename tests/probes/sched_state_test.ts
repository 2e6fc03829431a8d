// sched_switch's prev_state: which switches away are voluntary.
import { assertEquals } from "../_helpers/assert.ts";
import { commOfExec, isVoluntarySwitch } from "../../probes/ftrace.ts";

Deno.test("a switch away is voluntary for any sleep, an idle one (0x80) too, and not when preempted", () => {
  // The kernel's TASK_REPORT bits (sched_switch's print fmt): S D T t X Z P I, 0x100 = preempted.
  const cases: [number, boolean][] = [
    [0x0, false], // still runnable (a yield)
    [0x100, false], // TASK_REPORT_MAX: preempted
    [0x1, true], // S
    [0x2, true], // D
    [0x10, true], // X (exiting)
    [0x80, true], // I: TASK_IDLE, an idle sleep: was counted as preempted before
  ];
  for (const [state, voluntary] of cases) {
    assertEquals(isVoluntarySwitch(state), voluntary, `prev_state 0x${state.toString(16)}`);
  }
  const bt = Deno.readTextFileSync(new URL("../../probes/io_syscalls.bt", import.meta.url));
  assertEquals(bt.includes("@cs[(args->prev_state & 0xff) != 0] = count();"), true);
});

Deno.test("the comm a process takes at exec is its file's name, at most 15 bytes", () => {
  const enc = (s: string) => new TextEncoder().encode(s + "\0garbage");
  assertEquals(commOfExec(enc("/usr/sbin/nginx")), "nginx");
  assertEquals(commOfExec(enc("postgres")), "postgres");
  assertEquals(commOfExec(enc("/opt/a-very-long-program-name")), "a-very-long-pro");
});
