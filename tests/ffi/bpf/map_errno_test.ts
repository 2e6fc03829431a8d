/**
 * A map read that fails otherwise than ENOENT is asked again (ffi/bpf/sys.ts,
 * `askedAgain`): the errno is read by a second FFI call, and a suite's run
 * once saw a trace's first read of a per-CPU array end in EAGAIN, an errno
 * the kernel's lookup paths do not return. strace injects the failure here:
 * `-e inject=bpf:error=EAGAIN:when=N` fails the Nth bpf(2) call without
 * running it. One injected failure of any of the three batch calls
 * (tests/ffi/bpf/_batch_reads.ts: a per-CPU array read in two calls, a hash
 * in one) leaves the reads whole; two in a row, the call and its second
 * asking, still throw EAGAIN.
 * @module
 */

import { assert, assertEquals } from "../../_helpers/assert.ts";

const CHILD = new URL("./_batch_reads.ts", import.meta.url).pathname;
const WHOLE = { array: { entries: 16, sum: 136 }, hash: { entries: 40, sum: 820 } };

async function underStrace(strace: string[]): Promise<{ out: unknown; log: string }> {
  const log = await Deno.makeTempFile({ prefix: "ioscope-strace-" });
  try {
    const r = await new Deno.Command("strace", {
      args: [
        "-f",
        "-o",
        log,
        "-e",
        "trace=bpf,write",
        ...strace,
        Deno.execPath(),
        "run",
        "-A",
        CHILD,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(r.stdout).trim();
    assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
    return { out: JSON.parse(stdout), log: Deno.readTextFileSync(log) };
  } finally {
    Deno.removeSync(log);
  }
}

Deno.test("map: one failed batch call (EAGAIN injected by strace) is asked again; two in a row still throw", async () => {
  const clean = await underStrace([]);
  assertEquals(clean.out, WHOLE);
  // The bpf(2) calls before the child's "step reads" line: map making and
  // filling (a line per call: its own thread makes them all).
  const lines = clean.log.split("\n");
  const at = lines.findIndex((l) => l.includes('"step reads\\n"'));
  assert(at > 0, `the child's "step reads" line in strace's log`);
  const before = lines.slice(0, at).filter((l) => /^\d+\s+bpf\(/.test(l)).length;
  const reads = lines.slice(at).filter((l) => /^\d+\s+bpf\(BPF_MAP_LOOKUP_BATCH/.test(l)).length;
  assertEquals(reads, 3, "the array in two batch calls, the hash in one");
  for (let n = before + 1; n <= before + reads; n++) {
    const { out } = await underStrace(["-e", `inject=bpf:error=EAGAIN:when=${n}`]);
    assertEquals(out, WHOLE, `EAGAIN injected at bpf call ${n}`);
  }
  const twice = await underStrace([
    "-e",
    `inject=bpf:error=EAGAIN:when=${before + 3}..${before + 4}`,
  ]);
  assertEquals(twice.out, { array: WHOLE.array, hash: "EAGAIN" });
});
