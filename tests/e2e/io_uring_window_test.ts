// io_uring counts over a trace window shorter than the workload: fio
// (ioengine=io_uring, O_DIRECT 4k random reads, depth 4) held at 2000 IOPS
// until both traces end (8 s in the issue; here the trace can take 10 s to attach on a
// busy host), traced for 4 s by bpftrace and ftrace at once.
//
// Before (main at 7028a44): bpftrace counted 8460-8696 READ completions in a
// "4.0 s" trace (+5.6% to +8.7%); ftrace 8067-8097 (+0.7%). Not a double count:
// traced from start to exit, both counted fio's 8000 of 8000 exactly. bpftrace
// kept counting after the window closed until it had handled SIGINT and
// printed its maps (the last completion it counted came 0.3 s after the
// window's end). After: the agent opens the kernel-side window when every probe
// is attached and closes it before stopping bpftrace; nothing outside is counted.
import { assert, assertEquals, assertWithin } from "../_helpers/assert.ts";
import { diskDir } from "../_helpers/fio.ts";
import { traceRun } from "../_helpers/trace_run.ts";

const IOPS = 2000;

Deno.test("bpftrace and ftrace: a 4 s window of fio io_uring at 2000 IOPS counts 2000 READs a second (within 3%)", async () => {
  await using dir = diskDir();
  const file = `${dir.path}/fio.dat`;
  Deno.writeFileSync(file, new Uint8Array(64 << 20).fill(1));
  // At nice -20 fio keeps its pace on a busy 2-CPU host: behind, it would catch
  // up in bursts, and a 4 s window would hold more than 4 s of its I/O.
  const fio = new Deno.Command("nice", {
    args: [
      "-n",
      "-20",
      "fio",
      "--name=uring",
      `--filename=${file}`,
      "--size=64M",
      "--rw=randread",
      "--bs=4k",
      "--ioengine=io_uring",
      "--direct=1",
      "--iodepth=4",
      `--rate_iops=${IOPS}`,
      "--thread",
      "--time_based",
      "--runtime=60",
      "--output-format=json",
      `--output=${dir.path}/fio.json`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Let fio settle at its rate, then trace 4 s of it with both backends.
  await new Promise((r) => setTimeout(r, 1000));
  const results = await Promise.all(
    (["bpftrace", "ftrace"] as const).map(async (backend) => ({
      backend,
      run: (await traceRun(
        ["--pid", String(fio.pid), "--backend", backend, "--duration", "4s"],
        `${dir.path}/${backend}.json`,
        { what: backend },
      )).run,
    })),
  );
  // Enough: fio ends its job on SIGINT and writes its figures.
  fio.kill("SIGINT");
  const out = await fio.output();
  // fio exits 128 after SIGINT, its figures written all the same after a
  // line saying so.
  const why = new TextDecoder().decode(out.stderr);
  assert(out.code === 0 || out.code === 128, `fio failed (${out.code}): ${why}`);
  const fioText = Deno.readTextFileSync(`${dir.path}/fio.json`);
  const fioIops: number = JSON.parse(fioText.slice(fioText.indexOf("{"))).jobs[0].read.iops;
  assertWithin(fioIops, IOPS, 0.01, "fio held its rate");
  const rates = new Map<string, number>();
  for (const { backend, run } of results) {
    const read = run.io_uring.READ;
    assert(read, `${backend}: READ traced`);
    // io_uring READs copy through user memory (before: 0 bytes in the copy block).
    assert((run.copy.user_bytes ?? 0) >= read.bytes, `${backend}: READ bytes in copy.user_bytes`);
    assertEquals(run.meta.end_reason, "duration", backend);
    assertEquals(run.meta.lost_events, 0, `${backend}: nothing lost`);
    rates.set(backend, read.count / run.meta.duration_s);
  }
  const all = JSON.stringify(Object.fromEntries(rates));
  for (const { backend, run } of results) {
    const read = run.io_uring.READ!;
    assertWithin(
      read.count / run.meta.duration_s,
      fioIops,
      // A 4 s window of fio's paced I/O held 1.7-2.0% off its average when other
      // work shared the disk and CPUs (fio catches up in bursts); bpftrace was
      // +5.6-8.7% before the window was the kernel's.
      0.03,
      `${backend}: READ completions a second over ${run.meta.duration_s} s (${read.count}; ${all})`,
    );
  }
});
