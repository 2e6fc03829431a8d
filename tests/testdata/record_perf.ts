// Records the perf fixtures from a process that spends its time in read()
// (python3 re-reading a page-cached 8 MiB file with pread(1 MiB) and read(64 KiB)):
//   perf_stat_vm.csv: `perf stat -x, --no-big-num -e <ioscope's counters> -p PID -- sleep 1`
//     on a VM without a hardware PMU (the hardware counters read <not supported>).
//   perf_script_read.txt: `perf record -e cpu-clock -F 99 -g -p PID -- sleep 1`, then
//     `perf script -F comm,tid,ip,sym,dso`.
// Run as root: deno run -A tests/testdata/record_perf.ts
import { PERF_COUNTERS } from "../../probes/perf_stat.ts";

const root = new URL("../../", import.meta.url).pathname;
const dir = Deno.makeTempDirSync();
Deno.writeFileSync(`${dir}/f.dat`, new Uint8Array(8 << 20).fill(5));
const target = new Deno.Command("python3", {
  args: [
    "-c",
    `import os\nfd=os.open('${dir}/f.dat',0)\nwhile True:\n  os.pread(fd, 1<<20, 0)\n  os.read(fd, 65536) or os.lseek(fd, 0, 0)`,
  ],
}).spawn();
await new Promise((r) => setTimeout(r, 300));
const pid = String(target.pid);
const stat = new Deno.Command("perf", {
  args: ["stat", "-x,", "--no-big-num", "-e", PERF_COUNTERS.map((c) => c.event).join(","), "-p", pid, "--", "sleep", "1"],
  stdout: "null",
  stderr: "piped",
}).outputSync();
Deno.writeFileSync(`${root}tests/testdata/perf_stat_vm.csv`, stat.stderr);
new Deno.Command("perf", {
  args: ["record", "--quiet", "-e", "cpu-clock", "-F", "99", "-g", "-p", pid, "-o", `${dir}/perf.data`, "--", "sleep", "1"],
  stdout: "null",
  stderr: "null",
}).outputSync();
const script = new Deno.Command("perf", {
  args: ["script", "-i", `${dir}/perf.data`, "-F", "comm,tid,ip,sym,dso"],
  stderr: "null",
}).outputSync();
Deno.writeFileSync(`${root}tests/testdata/perf_script_read.txt`, script.stdout);
target.kill("SIGKILL");
await target.status;
Deno.removeSync(dir, { recursive: true });
console.log(`recorded perf_stat_vm.csv and perf_script_read.txt (${script.stdout.length} bytes)`);
