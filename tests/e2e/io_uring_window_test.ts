// io_uring counts over a trace window shorter than the workload: fio
// (ioengine=io_uring, O_DIRECT 4k random reads, depth 4) held at 2000 IOPS
// for 14 s (8 s in the issue; longer here so that a slow attach on a loaded host still ends by duration), traced for 4 s by bpftrace and ftrace at once.
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
import { leftovers, spawnCli } from "../_helpers/common.ts";
import type { RunDocument } from "../../schema/mod.ts";

const IOPS = 2000;

Deno.test("bpftrace and ftrace: a 4 s window of fio io_uring at 2000 IOPS counts 2000 READs a second (within 1%)", async () => {
  await using dir = diskDir();
  const file = `${dir.path}/fio.dat`;
  Deno.writeFileSync(file, new Uint8Array(64 << 20).fill(1));
  const fio = new Deno.Command("fio", {
    args: [
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
      "--runtime=14",
      "--output-format=json",
      `--output=${dir.path}/fio.json`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Let fio settle at its rate, then trace 4 s of it with both backends.
  await new Promise((r) => setTimeout(r, 1000));
  const clis = (["bpftrace", "ftrace"] as const).map((backend) => ({
    backend,
    cli: spawnCli([
      "trace",
      "--pid",
      String(fio.pid),
      "--backend",
      backend,
      "--duration",
      "4s",
      "--json",
      `${dir.path}/${backend}.json`,
    ]),
  }));
  const results = [];
  for (const { backend, cli } of clis) {
    const result = await cli.done;
    assertEquals(result.code, 0, `${backend}: ${result.stderr}`);
    assertEquals(leftovers(cli.child.pid), [], backend);
    results.push({
      backend,
      run: JSON.parse(Deno.readTextFileSync(`${dir.path}/${backend}.json`)) as RunDocument,
    });
  }
  const out = await fio.output();
  assert(out.success, `fio failed: ${new TextDecoder().decode(out.stderr)}`);
  const fioIops: number =
    JSON.parse(Deno.readTextFileSync(`${dir.path}/fio.json`)).jobs[0].read.iops;
  assertWithin(fioIops, IOPS, 0.01, "fio held its rate");
  for (const { backend, run } of results) {
    const read = run.io_uring.READ;
    assert(read, `${backend}: READ traced`);
    assertEquals(run.meta.end_reason, "duration", backend);
    assertEquals(run.meta.lost_events, 0, `${backend}: nothing lost`);
    assertWithin(
      read.count / run.meta.duration_s,
      fioIops,
      0.01,
      `${backend}: READ completions a second over ${run.meta.duration_s} s (${read.count})`,
    );
  }
});
