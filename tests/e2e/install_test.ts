// `deno task install` for real: ioscope copied out of the checkout, its
// dependencies cached, the `ioscope` command run with no network at all (a new
// network namespace: no registry, no DNS), then `deno task uninstall`.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";

const dec = new TextDecoder();

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  cwd = "/",
): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, env, cwd, stdout: "piped", stderr: "piped" })
    .output();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test("deno task install: the ioscope command traces and renders a report with no network", async () => {
  await using dir = tmpDir();
  const root = `${dir.path}/root`;
  // A Deno cache and a home of its own, both empty: only what the install
  // puts in that cache can be found (chart.js is looked for in ~/.cache too).
  Deno.mkdirSync(`${dir.path}/home`);
  const env = {
    DENO_DIR: `${dir.path}/deno-cache`,
    DENO_INSTALL_ROOT: root,
    HOME: `${dir.path}/home`,
    XDG_CACHE_HOME: `${dir.path}/home/.cache`,
  };
  const inst = await run(Deno.execPath(), ["task", "--quiet", "install"], env, ROOT);
  assertEquals(inst.code, 0, inst.out);
  const bin = `${root}/bin/ioscope`;
  const shim = Deno.readTextFileSync(bin);
  // The command runs the installed copy, never the checkout, and never fetches.
  assert(shim.includes(`${root}/lib/ioscope/mod.ts`), shim);
  assert(!shim.includes(ROOT), `the command must not run the checkout: ${shim}`);
  assert(shim.includes("--cached-only"), shim);
  assert(Deno.statSync(`${root}/lib/ioscope/probes/io_syscalls.bt`).isFile);

  const traceArgs = (tag: string) => [
    "-n",
    bin,
    "trace",
    "--duration",
    "1s",
    "--json",
    `${dir.path}/${tag}.json`,
    "--out",
    `${dir.path}/${tag}.html`,
    "--",
    "sh",
    "-c",
    "for i in 1 2 3 4; do cat /etc/hostname >/dev/null; sleep 0.2; done",
  ];
  // unshare -n: a network namespace with nothing but a loopback that is down.
  const offline = await run("unshare", traceArgs("offline"), env);
  assertEquals(offline.code, 0, offline.out);
  const doc = JSON.parse(Deno.readTextFileSync(`${dir.path}/offline.json`));
  assert((doc.syscalls.read?.count ?? 0) >= 4, JSON.stringify(doc.syscalls));
  const html = Deno.readTextFileSync(`${dir.path}/offline.html`);
  assert(html.includes("Chart.js v4.4.9"), "chart.js inlined from the cache");

  // The control: the same command with an empty cache fails offline, so the
  // cache the install filled is what made it work (not a network we missed).
  const cold = await run("unshare", traceArgs("cold"), {
    ...env,
    DENO_DIR: `${dir.path}/empty-cache`,
  });
  assert(
    cold.code !== 0 && cold.out.includes("chart.js"),
    `an empty cache offline must fail: ${cold.out}`,
  );

  const un = await run(Deno.execPath(), ["task", "--quiet", "uninstall"], env, ROOT);
  assertEquals(un.code, 0, un.out);
  for (const gone of [bin, `${root}/bin/.ioscope`, `${root}/lib/ioscope`]) {
    let exists = true;
    try {
      Deno.statSync(gone);
    } catch {
      exists = false;
    }
    assert(!exists, `${gone} is left after uninstall`);
  }
});
