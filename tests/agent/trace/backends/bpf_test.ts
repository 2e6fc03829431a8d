// The bpf backend against the real kernel: exact counts of a known workload
// on every attach path (each fallback forced and taken), the traced set kept
// in the kernel (--follow, --comm joiners, exits), and nothing of ours left
// after stop or kill -9. Programs of other processes may be loaded meanwhile:
// only our own ids are checked.
import { assert, assertEquals } from "../../../_helpers/assert.ts";
import { ROOT } from "../../../_helpers/common.ts";
import { waitGone } from "../../../ffi/bpf/_helpers.ts";
import {
  type AttachKind,
  bpfAttachPlan,
  type BpfBackend,
  startBpf,
} from "../../../../agent/trace/backends/bpf.ts";
import type { Snapshot } from "../../../../probes/snapshot.ts";
import { connectEach, startMultishotServer } from "../../../_helpers/multishot_server.ts";

const BLOCKS = 20_000;

/**
 * dd copying BLOCKS blocks of 4 KiB from /dev/zero to /dev/null, forked by a
 * `sh` that first runs `prelude`, then waits until `go()` is called (so the
 * backend is attached first, however slowly this host starts it).
 */
function dd(prelude = ""): Deno.ChildProcess & { go(): void } {
  const flag = Deno.makeTempFileSync({ prefix: "ioscope-bpf-go-" });
  Deno.removeSync(flag);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `${prelude}while [ ! -e ${flag} ]; do sleep 0.02; done; rm -f ${flag}; ` +
      `dd if=/dev/zero of=/dev/null bs=4k count=${BLOCKS} 2>/dev/null`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  return Object.assign(child, { go: () => Deno.writeTextFileSync(flag, "") });
}

async function traceDd(
  options: { attach?: AttachKind; startsInHash?: boolean },
): Promise<{ backend: BpfBackend; snap: Snapshot }> {
  const child = dd();
  const backend = startBpf({ pids: [child.pid], followChildren: true, ...options });
  child.go();
  await child.status;
  const ids = backend.objectIds();
  const snap = await backend.stop();
  const left = await waitGone(ids.programs, ids.links);
  assertEquals(left, { programs: [], links: [] }, "programs and links gone after stop");
  return { backend, snap };
}

/**
 * What this kernel allows, by the backend's own trials: this machine kind
 * refuses TRACING programs (raw_tp, task storage); Debian's 6.1 and 6.12 take
 * fentry; 5.10 has no task storage (hash). tests/kernels/ runs these there.
 */
const PLAN = bpfAttachPlan();
const BEST = PLAN.kind ?? "raw_tp";

for (
  const [what, options, kind, starts] of [
    ["default", {}, BEST, PLAN.starts],
    ["classic tracepoints forced", { attach: "tp" }, "tp", PLAN.starts],
    ["raw tracepoints asked for", { attach: "raw_tp" }, "raw_tp", PLAN.starts],
    ["tid-keyed starts forced", { startsInHash: true }, BEST, "hash"],
  ] as const
) {
  Deno.test(`bpf (${what}): dd's ${BLOCKS} reads and writes counted exactly, per descriptor`, async () => {
    const { backend, snap } = await traceDd(options);
    assertEquals(backend.attach.kind, kind);
    assertEquals(backend.attach.starts, starts);
    if (kind !== "fentry" && !("attach" in options)) {
      // Where fentry is not taken, the kernel's reason is kept (this machine kind: EPERM,
      // BPF_PROG_TYPE_TRACING refused before the verifier runs).
      const fentry = backend.attach.reasons.find((r) => r.kind === "fentry");
      const planned = PLAN.reasons.find((r) => r.kind === "fentry");
      assert(fentry && planned, JSON.stringify(backend.attach));
      if (/EPERM/.test(planned.reason)) assert(/EPERM/.test(fentry.reason), fentry.reason);
    }
    // dd reads fd 0 and writes fd 1, exactly BLOCKS times each (sh's own calls are elsewhere),
    // and the bytes by syscall too (the copy split reads sendfile's and vmsplice's).
    const ddFds = [...snap.fds.values()].filter((f) => f.bytes === BLOCKS * 4096);
    assertEquals(
      ddFds.map((f) => {
        const name = f.fd === 0 ? "read" : "write";
        return [f.fd, f.count, f.calls.get(name), f.callBytes.get(name)];
      }).sort(),
      [
        [0, BLOCKS, BLOCKS, BLOCKS * 4096],
        [1, BLOCKS, BLOCKS, BLOCKS * 4096],
      ],
    );
    const read = snap.syscalls.get("read");
    const write = snap.syscalls.get("write");
    assert(read && read.count >= BLOCKS && read.count < BLOCKS + 50, `read ${read?.count}`);
    assert(write && write.count >= BLOCKS && write.count < BLOCKS + 50, `write ${write?.count}`);
    // Every successful call is in the histogram, once.
    const inHist = [...read.hist.values()].reduce((a, b) => a + b, 0);
    assertEquals(inHist, read.count - read.errors);
    assert(read.max_ns > 0 && read.total_ns > 0, "latencies");
    assertEquals([snap.mapFull, snap.inFlight], [0, 0]);
    assert(snap.faults > 0, "dd's page faults");
    // dd's munmap()s flush its TLB (local_mm_shootdown): 10-11 in a dd run here.
    assert((snap.tlb.get("local_mm_shootdown") ?? 0) > 0, JSON.stringify([...snap.tlb]));
    assert(snap.voluntary + snap.involuntary > 0, "context switches");
  });
}

