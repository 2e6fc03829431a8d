// Folds a large `perf script` output (from the fake perf given) in a process
// of its own and prints its samples and peak resident memory: as
// foldRecording streams it, or (argument "buffered", for comparison by hand)
// read whole first, as ioscope did before.
import { foldRecording } from "../../../agent/trace/perf.ts";
import { foldPerfScript } from "../../../probes/perf_fold.ts";

const [perf = "", how = "streamed"] = Deno.args;
const hwmKb = () => Number(/VmHWM:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]);
const before = hwmKb();
let samples: number;
if (how === "buffered") {
  const out = await new Deno.Command(perf, { args: ["script"], stdout: "piped" }).output();
  samples = foldPerfScript(new TextDecoder().decode(out.stdout)).samples;
} else {
  samples = (await foldRecording(perf, "/dev/null")).samples;
}
console.log(JSON.stringify({ samples, beforeKb: before, peakKb: hwmKb() }));
