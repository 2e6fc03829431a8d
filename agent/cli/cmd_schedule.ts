/**
 * `ioscope schedule --comm NAME`: writes (or prints, with --print) a systemd
 * service and timer that trace NAME for a while every night into a run store
 * and regenerate the trend report, checks them with `systemd-analyze verify`
 * where it is installed, and prints the equivalent crontab line.
 * @module
 */

import { parseDurationMs, parseFlags, parseKeep, parseThreshold } from "./_args.ts";
import { findCommand, RunError, UsageError, writeFileAtomic } from "../mod.ts";
import type { Command } from "./command.ts";
import { parseBackendName } from "../trace/backends/mod.ts";
import {
  cronLine,
  READ_ONLY_TO_SERVICE,
  type SchedulePlan,
  serviceUnit,
  timerUnit,
} from "../nightly/mod.ts";
import { terminalSafe } from "./terminal_safe.ts";
import { parsePushArgs } from "./_push_args.ts";
import { findInstalled } from "./_install.ts";

const HELP = `ioscope schedule: trace a process every night, keep the runs, update the report

Usage:
  ioscope schedule --comm NAME [options]

Options:
  --comm NAME            the process name to trace (trace --comm NAME)
  --duration TIME        how long each trace runs (default: 60s)
  --on-calendar WHEN     systemd OnCalendar= expression (default: *-*-* 03:00:00,
                         nightly at 03:00; e.g. daily, Mon..Fri 02:30)
  --store DIR            the run store (default: /var/lib/ioscope/NAME)
  --out FILE.html        the trend page (default: STORE/report/index.html)
  --json FILE            the summary (default: next to --out, summary.json)
  --threshold PCT        passed to ioscope report (default: its own, 10%)
  --fail-on-regression   the service fails when the report finds a regression
  --backend NAME         passed to ioscope trace (default: auto)
  --keep N               passed to ioscope trace: the runs kept per target
                         (default: its own, 100)
  --remote-write URL     passed to ioscope trace: push each Run (native histograms)
  --remote-write-auth FILE
                         passed to ioscope trace: the credentials file (checked now)
  --otlp URL             passed to ioscope trace: push each Run as OTLP
  --name UNIT            unit name (default: ioscope-NAME)
  --unit-dir DIR         where to write the units (default: /etc/systemd/system)
  --force                replace units that exist with other contents
  --print                print the units and the crontab line; write nothing
  -h, --help             this help

The units run the installed ioscope command ('deno task install' in the checkout).
Then: systemctl daemon-reload && systemctl enable --now UNIT.timer
Example:
  ioscope schedule --comm nginx --duration 2m --on-calendar '*-*-* 02:30:00'`;

/** `ioscope schedule`. */
export const scheduleCommand: Command = {
  summary: "write a systemd timer (or crontab line) for nightly traces + report",
  help: HELP,
  run: runSchedule,
};

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

