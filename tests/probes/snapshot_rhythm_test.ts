// The snapshot rhythm has one owner, probes/snapshot.ts (SNAPSHOT_MS): every
// backend and the session read it from there, and the bpftrace programs,
// which cannot import it, print on the same period.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/common.ts";
import { fitsSnapshotRhythm, SNAPSHOT_MS, SNAPSHOT_SLACK_MS } from "../../probes/snapshot.ts";

Deno.test("an --interval fits the snapshot rhythm only as a whole number of snapshots", () => {
  assert(fitsSnapshotRhythm(SNAPSHOT_MS));
  assert(fitsSnapshotRhythm(5 * SNAPSHOT_MS));
  assert(!fitsSnapshotRhythm(SNAPSHOT_MS / 2), "shorter than one snapshot");
  assert(!fitsSnapshotRhythm(1.5 * SNAPSHOT_MS), "between two snapshots");
  assert(!fitsSnapshotRhythm(0));
  assert(SNAPSHOT_SLACK_MS > 0 && SNAPSHOT_SLACK_MS < SNAPSHOT_MS / 2);
});

Deno.test("the bpftrace programs print once per SNAPSHOT_MS (50 ms short, on a 100 ms timer)", () => {
  // The programs fire every 100 ms and print at the first firing past a
  // deadline 50 ms short of the period, so that timer jitter keeps the period
  // at ten firings (probes/io_syscalls.bt's comment).
  const deadlineNs = (SNAPSHOT_MS - 50) * 1e6;
  for (const file of ["probes/io_syscalls.bt", "probes/io_uring.bt"]) {
    const text = Deno.readTextFileSync(`${ROOT}${file}`);
    assert(/^interval:ms:100$/m.test(text), `${file} fires every 100 ms`);
    const deadlines = [...text.matchAll(/next_print = nsecs \+ (\d+);/g)].map((m) => Number(m[1]));
    assertEquals(deadlines, [deadlineNs], `${file}'s print deadline`);
  }
});

Deno.test("the backends, the session and the CLI read the rhythm from probes/snapshot.ts", () => {
  const readers: Record<string, RegExp> = {
    "agent/trace/backends/bpf.ts": /\bSNAPSHOT_MS\b/,
    "agent/trace/backends/_ftrace_loop.ts": /\bSNAPSHOT_MS\b/,
    "agent/trace/session.ts": /\bSNAPSHOT_SLACK_MS\b/,
    "agent/cli/cmd_trace.ts": /\bfitsSnapshotRhythm\b/,
  };
  for (const [file, uses] of Object.entries(readers)) {
    const text = Deno.readTextFileSync(`${ROOT}${file}`);
    assert(uses.test(text), `${file} reads the rhythm from probes/snapshot.ts`);
    // No second home: a one-second period written out as a number.
    const own = text.split("\n").filter((l) =>
      /(setInterval|setTimeout)\([^)]*,\s*1000\)|%\s*1000\b|SNAPSHOT_MS\s*=|SLACK_MS\s*=/.test(l)
    );
    assertEquals(own, [], `${file} keeps no rhythm of its own`);
  }
});
