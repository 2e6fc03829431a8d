// Records the ftrace fixtures: the raw ring-buffer pages the ftrace backend
// read (per_cpu/cpuN/trace_pipe_raw of its two instances), with the event
// formats and header_page of the kernel they came from.
//   ftrace_known_io.json: tests/_helpers/workloads/known_io.ts making 200 pread64 of
//     4096 B, 100 pwrite64 of 1000 B, 2 failing pread64, 5 sendfile64 of 64 KiB.
//   ftrace_fio_uring.json: fio --ioengine=io_uring --direct=1 --iodepth=4
//     --rw=randread --bs=4k --rate_iops=300 for 1 s, traced from before its
//     first I/O to its exit; fio's own total_ios is stored with it.
// Run as root: deno run -A tests/testdata/record_ftrace.ts
import { startWorkload } from "../_helpers/common.ts";
import { startFtrace } from "../../agent/trace/backends/ftrace.ts";
import { threadsOf } from "../../agent/trace/proc.ts";
import { FTRACE_EVENTS } from "../../probes/ftrace.ts";
import { readTracefsText } from "../../agent/trace/tracefs.ts";

const root = new URL("../../", import.meta.url).pathname;
const TRACEFS = "/sys/kernel/tracing";

interface Page {
  role: "main" | "uring";
  cpu: number;
  data: string;
}

function fixtureBase(tids: number[]) {
  const formats: Record<string, string> = {};
  for (const e of Object.values(FTRACE_EVENTS)) {
    const [g, n] = e.split(":");
    try {
      formats[e] = readTracefsText(`${TRACEFS}/events/${g}/${n}/format`);
    } catch {
      // not on this kernel
    }
  }
  return {
    kernel: Deno.osRelease(),
    header_page: readTracefsText(`${TRACEFS}/events/header_page`),
    formats,
    tids,
  };
}

function keep(pages: Page[]) {
  return (role: "main" | "uring", cpu: number, page: Uint8Array) => {
    const size = new DataView(page.buffer, page.byteOffset).getUint32(8, true) & ((1 << 27) - 1);
    pages.push({ role, cpu, data: btoa(String.fromCharCode(...page.subarray(0, Math.min(page.length, 16 + size + 8)))) });
  };
}

async function knownIo(): Promise<void> {
  const dir = Deno.makeTempDirSync();
  await using w = await startWorkload("known_io.ts", [dir, "200", "100", "5"]);
  const tids = threadsOf([w.pid]);
  const pages: Page[] = [];
  const backend = await startFtrace({ pids: [w.pid] }, { onPage: keep(pages) });
  await w.go();
  await w.child.status;
  await new Promise((r) => setTimeout(r, 300));
  await backend.stop();
  Deno.removeSync(dir, { recursive: true });
  const fixture = {
    ...fixtureBase(tids),
    recorded: "known_io.ts /tmp 200 100 5",
    expected: {
      pread64: { count: 202, errors: 2, bytes: 200 * 4096 },
      pwrite64: { count: 100, errors: 0, bytes: 100 * 1000 },
      sendfile64: { count: 5, errors: 0, bytes: 5 * 65536 },
    },
    pages,
  };
  Deno.writeTextFileSync(`${root}tests/testdata/ftrace_known_io.json`, JSON.stringify(fixture));
  console.log(`ftrace_known_io.json: ${pages.length} pages`);
}

async function fioUring(): Promise<void> {
  const dir = Deno.makeTempDirSync({ dir: "/var/tmp" });
  Deno.writeFileSync(`${dir}/fio.dat`, new Uint8Array(16 << 20).fill(3));
  const fio = new Deno.Command("fio", {
    args: [
      "--name=uring",
      `--filename=${dir}/fio.dat`,
      "--size=16M",
      "--rw=randread",
      "--bs=4k",
      "--ioengine=io_uring",
      "--direct=1",
      "--iodepth=4",
      "--rate_iops=300",
      "--thread",
      "--startdelay=1",
      "--time_based",
      "--runtime=1",
      "--output-format=json",
      `--output=${dir}/fio.json`,
    ],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await new Promise((r) => setTimeout(r, 200));
  const tids = threadsOf([fio.pid]);
  const pages: Page[] = [];
  const backend = await startFtrace({ pids: [fio.pid] }, { onPage: keep(pages) });
  await fio.status;
  await backend.stop();
  const read = JSON.parse(Deno.readTextFileSync(`${dir}/fio.json`)).jobs[0].read;
  Deno.removeSync(dir, { recursive: true });
  const fixture = {
    ...fixtureBase(tids),
    recorded: "fio io_uring randread 4k direct iodepth 4 rate_iops 300, 1 s",
    expected: { READ: { count: read.total_ios, errors: 0, bytes: read.total_ios * 4096 } },
    pages,
  };
  Deno.writeTextFileSync(`${root}tests/testdata/ftrace_fio_uring.json`, JSON.stringify(fixture));
  console.log(`ftrace_fio_uring.json: ${pages.length} pages, fio total_ios ${read.total_ios}`);
}

await knownIo();
await fioUring();
