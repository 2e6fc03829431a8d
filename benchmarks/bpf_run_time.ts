/**
 * The bpf backend's sys_enter and sys_exit programs, ns per run, from the
 * kernel's BPF run-time statistics (BPF_ENABLE_STATS), while this process
 * makes one kind of call in a loop: a pread of 1 byte (an I/O call on a
 * descriptor), a recv that fails with EAGAIN (the errno path, as nginx's
 * every request), getpid (not an I/O call: what every other syscall pays).
 * Traced (this process is the target) and untraced (another process is),
 * rounds alternating, the median per cell. Runs of other processes on the
 * host are in the figures too; this loop makes ~90% of them.
 *
 *   deno run -A benchmarks/bpf_run_time.ts [--rounds 3] [--calls 200000]   (root)
 *
 * The statistics add two clock reads per run: an empty program measures
 * 40-55 ns/run here (benchmarks/bpf_helper_costs.ts).
 * @module
 */

import { parseArgs } from "node:util";
import {
  allocPages,
  enableStats,
  Fd,
  libc,
  localPort,
  openFile,
  pread,
  progGetFdById,
  progInfo,
  tcpConnect,
  tcpListen,
} from "../ffi/mod.ts";
import { startBpf } from "../agent/trace/backends/bpf.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    calls: { type: "string", default: "200000" },
    attach: { type: "string", default: "raw_tp" },
  },
});
const CALLS = Number(values.calls);
const MSG_DONTWAIT = 0x40;

const path = Deno.makeTempFileSync({ prefix: "ioscope-run-time-" });
Deno.writeFileSync(path, new Uint8Array(4096).fill(1));
const file = openFile(path);
const buf = allocPages(4096);
const listener = tcpListen();
const client = tcpConnect(localPort(listener.fd));
const other = new Deno.Command("sleep", { args: ["3600"] }).spawn();

const workloads: Record<string, () => void> = {
  "pread 1 byte": () => {
    for (let i = 0; i < CALLS; i++) pread(file.fd, buf.pointer, 1, 0);
  },
  "recv EAGAIN": () => {
    for (let i = 0; i < CALLS; i++) libc().recv(client.fd, buf.pointer, 1n, MSG_DONTWAIT);
  },
  "getpid": () => {
    for (let i = 0; i < CALLS; i++) libc().getpid();
  },
};

const cells = new Map<string, number[]>();
using _stats = new Fd(enableStats(), "BPF stats");
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const traced of [true, false]) {
      const backend = startBpf({
        pids: [traced ? Deno.pid : other.pid],
        attach: values.attach as "raw_tp" | "tp",
      });
      try {
        const progs = backend.objectIds().programs.flatMap((id) => progGetFdById(id) ?? [])
          .map((fd) => new Fd(fd, "program"))
          .filter((p) => /^ios_sys_(enter|exit)$/.test(progInfo(p.fd).name));
        for (const [name, run] of Object.entries(workloads)) {
          const before = progs.map((p) => progInfo(p.fd));
          run();
          progs.forEach((p, i) => {
            const a = progInfo(p.fd), b = before[i]!;
            const key = `${name} | ${traced ? "traced" : "untraced"} | ${a.name}`;
            const ns = (a.runTimeNs - b.runTimeNs) / Math.max(a.runCnt - b.runCnt, 1);
            cells.set(key, [...(cells.get(key) ?? []), ns]);
          });
        }
        for (const p of progs) p.close();
      } finally {
        await backend.stop();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`load ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")}, ${values.attach}`);
  for (const [key, xs] of cells) {
    console.log(
      `${key.padEnd(46)} ${median(xs).toFixed(0).padStart(5)} ns/run  (${
        xs.map((x) => x.toFixed(0)).join(" ")
      })`,
    );
  }
} finally {
  other.kill("SIGKILL");
  await other.status;
  client.close();
  listener.close();
  file.close();
  Deno.removeSync(path);
}
