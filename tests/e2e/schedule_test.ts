// `ioscope schedule`: the systemd units pass `systemd-analyze verify`, odd
// process names survive systemd's and the shell's quoting, and the crontab
// line, run as cron would run it, traces a real process into a store and
// writes the report. The units run the installed command: each test installs
// ioscope for real (`deno task install`) into a root of its own.
import { assert, assertEquals } from "../_helpers/assert.ts";
import { type CliResult, ROOT, tmpDir } from "../_helpers/common.ts";
import { calendarToCron, shellQuote, systemdQuote } from "../../agent/nightly/schedule.ts";

function hasSystemdAnalyze(): boolean {
  try {
    return Deno.statSync("/usr/bin/systemd-analyze").isFile;
  } catch {
    return false;
  }
}

const dec = new TextDecoder();

async function exec(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const o = await new Deno.Command(cmd, {
    args,
    env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  })
    .output();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

/** ioscope installed with `deno task install` into a temporary root; removed on dispose. */
async function installed(): Promise<
  { root: string; bin: string; run: (args: string[]) => Promise<CliResult> } & AsyncDisposable
> {
  const dir = tmpDir();
  const root = `${dir.path}/root`;
  const r = await exec(Deno.execPath(), ["task", "--quiet", "--cwd", ROOT, "install"], {
    DENO_INSTALL_ROOT: root,
  });
  assertEquals(r.code, 0, r.stderr);
  const bin = `${root}/bin/ioscope`;
  return {
    root,
    bin,
    run: (args) => exec(bin, args),
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

async function verify(...files: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command("systemd-analyze", {
    args: ["verify", "--man=no", ...files],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("schedule --print: a nightly service and timer running the installed command, and the crontab line", async () => {
  await using inst = await installed();
  const r = await inst.run(["schedule", "--comm", "nginx", "--print"]);
  assertEquals(r.code, 0, r.stderr);
  const out = r.stdout;
  assert(out.includes("[Service]\nType=oneshot"), out);
  assert(
    out.includes(
      `\nExecStart=${inst.bin} trace --comm=nginx --duration 60s --store /var/lib/ioscope/nginx\n`,
    ),
    out,
  );
  // The command is a Deno script: Deno's directory is on the job's PATH, last,
  // after the system's (nothing in it can stand in for bpftrace or perf).
  const deno = Deno.execPath();
  assert(
    out.includes(
      "Environment=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" +
        (deno.startsWith("/usr/bin/") || deno.startsWith("/bin/")
          ? "\n"
          : `:${deno.slice(0, deno.lastIndexOf("/"))}\n`),
    ),
    out,
  );
  // Owner-only files, a read-only /usr and /etc, a /tmp of its own, no new privileges.
  for (
    const line of ["UMask=0077", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectSystem=full"]
  ) {
    assert(out.includes(`\n${line}\n`), `${line} missing:\n${out}`);
  }
  assert(!out.includes(`${ROOT}mod.ts`), "the units never run the checkout");
  assert(
    out.includes(
      "report --store /var/lib/ioscope/nginx --out /var/lib/ioscope/nginx/report/index.html " +
        "--json /var/lib/ioscope/nginx/report/summary.json",
    ),
    out,
  );
  assert(out.includes("OnCalendar=*-*-* 03:00:00\nPersistent=true\nUnit=ioscope-nginx.service"));
  assert(out.includes("WantedBy=timers.target"));
  assert(/\n0 3 \* \* \* \S*mkdir -p /.test(out), out);
  assert(out.includes(` ${inst.bin} trace --comm=nginx `), out);
});

Deno.test("schedule from a checkout finds the installed command, and says how to install when there is none", async () => {
  await using inst = await installed();
  const env = { DENO_INSTALL_ROOT: inst.root, PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
  const mod = `${ROOT}mod.ts`;
  const found = await exec(Deno.execPath(), [
    "run",
    "-A",
    mod,
    "schedule",
    "--comm",
    "x",
    "--print",
  ], env);
  assertEquals(found.code, 0, found.stderr);
  assert(found.stdout.includes(`ExecStart=${inst.bin} trace --comm=x`), found.stdout);
  await using empty = tmpDir();
  const none = await exec(
    Deno.execPath(),
    ["run", "-A", mod, "schedule", "--comm", "x", "--print"],
    { ...env, DENO_INSTALL_ROOT: empty.path },
  );
  assertEquals(none.code, 2, none.stderr);
  assert(/ioscope is not installed.*deno task install/.test(none.stderr), none.stderr);
  assertEquals(none.stderr.trim().split("\n").length, 1, none.stderr);
});

Deno.test("schedule writes units that systemd-analyze verify accepts, even for an odd name", async () => {
  assert(hasSystemdAnalyze(), "needs systemd-analyze: apt-get install systemd (CI does)");
  await using dir = tmpDir();
  await using inst = await installed();
  const runCli = inst.run;
  const odd = `a "b"%$\\c`;
  const r = await runCli([
    "schedule",
    "--comm",
    odd,
    "--name",
    "ioscope-odd",
    "--duration",
    "2m",
    "--on-calendar",
    "Mon..Fri 02:30",
    "--store",
    `${dir.path}/odd store`,
    "--fail-on-regression",
    "--unit-dir",
    dir.path,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("systemd-analyze verify: ok"), r.stdout);
  assert(r.stdout.includes("\n30 2 * * 1-5 "), r.stdout);
  const service = `${dir.path}/ioscope-odd.service`;
  const timer = `${dir.path}/ioscope-odd.timer`;
  const v = await verify(service, timer);
  assertEquals(v.code, 0, v.output);
  const text = Deno.readTextFileSync(service);
  assert(text.includes(`"--comm=a \\"b\\"%%$$\\\\c" --duration 2m`), text);
  assert(text.includes(`"${dir.path}/odd store"`), text);
  assert(text.includes("--fail-on-regression"), text);

  // The same again is fine; other contents need --force.
  const again = await runCli([
    "schedule",
    "--comm",
    "x",
    "--name",
    "ioscope-odd",
    "--unit-dir",
    dir.path,
  ]);
  assertEquals(again.code, 2, again.stderr);
  assert(again.stderr.includes("exists with other contents: add --force"), again.stderr);
  const forced = await runCli([
    "schedule",
    "--comm",
    "x",
    "--name",
    "ioscope-odd",
    "--unit-dir",
    dir.path,
    "--force",
  ]);
  assertEquals(forced.code, 0, forced.stderr);
});

Deno.test("schedule: bad input exits 2 with one line", async () => {
  await using inst = await installed();
  const runCli = inst.run;
  const cases: [string[], RegExp][] = [
    [["schedule", "--print"], /no target: give --comm NAME/],
    [["schedule", "--comm", "a-name-longer-than-15", "--print"], /at most 15 bytes/],
    [["schedule", "--comm", "x", "--duration", "soon", "--print"], /invalid --duration 'soon'/],
    [["schedule", "--comm", "x", "--threshold", "lots", "--print"], /invalid --threshold/],
    [["schedule", "--comm", "x", "--name", "../evil", "--print"], /invalid --name/],
    [["schedule", "--comm", "x", "--unit-dir", "/no/such/dir"], /is not a directory/],
  ];
  if (hasSystemdAnalyze()) {
    cases.push([
      ["schedule", "--comm", "x", "--on-calendar", "nightly-ish", "--print"],
      /invalid --on-calendar 'nightly-ish'/,
    ]);
  }
  for (const [args, want] of cases) {
    const r = await runCli(args);
    assertEquals(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, r.stderr);
    assert(want.test(lines[0] ?? ""), `${args.join(" ")}: ${r.stderr}`);
  }
});

Deno.test("the crontab line, run as cron runs it, traces a real process into the store and reports", async () => {
  await using dir = tmpDir();
  await using inst = await installed();
  const runCli = inst.run;
  // A process with a name of its own, starting with '-' (a name a flag
  // parser would take for an option): a copy of sleep.
  const bin = `${dir.path}/-ioscope-night`;
  Deno.copyFileSync("/bin/sleep", bin);
  Deno.chmodSync(bin, 0o755);
  const target = new Deno.Command(bin, { args: ["60"] }).spawn();
  try {
    const r = await runCli([
      "schedule",
      // As a user gives it: with '=' (a value that starts with '-').
      "--comm=-ioscope-night",
      "--duration",
      "1s",
      "--store",
      `${dir.path}/runs`,
      "--out",
      `${dir.path}/site/index.html`,
      "--print",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const line = r.stdout.trim().split("\n").pop() ?? "";
    // cron: five time fields, then a command for sh where \% means %.
    const command = line.split(" ").slice(5).join(" ").replace(/\\%/g, "%");
    assert(command.includes(`${inst.bin} trace`), command);
    // cron's own environment: a short PATH, no DENO_DIR (the line sets what it needs).
    const out = await new Deno.Command("sh", {
      args: ["-c", command],
      clearEnv: true,
      env: { PATH: "/usr/bin:/bin", HOME: "/root", SHELL: "/bin/sh" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 0, err);
    const runs = [...Deno.readDirSync(`${dir.path}/runs`)].map((e) => e.name);
    assertEquals(runs.length, 1, `${runs}`);
    assert(runs[0]?.startsWith("ioscope-night-"), runs[0]);
    const summary = JSON.parse(Deno.readTextFileSync(`${dir.path}/site/summary.json`));
    assertEquals(summary.runs, 1);
    assert(Deno.statSync(`${dir.path}/site/index.html`).isFile);
    // Runs hold command lines and descriptor targets: the store 0700, each file 0600.
    const mode = (p: string) => (Deno.statSync(p).mode ?? 0) & 0o777;
    assertEquals(mode(`${dir.path}/runs`), 0o700);
    for (const f of [`runs/${runs[0]}`, "site/summary.json", "site/index.html"]) {
      assertEquals(mode(`${dir.path}/${f}`), 0o600, f);
    }
  } finally {
    target.kill("SIGKILL");
    await target.status;
  }
});

Deno.test("schedule run by a Deno in npx's cache puts it last on PATH, says so; refuses one others can change", async () => {
  await using inst = await installed();
  await using dir = tmpDir();
  // Deno where `npx -y deno@2.9.6` puts it (a hard link: the same binary).
  const npxDir = `${dir.path}/.npm/_npx/0123abcd/node_modules/deno`;
  Deno.mkdirSync(npxDir, { recursive: true });
  const npxDeno = `${npxDir}/deno`;
  try {
    Deno.linkSync(Deno.execPath(), npxDeno);
  } catch {
    Deno.copyFileSync(Deno.execPath(), npxDeno);
  }
  const schedule = () =>
    exec(npxDeno, ["run", "-A", `${ROOT}mod.ts`, "schedule", "--comm", "nginx", "--print"], {
      DENO_INSTALL_ROOT: inst.root,
      PATH: `${npxDir}:/usr/sbin:/usr/bin:/sbin:/bin`,
    });
  const r = await schedule();
  assertEquals(r.code, 0, r.stderr);
  const path = /\nEnvironment=PATH=(\S+)\n/.exec(r.stdout)?.[1] ?? "";
  assert(path.startsWith("/usr/local/sbin:"), path);
  assertEquals(path.split(":").pop(), npxDir);
  assert(r.stderr.includes("npx's cache, which npm may clean"), r.stderr);
  // A Deno that another user could replace is never put in a root job.
  Deno.chmodSync(`${dir.path}/.npm`, 0o777);
  const open = await schedule();
  assertEquals(open.code, 2, open.stderr);
  assert(open.stderr.includes("can be written by other users"), open.stderr);
  assertEquals(open.stderr.trim().split("\n").length, 1, open.stderr);
});

Deno.test("schedule passes --keep to trace, and refuses a store the sandbox cannot write", async () => {
  await using inst = await installed();
  const r = await inst.run(["schedule", "--comm", "nginx", "--keep", "30", "--print"]);
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes(" --store /var/lib/ioscope/nginx --keep 30\n"), r.stdout);
  const ro = await inst.run(["schedule", "--comm", "nginx", "--store", "/etc/ioscope", "--print"]);
  assertEquals(ro.code, 2, ro.stderr);
  assert(ro.stderr.includes("ProtectSystem=full"), ro.stderr);
  const bad = await inst.run(["schedule", "--comm", "nginx", "--keep", "0", "--print"]);
  assertEquals(bad.code, 2, bad.stderr);
});

Deno.test("quoting helpers and OnCalendar to cron", () => {
  assertEquals(systemdQuote("/usr/bin/deno"), "/usr/bin/deno");
  assertEquals(systemdQuote("a b"), '"a b"');
  assertEquals(systemdQuote("50%"), '"50%%"');
  assertEquals(systemdQuote("$HOME"), '"$$HOME"');
  assertEquals(shellQuote("a b"), "'a b'");
  assertEquals(shellQuote("10%"), "'10\\%'");
  assertEquals(calendarToCron("daily"), "0 0 * * *");
  assertEquals(calendarToCron("*-*-* 03:00:00"), "0 3 * * *");
  assertEquals(calendarToCron("03:15"), "15 3 * * *");
  assertEquals(calendarToCron("Sat,Sun *-*-* 04:00"), "0 4 * * 6,0");
  assertEquals(calendarToCron("*-*-* 03:00:30"), null);
  assertEquals(calendarToCron("*-*-1 03:00"), null);
});

Deno.test("schedule passes --remote-write, --remote-write-auth (a path, checked now) and --otlp to the trace", async () => {
  await using inst = await installed();
  await using dir = tmpDir();
  const auth = `${dir.path}/auth`;
  Deno.writeTextFileSync(auth, "bearer s3cret-token\n");
  Deno.chmodSync(auth, 0o600);
  const push = [
    "--remote-write",
    "http://prom.example:9090/api/v1/write",
    "--remote-write-auth",
    auth,
    "--otlp",
    "http://otel.example:4318/v1/metrics",
  ];
  const r = await inst.run(["schedule", "--comm", "nginx", "--print", ...push]);
  assertEquals(r.code, 0, r.stderr);
  assert(
    r.stdout.includes(
      `--store /var/lib/ioscope/nginx ${push.join(" ")}\n`,
    ),
    r.stdout,
  );
  assert(!r.stdout.includes("s3cret"), "the secret stays in its file");
  Deno.chmodSync(auth, 0o644);
  const bad = await inst.run(["schedule", "--comm", "nginx", "--print", ...push]);
  assertEquals(bad.code, 2, bad.stderr);
  assert(/readable by others/.test(bad.stderr), bad.stderr);
});
