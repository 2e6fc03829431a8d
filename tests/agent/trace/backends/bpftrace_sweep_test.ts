// The sweep of bpftrace programs a killed agent left: it kills through a
// pidfd taken before it judges the process, so a PID reused in between (the
// stale bpftrace exits, another process gets its PID) is never killed.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { ROOT } from "../../../_helpers/common.ts";

Deno.test("the bpftrace sweep never kills a process that took a stale bpftrace's PID", async () => {
  assertEquals(Deno.uid(), 0, "needs root: a PID namespace and ns_last_pid");
  // A PID namespace of its own: ns_last_pid hands the stale PID out again,
  // and no process of the host is in reach of the sweep.
  const tries: string[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    const out = await new Deno.Command("unshare", {
      args: [
        "--pid",
        "--fork",
        "--mount-proc",
        Deno.execPath(),
        "run",
        "-A",
        `${ROOT}tests/agent/trace/backends/_sweep_pid_reuse.ts`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const r = JSON.parse(text) as {
      stale: number;
      innocent: number;
      killed: number[];
      innocentAlive: boolean;
    };
    tries.push(text);
    // Another task of the namespace (a Deno thread) may take the PID first: try again.
    if (r.innocent !== r.stale) continue;
    assertEquals(r.killed, [], "the sweep reports no kill: the process it judged was gone");
    assert(r.innocentAlive, `the process given the stale PID was killed: ${text}`);
    return;
  }
  throw new Error(`the stale PID was never handed out again in 5 tries: ${tries.join(" ")}`);
});
