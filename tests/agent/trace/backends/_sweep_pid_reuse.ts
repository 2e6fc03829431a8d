// Run as PID 1 of a new PID namespace (unshare --pid --fork --mount-proc): a
// stale "bpftrace" (its agent gone) is found by the sweep, and between the
// sweep reading its command line and killing it, it exits and an innocent
// process is given its PID (ns_last_pid). Prints one JSON line: the PIDs, and
// whether the innocent process survived the sweep.
import { AGENT_MARKER, sweepStaleBpftrace } from "../../../../agent/trace/backends/bpftrace.ts";

const dec = new TextDecoder();
function sh(script: string): string {
  const o = new Deno.Command("sh", { args: ["-c", script], stderr: "inherit" }).outputSync();
  return dec.decode(o.stdout).trim();
}

// The stale bpftrace: a sleeping python named /x/bpftrace, its argv naming an
// agent PID that does not exist. A bash holds it, so it is reaped as it dies.
const holder = new Deno.Command("bash", {
  args: [
    "-c",
    `exec -a /x/bpftrace /usr/bin/python3 -c 'import time; time.sleep(20)' '${AGENT_MARKER}77777' & ` +
    "echo $!; wait",
  ],
  stdout: "piped",
}).spawn();
const reader = holder.stdout.getReader();
const stale = Number(dec.decode((await reader.read()).value).trim());
reader.releaseLock();
for (let i = 0; i < 500 && !Deno.readTextFileSync(`/proc/${stale}/cmdline`).includes("/x/"); i++) {
  await new Promise((r) => setTimeout(r, 20));
}

let innocent = 0;
const killed = sweepStaleBpftrace({
  readCmdline: (pid) => {
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    if (pid !== stale) return cmdline;
    // The race, made certain: the stale process dies and is reaped, then the
    // next PID handed out is its PID, to a process that is not bpftrace.
    innocent = Number(sh(
      `kill -9 ${pid}; while [ -e /proc/${pid} ]; do sleep 0.01; done; ` +
        `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid; ` +
        "setsid /usr/bin/python3 -c 'import time; time.sleep(20)' innocent </dev/null >/dev/null 2>&1 & " +
        "echo $!",
    ));
    return cmdline; // what was read before the swap
  },
});
// A SIGKILL takes effect as the process is next scheduled: give it time.
await new Promise((r) => setTimeout(r, 300));
const alive = (() => {
  try {
    return Deno.readTextFileSync(`/proc/${innocent}/cmdline`).includes("innocent");
  } catch {
    return false;
  }
})();
console.log(JSON.stringify({ stale, innocent, killed, innocentAlive: alive }));
if (innocent > 0) sh(`kill -9 ${innocent}`);
await holder.status;