function absolute(path: string): string {
  if (path.startsWith("/")) return path.replace(/\/+$/, "") || "/";
  return `${Deno.cwd()}/${path}`.replace(/\/\.\//g, "/").replace(/\/+$/, "");
}

/**
 * PATH for the job: the system's directories first, then Deno's own (the
 * installed command runs `deno` by name) last, so that nothing in Deno's
 * directory (npx's cache, say) can stand in for `bpftrace` or `perf`.
 */
function jobPath(denoDirectory: string): string {
  const usual = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  return [...new Set([...usual, denoDirectory])].join(":");
}

/**
 * Why root must not run programs from a directory, or null: some directory on
 * the way to it belongs to another user, or others can write to it (without
 * the sticky bit), so they could replace what is in it.
 */
function unsafeDirReason(dir: string): string | null {
  const uid = Deno.uid();
  const parts = dir.split("/").filter((p) => p !== "");
  for (const d of ["/", ...parts.map((_, i) => `/${parts.slice(0, i + 1).join("/")}`)]) {
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(d);
    } catch {
      return `${d} cannot be examined`;
    }
    const mode = (info.mode ?? 0) & 0o7777;
    if (info.uid !== 0 && info.uid !== uid) return `${d} belongs to user ${info.uid}`;
    if ((mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      return `${d} can be written by other users (mode ${mode.toString(8).padStart(4, "0")})`;
    }
  }
  return null;
}

function denoDir(): string | undefined {
  const set = Deno.env.get("DENO_DIR");
  if (set) return absolute(set);
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${absolute(xdg)}/deno`;
  const home = Deno.env.get("HOME");
  return home ? `${home}/.cache/deno` : undefined;
}

async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: (dec.decode(out.stdout) + dec.decode(out.stderr)).trim() };
}

interface ScheduleArgs {
  plan: SchedulePlan;
  durationS: number;
  unitDir: string;
  print: boolean;
  force: boolean;
}

/** The push flags for the unit's trace, checked now (a bad URL or unsafe file: exit 2 here). */
function schedulePushArgs(values: Record<string, string | boolean | undefined>): string[] {
  parsePushArgs(values);
  const out: string[] = [];
  for (const flag of ["remote-write", "remote-write-auth", "otlp"] as const) {
    const v = values[flag];
    if (typeof v !== "string") continue;
    if (CONTROL.test(v)) throw new UsageError(`invalid --${flag}: control characters`);
    out.push(`--${flag}`, flag === "remote-write-auth" ? absolute(v) : v);
  }
  return out;
}

function parseScheduleArgs(args: string[]): ScheduleArgs {
  const { values, positionals } = parseFlags(args, {
    comm: { type: "string" },
    duration: { type: "string", default: "60s" },
    "on-calendar": { type: "string", default: "*-*-* 03:00:00" },
    store: { type: "string" },
    out: { type: "string" },
    json: { type: "string" },
    threshold: { type: "string" },
    "fail-on-regression": { type: "boolean", default: false },
    backend: { type: "string" },
    keep: { type: "string" },
    "remote-write": { type: "string" },
    "remote-write-auth": { type: "string" },
    otlp: { type: "string" },
    name: { type: "string" },
    "unit-dir": { type: "string", default: "/etc/systemd/system" },
    force: { type: "boolean", default: false },
    print: { type: "boolean", default: false },
  }, true);
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const comm = values.comm;
  if (typeof comm !== "string" || comm === "") {
    throw new UsageError("no target: give --comm NAME (the process name, as ps -e -o comm shows)");
  }
  if (CONTROL.test(comm) || new TextEncoder().encode(comm).length > 15) {
    throw new UsageError(
      `invalid --comm '${
        terminalSafe(comm)
      }': a process name is at most 15 bytes, no control characters`,
    );
  }
  const duration = String(values.duration);
  const durationS = parseDurationMs(duration) / 1000;
  const onCalendar = String(values["on-calendar"]).trim();
  if (onCalendar === "" || CONTROL.test(onCalendar)) {
    throw new UsageError("invalid --on-calendar: give a systemd calendar expression, e.g. daily");
  }
  const slug = comm.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^[_-]+/, "") || "target";
  const name = typeof values.name === "string" ? values.name : `ioscope-${slug}`;
  if (!/^[A-Za-z0-9_.@:-]{1,200}$/.test(name) || name.startsWith("-")) {
    throw new UsageError(
      `invalid --name '${terminalSafe(name)}': use letters, digits and - _ . @ :`,
    );
  }
  const store = absolute(
    typeof values.store === "string" ? values.store : `/var/lib/ioscope/${slug}`,
  );
  const out = absolute(typeof values.out === "string" ? values.out : `${store}/report/index.html`);
  const json = absolute(
    typeof values.json === "string"
      ? values.json
      : `${out.slice(0, out.lastIndexOf("/")) || ""}/summary.json`,
  );
  for (const [flag, v] of [["--store", store], ["--out", out], ["--json", json]] as const) {
    if (CONTROL.test(v)) throw new UsageError(`invalid ${flag}: the path has control characters`);
    const ro = READ_ONLY_TO_SERVICE.find((d) => v === d || v.startsWith(`${d}/`));
    if (ro) {
      throw new UsageError(
        `invalid ${flag} ${terminalSafe(v)}: the service cannot write under ${ro} ` +
          "(ProtectSystem=full); use a directory under /var, /srv or /root",
      );
    }
  }
  const keep = typeof values.keep === "string" ? parseKeep(values.keep) : undefined;
  if (typeof values.threshold === "string") parseThreshold(values.threshold);
  if (typeof values.backend === "string") parseBackendName(values.backend);
  const ioscope = findInstalled();
  if (ioscope === null) {
    throw new UsageError(
      "ioscope is not installed on this host, and the units run the installed command: " +
        "run 'deno task install' in the ioscope checkout first (docs/install.md)",
    );
  }
  const deno = Deno.execPath();
  const denoDirectory = deno.slice(0, deno.lastIndexOf("/")) || "/";
  const unsafe = unsafeDirReason(denoDirectory);
  if (unsafe !== null) {
    throw new UsageError(
      `Deno (${terminalSafe(deno)}) is not safe for a root job to run: ${terminalSafe(unsafe)}; ` +
        "install Deno where only root can change it (npm i -g deno@2.9.6)",
    );
  }
  const plan: SchedulePlan = {
    name,
    comm,
    duration,
    store,
    out,
    json,
    onCalendar,
    ioscope,
    path: jobPath(denoDirectory),
    mkdir: findCommand("mkdir") ?? "/bin/mkdir",
    failOnRegression: values["fail-on-regression"] === true,
  };
  const dd = denoDir();
  if (dd) plan.denoDir = dd;
  if (typeof values.threshold === "string") plan.threshold = values.threshold;
  if (keep !== undefined) plan.keep = keep;
  const push = schedulePushArgs(values);
  if (push.length > 0) plan.push = push;
  if (typeof values.backend === "string" && values.backend !== "auto") {
    plan.backend = values.backend;
  }
  return {
    plan,
    durationS,
    unitDir: String(values["unit-dir"]),
    print: values.print === true,
    force: values.force === true,
  };
}

