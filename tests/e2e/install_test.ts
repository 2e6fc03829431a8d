// `deno task install` for real: ioscope copied out of the checkout, its
// dependencies cached, the `ioscope` command run with no network at all (a new
// network namespace: no registry, no DNS), then `deno task uninstall`.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { ROOT, tmpDir } from "../_helpers/common.ts";
import { INSTALLED_PATHS } from "../../agent/cli/_install.ts";

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
  assert(html.includes("Chart.js v4.4.9"), "chart.js inlined from the install");
  // chart.js is vendored (report/vendor/), pinned by its hash, and copied with
  // report/: the installed copy is what a report inlines, never a cache's.
  assertEquals(
    Deno.readTextFileSync(`${root}/lib/ioscope/report/vendor/chart.umd.js`),
    Deno.readTextFileSync(`${ROOT}report/vendor/chart.umd.js`),
  );

  // The same command with an empty Deno cache also renders offline: a report
  // needs nothing from any cache.
  const cold = await run("unshare", traceArgs("cold"), {
    ...env,
    DENO_DIR: `${dir.path}/empty-cache`,
  });
  assertEquals(cold.code, 0, cold.out);
  assert(Deno.readTextFileSync(`${dir.path}/cold.html`).includes("Chart.js v4.4.9"));

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

Deno.test("the install gives what it copies 0644 and 0755, whatever the checkout's modes", async () => {
  await using dir = tmpDir();
  // A copy of the checkout's installed files, one file 0666 and one folder
  // 0777 (what a careless umask or a tarball makes), installed from there.
  const src = `${dir.path}/checkout`;
  const listed = await run("git", ["ls-files", "-z", ...INSTALLED_PATHS], {}, ROOT);
  assertEquals(listed.code, 0, listed.out);
  for (const f of listed.out.split("\0").filter((f) => f !== "")) {
    Deno.mkdirSync(`${src}/${f}`.replace(/\/[^/]*$/, ""), { recursive: true });
    Deno.copyFileSync(`${ROOT}${f}`, `${src}/${f}`);
  }
  Deno.chmodSync(`${src}/report/chartjs.ts`, 0o666);
  Deno.chmodSync(`${src}/probes`, 0o777);
  const root = `${dir.path}/root`;
  // The Deno cache this test runs with: already warm, so no network is needed.
  const inst = await run(Deno.execPath(), [
    "run",
    "-A",
    `${src}/agent/cli/_install.ts`,
    "install",
    "--root",
    root,
  ], { HOME: Deno.env.get("HOME") ?? "/root", DENO_DIR: denoCacheDir() });
  assertEquals(inst.code, 0, inst.out);
  const lib = `${root}/lib/ioscope`;
  const modes: string[] = [];
  const walk = (p: string) => {
    const info = Deno.lstatSync(p);
    const mode = (info.mode ?? 0) & 0o7777;
    const want = info.isDirectory ? 0o755 : 0o644;
    if (mode !== want) modes.push(`${p.slice(lib.length)} ${mode.toString(8)}`);
    if (info.isDirectory) { for (const e of Deno.readDirSync(p)) walk(`${p}/${e.name}`); }
  };
  walk(lib);
  assertEquals(modes, [], "installed with other modes than 0644/0755");
  assert(Deno.statSync(`${lib}/report/chartjs.ts`).isFile);
});

/** Deno's cache directory as this test's Deno uses it. */
function denoCacheDir(): string {
  const set = Deno.env.get("DENO_DIR");
  if (set) return set;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  return xdg ? `${xdg}/deno` : `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
}