/** dd's own calls (its descriptors 0 and 1, BLOCKS each) and a syscall's P50 bucket. */
function ddRows(snap: Snapshot): { fds: unknown[]; p50: Record<string, number>; errors: number[] } {
  const fds = [...snap.fds.values()].filter((f) => f.bytes === BLOCKS * 4096)
    .map((f) => [f.fd, f.count, f.bytes, [...f.calls], [...f.callBytes]]).sort();
  const p50: Record<string, number> = {};
  const errors: number[] = [];
  for (const name of ["read", "write"]) {
    const s = snap.syscalls.get(name);
    assert(s, `${name} traced`);
    errors.push(s.errors);
    const half = (s.count - s.errors) / 2;
    let seen = 0;
    for (const [bucket, n] of [...s.hist.entries()].sort((a, b) => a[0] - b[0])) {
      seen += n;
      if (seen >= half) {
        p50[name] = bucket;
        break;
      }
    }
  }
  return { fds, p50, errors };
}

// The totals also hold the calls of the `sleep`s dd's shell runs until it is let go (as many
// as the attach takes: 10 reads more in one run than the other on 6.1), so dd's own
// descriptors are compared exactly, and the P50 of all (dd's 20 000 calls are nearly all).
// Latencies: runs alternate, three of each, medians compared, within one bucket. Not under
// QEMU's TCG (tests/kernels/ sets IOSCOPE_TCG=1): there the P50 of one path moves by more than the
// paths differ (Debian 6.1, dd's write to /dev/null, medians fentry vs raw_tp: 157 vs 155, then
// 153 vs 156 with each path's runs within a bucket; 2026-12-06), so it is printed, not checked.
const TCG = Deno.env.get("IOSCOPE_TCG") === "1";
Deno.test({
  name:
    "bpf (fentry and raw_tp forced): dd traced both ways gives the same counts, bytes, errors; median P50s within one bucket",
  ignore: PLAN.kind !== "fentry",
  async fn() {
    const runs: Record<"fentry" | "raw_tp", ReturnType<typeof ddRows>[]> = {
      fentry: [],
      raw_tp: [],
    };
    for (let i = 0; i < 3; i++) {
      for (const attach of ["fentry", "raw_tp"] as const) {
        const { backend, snap } = await traceDd({ attach });
        assertEquals(backend.attach.kind, attach);
        runs[attach].push(ddRows(snap));
      }
    }
    const [a, b] = [runs.fentry[0]!, runs.raw_tp[0]!];
    assertEquals(a.fds.length, 2, JSON.stringify(a.fds));
    for (const r of [...runs.fentry, ...runs.raw_tp]) {
      assertEquals(r.fds, a.fds, "dd's descriptors: count, bytes, per call");
      assertEquals(r.errors, b.errors, "read and write errors");
    }
    const median = (xs: number[]) => xs.sort((x, y) => x - y)[1] ?? -9;
    for (const name of ["read", "write"]) {
      const pa = runs.fentry.map((r) => r.p50[name] ?? -9);
      const pb = runs.raw_tp.map((r) => r.p50[name] ?? -9);
      console.error(`${name} P50 buckets: fentry ${pa}, raw_tp ${pb}`);
      const [ma, mb] = [median(pa), median(pb)];
      if (TCG) {
        console.error(`bpf_test: under TCG the P50s are not compared (${name}: ${ma} vs ${mb})`);
        continue;
      }
      assert(Math.abs(ma - mb) <= 1, `${name} median P50 bucket ${ma} (fentry) vs ${mb} (raw_tp)`);
    }
  },
});
if (PLAN.kind !== "fentry") {
  console.error(
    `bpf_test: fentry is not compared with raw_tp on this kernel (${
      PLAN.reasons.find((r) => r.kind === "fentry")?.reason
    }); deno task test:kernels runs it on Debian 6.1 and 6.12`,
  );
}