/**
 * Checks the calendar expression and the units with systemd-analyze, where it
 * is installed.
 * @returns whether they were checked
 * @throws {UsageError} for a calendar expression systemd does not accept
 * @throws {RunError} when the units do not verify
 */
async function verify(a: ScheduleArgs, service: string, timer: string): Promise<boolean> {
  const analyze = findCommand("systemd-analyze");
  if (!analyze) return false;
  const cal = await run(analyze, ["calendar", a.plan.onCalendar]);
  if (cal.code !== 0) {
    throw new UsageError(
      `invalid --on-calendar '${terminalSafe(a.plan.onCalendar)}': ${
        terminalSafe(cal.output.split("\n").pop() ?? "")
      } (see man systemd.time)`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "ioscope-units-" });
  try {
    const s = `${dir}/${a.plan.name}.service`;
    const t = `${dir}/${a.plan.name}.timer`;
    await Deno.writeTextFile(s, service);
    await Deno.writeTextFile(t, timer);
    const v = await run(analyze, ["verify", "--man=no", s, t]);
    if (v.code !== 0) {
      throw new RunError(
        `systemd-analyze verify rejected the units: ${
          terminalSafe(v.output.replaceAll(dir + "/", ""))
        }`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return true;
}

async function runSchedule(args: string[]): Promise<number> {
  const a = parseScheduleArgs(args);
  const service = serviceUnit(a.plan, a.durationS);
  const timer = timerUnit(a.plan);
  const cron = cronLine(a.plan);
  const verified = await verify(a, service, timer);
  if (a.plan.path.includes("/_npx/")) {
    console.error(
      "Deno runs from npx's cache, which npm may clean: the units stop working then. " +
        "Install Deno for good (npm i -g deno@2.9.6) and run schedule again",
    );
  }
  const cronText = cron
    ? `# Without systemd, the same from root's crontab (crontab -e):\n${cron}`
    : `# OnCalendar=${a.plan.onCalendar} has no simple crontab equivalent; ` +
      "use a form like '*-*-* 03:00:00' for one.";
  if (a.print) {
    console.log(`# ${a.plan.name}.service\n${service}\n# ${a.plan.name}.timer\n${timer}`);
    console.log(cronText);
    if (!verified) console.error("systemd-analyze is not installed: the units were not verified");
    return 0;
  }
  const paths = [`${a.unitDir}/${a.plan.name}.service`, `${a.unitDir}/${a.plan.name}.timer`];
  try {
    if (!Deno.statSync(a.unitDir).isDirectory) throw new Error();
  } catch {
    throw new UsageError(`--unit-dir ${a.unitDir} is not a directory (or use --print)`);
  }
  const texts = [service, timer];
  for (const [i, p] of paths.entries()) {
    let old: string | null = null;
    try {
      old = Deno.readTextFileSync(p);
    } catch {
      // a new unit
    }
    if (old !== null && old !== texts[i] && !a.force) {
      throw new UsageError(`${p} exists with other contents: add --force to replace it`);
    }
  }
  try {
    for (const [i, p] of paths.entries()) await writeFileAtomic(p, texts[i] ?? "");
  } catch (e: unknown) {
    const why = e instanceof Deno.errors.PermissionDenied
      ? "permission denied (run as root, or use --print)"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new RunError(`cannot write the units to ${a.unitDir}: ${why}`);
  }
  console.log(`Wrote ${paths.join(" and ")}${verified ? " (systemd-analyze verify: ok)" : ""}`);
  if (!verified) console.error("systemd-analyze is not installed: the units were not verified");
  console.log(`Enable it: systemctl daemon-reload && systemctl enable --now ${a.plan.name}.timer`);
  console.log(
    `Runs go to ${a.plan.store}; the trend report to ${a.plan.out}.`,
  );
  console.log(cronText);
  return 0;
}
