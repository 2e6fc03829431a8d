// The push cost benchmark (benchmarks/push_cost.ts), one short round for
// real: fio at 20,000 pread64/s traced for 7 s in each mode (the steady
// window is from 5 s after the agent's start to the trace's end). With no push
// nothing is sent; to the live Prometheus every sample is sent; to the
// receiver that never answers none is, all are counted unsent, and the
// command waits its bounded 5 s at the end. Each trace holds fio's rate, and
// the agent's CPU and peak RSS are figures a process has. `--only` takes
// overhead or push, anything else: one line, exit 2.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/common.ts";
import { measurePushCost, PUSH_MODES, pushCostSection } from "../../benchmarks/push_cost.ts";

Deno.test("push cost: one round of none, live and dead, with the Run's own counts", async () => {
  const options = { rounds: 1, traceS: 7, rate: 20_000 };
  const cost = await measurePushCost(options);
  for (const mode of PUSH_MODES) {
    const [s] = cost[mode];
    assert(s, `${mode} measured`);
    assert(s.cpuS > 0.05 && s.cpuS < 30, `${mode}: agent CPU ${s.cpuS} s`);
    assert(s.maxRssMiB > 20 && s.maxRssMiB < 1024, `${mode}: peak RSS ${s.maxRssMiB} MiB`);
    assert(Math.abs(s.tracedRate / options.rate - 1) < 0.1, `${mode}: fio at ${s.tracedRate}/s`);
    const steady = s.steadyCpuPct ?? -1;
    assert(steady > 0 && steady < 100, `${mode}: steady agent CPU ${steady}%`);
    assert(s.preadMeanNs > 50 && s.preadMeanNs < 1e6, `${mode}: pread64 ${s.preadMeanNs} ns`);
  }
  const [none, live, dead] = [cost.none[0]!, cost.live[0]!, cost.dead[0]!];
  assertEquals([none.sent, none.unsent], [0, 0], "no push");
  assert(live.sent > 0 && live.unsent === 0, `live: ${live.sent} sent, ${live.unsent} unsent`);
  assert(dead.sent === 0 && dead.unsent > 0, `dead: ${dead.sent} sent, ${dead.unsent} unsent`);
  assert(
    dead.wallS >= none.wallS + 3,
    `dead waits for the receiver: ${dead.wallS} vs ${none.wallS} s`,
  );
  const section = pushCostSection(cost, options).join("\n");
  assert(section.startsWith("<!-- push -->\n## Pushing to a fleet: cost"), section);
  assert(section.endsWith("<!-- /push -->"), section);
  assertEquals(section.split("\n").filter((l) => l.startsWith("| `--remote-write`")).length, 2);
});

Deno.test("deno task bench --only with anything but overhead or push: one line, exit 2", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}benchmarks/run.ts`, "--only", "nope", "--out", "/dev/null"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr).trim();
  assertEquals(out.code, 2, stderr);
  assertEquals(stderr, `bench: --only takes "overhead" or "push", not 'nope'`);
});
