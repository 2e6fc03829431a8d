// Calls still open when the trace ends are counted (`meta.in_flight`), and no
// map fills up and drops calls silently (`meta.map_full`): 5000 threads
// blocked in read(2) at the end (bpftrace 0.17 caps a map at 4096 keys by
// default, so its start-time map held 4096 of them and dropped the rest).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { tmpDir } from "../_helpers/common.ts";
import { TRACE_BACKENDS } from "../_helpers/backends.ts";
import { type LineProcess, startLineProcess } from "../_helpers/forker.ts";
import { type TraceCli, tracePid, traceRun } from "../_helpers/trace_run.ts";
import type { RunDocument } from "../../schema/mod.ts";

/** Python: on "go", THREADS threads each block in one read(2) of a pipe; prints "blocked". */
const BLOCKERS = `
import os, sys, threading, time
n = int(sys.argv[1])
threading.stack_size(65536)
r, w = os.pipe()
print("ready", os.getpid(), flush=True)
sys.stdin.readline()
for _ in range(n):
    threading.Thread(target=os.read, args=(r, 1), daemon=True).start()
time.sleep(1.5)
print("blocked", threading.active_count() - 1, flush=True)
time.sleep(3600)
`;

const THREADS = 5000;

/** While the CLI traces: the threads block, then the trace is ended with SIGINT. */
function blockThenStop(w: LineProcess): (cli: TraceCli) => Promise<void> {
  return async (cli) => {
    await w.send("go");
    assertEquals(await w.nextLine(60_000), `blocked ${THREADS}`);
    cli.child.kill("SIGINT");
  };
}

for (const backend of TRACE_BACKENDS) {
  Deno.test(`${backend}: ${THREADS} reads blocked at the end are counted in flight, none dropped`, async () => {
    await using dir = tmpDir();
    await using w = await startLineProcess("python3", ["-c", BLOCKERS, String(THREADS)]);
    const { run, ...result } = await tracePid(w.pid, `${dir.path}/run.json`, {
      backend,
      during: blockThenStop(w),
    });
    const meta = run.meta as RunDocument["meta"] & { in_flight?: number; map_full?: number };
    assertEquals(meta.map_full, 0, `${backend}: map inserts that failed`);
    // Every blocked read, and nothing else of python's: its main thread sleeps.
    assertEquals(meta.in_flight, THREADS, `${backend}: calls in flight at the end`);
    assertEquals(
      result.stdout.includes(`${THREADS.toLocaleString("en-US")} calls in flight at the end`) ||
        result.stdout.includes(`${THREADS} calls in flight at the end`),
      true,
      `the summary says so: ${result.stdout}`,
    );
  });
}

Deno.test(
  `bpftrace: with bpftrace 0.17's default 4096 keys, ${THREADS} blocked reads are 4096 in flight and the rest map_full, none silent`,
  async () => {
    await using dir = tmpDir();
    await using w = await startLineProcess("python3", ["-c", BLOCKERS, String(THREADS)]);
    // The agent raises the cap to 32768; this puts bpftrace's default back (traceRun
    // spawns the CLI before its first await, so the variable is set for it alone).
    Deno.env.set("IOSCOPE_BPFTRACE_MAP_KEYS_MAX", "4096");
    let traced: ReturnType<typeof traceRun>;
    try {
      traced = traceRun(
        ["--pid", String(w.pid), "--backend", "bpftrace"],
        `${dir.path}/run.json`,
        { during: blockThenStop(w) },
      );
    } finally {
      Deno.env.delete("IOSCOPE_BPFTRACE_MAP_KEYS_MAX");
    }
    const { run } = await traced;
    const meta = run.meta as RunDocument["meta"] & { in_flight?: number; map_full?: number };
    // Before: nothing said; 904 of the reads were simply not there. Now every
    // call whose start found the map full is counted: the 904 reads, and the
    // main thread's own calls made meanwhile (its mmaps for new thread stacks:
    // 2718 in all, once).
    assertEquals(meta.in_flight, 4096);
    assert(
      (meta.map_full ?? 0) >= THREADS - 4096,
      `map_full ${meta.map_full}: at least the ${THREADS - 4096} reads`,
    );
  },
);