Deno.test("bpf: without --follow a target's children are not traced; exited processes leave the set", async () => {
  const child = dd();
  const backend = startBpf({ pids: [child.pid] });
  assertEquals(backend.tracedNow(), [child.pid]);
  child.go();
  await child.status;
  // The exit program removed it when its last thread exited.
  assertEquals(backend.tracedNow(), []);
  const snap = await backend.stop();
  const read = snap.syscalls.get("read")?.count ?? 0;
  assert(read < 50, `${read} reads: dd (a child) was traced`);
});

Deno.test("bpf: --comm NAME: a process renamed to NAME joins; its child that execs dd leaves", async () => {
  const name = `iosj${Deno.pid % 100000}`;
  const backend = startBpf({ pids: [], comm: name });
  // sh renames itself (task_rename), then forks a child (the name kept: it
  // joins) that execs dd (another name: it leaves, its reads not counted).
  const child = dd(`printf ${name} > /proc/$$/comm; `);
  for (let i = 0; i < 200 && !backend.tracedNow().includes(child.pid); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert(backend.tracedNow().includes(child.pid), `renamed sh ${child.pid} joined`);
  child.go();
  await child.status;
  const snap = await backend.stop();
  const ddFds = [...snap.fds.values()].filter((f) => f.bytes === BLOCKS * 4096);
  assertEquals(ddFds, [], "dd ran another program's name: not the target");
});

Deno.test("bpf: --cgroup DIR: a process that moves into the cgroup after the start is traced, with its children", async () => {
  const mount = Deno.readTextFileSync("/proc/self/mounts").split("\n")
    .map((l) => l.split(" ")).find((f) => f[2] === "cgroup2")?.[1];
  assert(mount, "a cgroup v2 hierarchy is mounted");
  const path = `${mount}/ioscope-bpf-test-${Deno.pid}`;
  Deno.mkdirSync(path);
  try {
    // On cgroup v2 a cgroup's id is its directory's inode number.
    const id = Deno.statSync(path).ino ?? 0;
    const backend = startBpf({ pids: [], cgroup: { path, id } });
    assertEquals(backend.tracedNow(), [], "nobody in the traced set: the cgroup test decides");
    const child = dd(`echo $$ > ${path}/cgroup.procs; `);
    child.go();
    await child.status;
    const snap = await backend.stop();
    const ddFds = [...snap.fds.values()].filter((f) => f.bytes === BLOCKS * 4096);
    assertEquals(ddFds.map((f) => f.count), [BLOCKS, BLOCKS]);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("bpf: failed calls are counted by errno, timed apart from successful ones", async () => {
  // Writes to /dev/full fail with ENOSPC (28); the shell carries on.
  const flag = Deno.makeTempFileSync({ prefix: "ioscope-bpf-go-" });
  Deno.removeSync(flag);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `while [ ! -e ${flag} ]; do sleep 0.02; done; rm -f ${flag}; ` +
      "for i in 1 2 3 4 5; do echo x > /dev/full; done; true",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const backend = startBpf({ pids: [child.pid] });
  Deno.writeTextFileSync(flag, "");
  await child.status;
  const snap = await backend.stop();
  const write = snap.syscalls.get("write");
  assert(write, "write traced");
  assertEquals(write.errnos.get(28), 5, JSON.stringify([...write.errnos]));
  assertEquals([...write.error_hist.values()].reduce((a, b) => a + b, 0), write.errors);
  assertEquals(
    [...write.hist.values()].reduce((a, b) => a + b, 0),
    write.count - write.errors,
    "successful calls only in hist",
  );
});

/** What a child printed up to its first newline (all of it if it ended first). */
async function firstLine(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  return text;
}

// Two threads on two CPUs making the same calls on the same descriptors at
// once count (and first insert) the same keys of the per-descriptor and errno
// maps at once: exactly, none lost to the other CPU (an insert that finds the
// key inserted meanwhile adds to it; a value shared by CPUs would need atomic
// adds: a plain add lost 140 of 200000 here, a plain errno add 612).
Deno.test("bpf: two threads on two CPUs, same descriptors at once: per-descriptor and errno counts exact", async () => {
  const N = 100_000;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/_helpers/workloads/shared_fd_threads.ts`, String(N)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const text = await firstLine(reader);
  const [, fileFd, otherFd] = text.trim().split(" ").map(Number);
  assert(text.startsWith("ready") && fileFd !== undefined && otherFd !== undefined, text);
  const backend = startBpf({ pids: [child.pid] });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("go\n"));
  await writer.close();
  assert((await child.status).success, "the workload ran");
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  const snap = await backend.stop();
  const fd = (n: number) => {
    const t = snap.fds.get(`${child.pid}:${n}`);
    return t &&
      [t.count, t.errors, t.bytes, t.calls.get("pread64") ?? 0, t.calls.get("recvfrom") ?? 0];
  };
  assertEquals(fd(fileFd), [2 * N, 0, 2 * N, 2 * N, 0], "the file: 2N preads of 1 byte");
  assertEquals(fd(otherFd), [2 * N, 2 * N, 0, 0, 2 * N], "the other: 2N failed recvs");
  assertEquals(snap.syscalls.get("recvfrom")?.errnos.get(88), 2 * N, "ENOTSOCK 2N times");
  assertEquals(snap.mapFull, 0);
});

Deno.test("bpf: io_uring requests counted once each, none left in flight", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/agent/trace/backends/_uring_nops.ts`, "1000"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read(); // "ready"
  const backend = startBpf({ pids: [child.pid] });
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("go\n"));
  await writer.close();
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  const snap = await backend.stop();
  const nop = snap.io_uring.get("NOP");
  assert(nop, `NOP traced: ${[...snap.io_uring.keys()]}`);
  assertEquals([nop.count, nop.errors, nop.multishot, nop.untimed], [1000, 0, 0, 0]);
  assertEquals([...nop.hist.values()].reduce((a, b) => a + b, 0), 1000);
  assertEquals(snap.syscalls.get("io_uring_enter")?.count, 1000);
  assertEquals([snap.inFlight, snap.mapFull], [0, 0]);
});

// The kernel posts all but a multishot request's last completion with req
// NULL (io_fill_cqe_aux). Matched by request pointer only, 1 of the ACCEPT's
// CONNS + 1 completions was counted (the cancel), and the request stayed
// remembered; matched by ring and user_data as well, every one, on both the
// raw tracepoint (CQE read through its pointer) and the classic record.
for (const attach of ["raw_tp", "tp"] as const) {
  Deno.test(`bpf (${attach}): a multishot ACCEPT's completions without the request are found by ring and user_data`, async () => {
    const CONNS = 5;
    const SKIPS = 3;
    const w = await startMultishotServer(CONNS, SKIPS);
    const backend = startBpf({ pids: [w.pid], attach });
    assertEquals(backend.attach.kind, attach);
    await connectEach(w, CONNS, 20);
    const { status, text } = await w.done();
    assert(status.success, text);
    const snap = await backend.stop();
    const accept = snap.io_uring.get("ACCEPT");
    assert(accept, `ACCEPT traced: ${[...snap.io_uring.keys()]}`);
    assertEquals(
      [accept.count, accept.errors, accept.multishot, [...accept.errnos]],
      [CONNS + 1, 1, CONNS + 1, [[125, 1]]],
      "every connection's completion, then the cancel's -ECANCELED",
    );
    const nop = snap.io_uring.get("NOP");
    assertEquals([nop?.count, nop?.untimed], [0, SKIPS], "CQE_SKIP_SUCCESS NOPs: untimed");
    assertEquals([snap.inFlight, snap.mapFull], [0, 0], "nothing left in flight");
  });
}

Deno.test("bpf: kill -9 of the agent leaves none of its programs or links", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/agent/trace/backends/_bpf_child.ts`],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  const text = await firstLine(reader);
  const ids = JSON.parse(text) as { programs: number[]; links: number[] };
  assert(ids.programs.length >= 5 && ids.links.length >= 5, text);
  child.kill("SIGKILL");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel().catch(() => {});
  assertEquals(await waitGone(ids.programs, ids.links), { programs: [], links: [] });
});
