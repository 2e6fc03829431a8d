/**
 * Where the bpf backend's cost on nginx goes, program by program: nginx
 * (benchmarks/nginx.ts) under wrk, traced by the bpf backend with the
 * kernel's BPF run-time statistics on (BPF_ENABLE_STATS: run_cnt and
 * run_time_ns of every program while its descriptor is open), and the
 * worker's CPU per request. Prints, per program: runs per request, ns per
 * run (the program and its helpers; the kernel's tracepoint entry is not
 * in it), and ns per request.
 *
 *   deno run -A benchmarks/bpf_breakdown.ts [--seconds 3] [--runs 3] [--untraced]   (root)
 *
 * The statistics add two clock reads per run (about 20-40 ns here): compare
 * rows within one output, and take the CPU ratio from run.ts.
 * @module
 */

import { parseArgs } from "node:util";
import { enableStats, Fd, progGetFdById, progInfo } from "../ffi/mod.ts";
import { startBpf } from "../agent/trace/backends/bpf.ts";
import { startNginx, workerCpuSeconds, wrkRequestsPerSecond } from "./nginx.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "3" },
    runs: { type: "string", default: "3" },
    /** Trace another process (a sleep) instead: what nginx pays untraced. */
    untraced: { type: "boolean", default: false },
  },
});
const seconds = Number(values.seconds);

const dir = Deno.makeTempDirSync({ prefix: "ioscope-bpf-breakdown-" });
using _stats = new Fd(enableStats(), "BPF stats");
try {
  await using nginx = await startNginx(dir);
  await wrkRequestsPerSecond(nginx.url, 1); // warm up
  const other = new Deno.Command("sleep", { args: ["3600"] }).spawn();
  const backend = startBpf({
    pids: [values.untraced ? other.pid : nginx.workerPid],
    attach: "raw_tp",
  });
  try {
    const ids = backend.objectIds().programs;
    const fds = ids.flatMap((id) => progGetFdById(id) ?? []).map((fd) => new Fd(fd, "program"));
    const read = () => new Map(fds.map((fd) => [fd.fd, progInfo(fd.fd)]));
    for (let run = 0; run < Number(values.runs); run++) {
      const before = read();
      const cpu0 = workerCpuSeconds(nginx.workerPid);
      const rate = await wrkRequestsPerSecond(nginx.url, seconds);
      const cpuUs = (workerCpuSeconds(nginx.workerPid) - cpu0) / (rate * seconds) * 1e6;
      const requests = rate * seconds;
      console.log(
        `run ${run + 1}: ${rate.toFixed(0)} req/s, worker ${cpuUs.toFixed(1)} us CPU/request, ` +
          `load ${Deno.loadavg()[0]?.toFixed(2)}`,
      );
      let total = 0;
      for (const [id, after] of read()) {
        const b = before.get(id);
        if (!b) continue;
        const runs = after.runCnt - b.runCnt;
        const ns = after.runTimeNs - b.runTimeNs;
        if (runs === 0) continue;
        total += ns / requests;
        console.log(
          `  ${after.name.padEnd(16)} ${(runs / requests).toFixed(2).padStart(7)} runs/req ` +
            `${(ns / runs).toFixed(0).padStart(5)} ns/run ${
              (ns / requests).toFixed(0).padStart(6)
            } ns/req`,
        );
      }
      console.log(`  all programs: ${total.toFixed(0)} ns/req (host-wide runs included)`);
    }
    for (const fd of fds) fd.close();
  } finally {
    await backend.stop();
    other.kill("SIGKILL");
    await other.status;
  }
} finally {
  Deno.removeSync(dir, { recursive: true });
}
