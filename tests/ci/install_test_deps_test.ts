// `deno task test` runs .ci/install_test_deps.ts first: on a host with
// everything it must say nothing and cost well under a second; on a host
// without the tools it names the packages apt-get would install (a dry run
// here: the tests must not install or remove anything).
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT } from "../_helpers/common.ts";

const SCRIPT = `${ROOT}.ci/install_test_deps.ts`;

async function run(args: string[], env: Record<string, string> = {}) {
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
    ms: performance.now() - t0,
  };
}

Deno.test("with every tool installed, the test dependencies step is silent and quick", async () => {
  const r = await run([]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout + r.stderr, "", "nothing printed");
  // Deno's start-up included; measured 0.2 s here (0.5 s on a loaded host).
  assert(r.ms < 3000, `took ${r.ms.toFixed(0)} ms`);
});

Deno.test("on a host without the tools, it names the packages to install", async () => {
  const r = await run(["--dry-run"], { PATH: "/nonexistent" });
  assertEquals(r.code, 0, r.stderr);
  const line = r.stdout.split("\n").find((l) => l.startsWith("would run: apt-get install "));
  assert(line, r.stdout);
  for (const pkg of ["bpftrace", "linux-perf", "fio", "chromium", "wrk", "prometheus", "tmux"]) {
    assert(line.split(" ").includes(pkg), `${pkg} in: ${line}`);
  }
});
