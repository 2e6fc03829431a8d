/**
 * What `ioscope schedule` writes: a systemd service that traces a process by
 * name for a while into a run store and then regenerates the trend report, a
 * timer that starts it (nightly by default), and the equivalent crontab line
 * for hosts without systemd. Pure functions from a plan to text.
 * @module
 */

/** Everything the units need. */
import { dirOf } from "../mod.ts";

export interface SchedulePlan {
  /** The unit name without suffix, e.g. `ioscope-nginx`. */
  name: string;
  /** The process name to trace (`trace --comm`). */
  comm: string;
  /** How long to trace, as given (`60s`, `2m`). */
  duration: string;
  /** The run store directory. */
  store: string;
  /** The trend page. */
  out: string;
  /** The summary JSON. */
  json: string;
  /** systemd `OnCalendar=` expression. */
  onCalendar: string;
  /** The installed `ioscope` command (`deno task install`), absolute. */
  ioscope: string;
  /**
   * `PATH` for the job: the system's directories, then Deno's (the command is
   * a Deno script), last, so nothing in it can stand in for a system command.
   */
  path: string;
  /** `mkdir`, absolute. */
  mkdir: string;
  /** Deno's cache directory (the one `deno task install` filled), if known. */
  denoDir?: string;
  /** `report --threshold`, as given. */
  threshold?: string;
  /** `report --fail-on-regression`: the service fails when something regressed. */
  failOnRegression?: boolean;
  /** `trace --backend`, when not auto. */
  backend?: string;
  /** `trace --keep`: runs of the target the store keeps. */
  keep?: number;
  /**
   * `trace --remote-write`, `--remote-write-auth` (a file path: the secret
   * stays in the file), `--otlp`, `--push-interval`, as given: each Run is
   * pushed too.
   */
  push?: string[];
}

/**
 * Quotes one argument for a systemd `ExecStart=` line: plain words stay as
 * they are, anything else is double-quoted with `\` and `"` escaped; `%` (a
 * specifier) and `$` (a variable) are doubled either way.
 * @param arg the argument
 * @returns the quoted argument
 * @example
 * ```ts
 * import { systemdQuote } from "./schedule.ts";
 * console.assert(systemdQuote("nginx") === "nginx");
 * console.assert(systemdQuote('a "b" 5%') === '"a \\"b\\" 5%%"');
 * ```
 */
export function systemdQuote(arg: string): string {
  const plain = /^[A-Za-z0-9_@+=:,./-]+$/.test(arg);
  const q = plain ? arg : `"${arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  return q.replace(/%/g, "%%").replace(/\$/g, "$$$$");
}

/**
 * Quotes one argument for a POSIX shell (and so a crontab line): single
 * quotes unless the word is plain; `%`, which cron turns into a newline, is
 * escaped as `\%`.
 * @param arg the argument
 * @returns the quoted argument
 * @example
 * ```ts
 * import { shellQuote } from "./schedule.ts";
 * console.assert(shellQuote("it's") === "'it'\\''s'");
 * console.assert(shellQuote("/var/lib/x") === "/var/lib/x");
 * ```
 */
export function shellQuote(arg: string): string {
  const q = /^[A-Za-z0-9_@+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
  return q.replace(/%/g, "\\%");
}

function traceArgs(p: SchedulePlan): string[] {
  // `--comm=NAME`: a name that starts with '-' stays the flag's value.
  return [
    "trace",
    `--comm=${p.comm}`,
    "--duration",
    p.duration,
    ...(p.backend ? ["--backend", p.backend] : []),
    "--store",
    p.store,
    ...(p.keep !== undefined ? ["--keep", String(p.keep)] : []),
    ...(p.push ?? []),
  ];
}

/**
 * The sandbox of the service, as far as tracing allows: the trace needs
 * bpf(2), perf_event_open(2), tracefs under /sys and every process's /proc, so
 * no ProtectKernelTunables=, ProtectKernelModules=, PrivateDevices= or system
 * call filter. Files it makes are owner-only (Runs hold command lines and
 * descriptor targets); /usr, /boot and /etc are read-only to it; its /tmp
 * (perf.data) is its own; it can never gain privileges.
 */
export const SERVICE_HARDENING: readonly string[] = [
  "UMask=0077",
  "NoNewPrivileges=yes",
  "PrivateTmp=yes",
  "ProtectSystem=full",
];

/** What `ProtectSystem=full` makes read-only: the service cannot write a store or report there. */
export const READ_ONLY_TO_SERVICE: readonly string[] = ["/usr", "/boot", "/efi", "/etc"];

function reportArgs(p: SchedulePlan): string[] {
  return [
    "report",
    "--store",
    p.store,
    "--out",
    p.out,
    "--json",
    p.json,
    ...(p.threshold ? ["--threshold", p.threshold] : []),
    ...(p.failOnRegression ? ["--fail-on-regression"] : []),
  ];
}

/** The directories the job needs before it starts: the store, and the report's. */
function dirsToMake(p: SchedulePlan): string[] {
  return [...new Set([p.store, dirOf(p.out), dirOf(p.json)])];
}

/**
 * The service unit: `mkdir -p` the directories, trace, then report. A
 * oneshot service runs its `ExecStart=` lines in order and stops at the first
 * that fails, so a failed trace leaves the last report in place.
 * @param p the plan
 * @param durationS the trace's duration in seconds (for the start timeout)
 * @returns the unit file's text
 */
export function serviceUnit(p: SchedulePlan, durationS: number): string {
  const exec = (args: string[]) => [p.ioscope, ...args].map(systemdQuote).join(" ");
  const env = [
    `Environment=${systemdQuote(`PATH=${p.path}`)}`,
    ...(p.denoDir ? [`Environment=${systemdQuote(`DENO_DIR=${p.denoDir}`)}`] : []),
    "Environment=NO_COLOR=1",
  ];
  return [
    `# Written by 'ioscope schedule'. Traces processes named ${oneLine(p.comm)} for ${p.duration},`,
    `# keeps the run in ${oneLine(p.store)} and updates the trend report ${oneLine(p.out)}.`,
    "[Unit]",
    `Description=ioscope: trace ${oneLine(p.comm)} and update its trend report`,
    "",
    "[Service]",
    "Type=oneshot",
    ...env,
    ...SERVICE_HARDENING,
    `ExecStartPre=${[p.mkdir, "-p", ...dirsToMake(p)].map(systemdQuote).join(" ")}`,
    `ExecStart=${exec(traceArgs(p))}`,
    `ExecStart=${exec(reportArgs(p))}`,
    `TimeoutStartSec=${Math.ceil(durationS) + 900}`,
    "",
  ].join("\n");
}

/**
 * The timer unit that starts the service.
 * @param p the plan
 * @returns the unit file's text
 */
export function timerUnit(p: SchedulePlan): string {
  return [
    "# Written by 'ioscope schedule'.",
    "[Unit]",
    `Description=ioscope: start ${p.name}.service (${oneLine(p.onCalendar)})`,
    "",
    "[Timer]",
    `OnCalendar=${p.onCalendar}`,
    "Persistent=true",
    `Unit=${p.name}.service`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, "?").replace(/%/g, "%%");
}

const DOW: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

function cronDays(spec: string): string | null {
  const parts: string[] = [];
  for (const item of spec.split(",")) {
    const range = item.split("..");
    const nums = range.map((d) => DOW[d.slice(0, 3).toLowerCase()]);
    if (nums.some((n) => n === undefined) || range.length > 2) return null;
    parts.push(nums.join("-"));
  }
  return parts.join(",");
}

function cronField(spec: string, max: number): string | null {
  if (spec === "*") return "*";
  const items = spec.split(",");
  if (!items.every((i) => /^\d{1,2}$/.test(i) && Number(i) <= max)) return null;
  return items.map(Number).join(",");
}

/**
 * The cron schedule (five fields) for a systemd `OnCalendar=` expression, for
 * the common forms: `daily`, `hourly`, `weekly`, `monthly`, `HH:MM`,
 * `*-*-* HH:MM[:00]`, and those with weekdays in front (`Mon..Fri`).
 * @param onCalendar the expression
 * @returns e.g. `"0 3 * * *"`, or null when there is no simple equivalent
 * @example
 * ```ts
 * import { calendarToCron } from "./schedule.ts";
 * console.assert(calendarToCron("*-*-* 03:00:00") === "0 3 * * *");
 * console.assert(calendarToCron("Mon..Fri 02:30") === "30 2 * * 1-5");
 * console.assert(calendarToCron("*-*-01/2 03:00") === null);
 * ```
 */
export function calendarToCron(onCalendar: string): string | null {
  const words: Record<string, string> = {
    minutely: "* * * * *",
    hourly: "0 * * * *",
    daily: "0 0 * * *",
    midnight: "0 0 * * *",
    weekly: "0 0 * * 1",
    monthly: "0 0 1 * *",
    yearly: "0 0 1 1 *",
    annually: "0 0 1 1 *",
  };
  const text = onCalendar.trim().replace(/\s+/g, " ");
  const word = words[text.toLowerCase()];
  if (word) return word;
  const m = /^(?:([A-Za-z.,]+) )?(?:\*-\*-\* )?([\d,*]+):([\d,]+)(?::(00?))?$/.exec(text);
  if (!m) return null;
  const days = m[1] === undefined ? "*" : cronDays(m[1]);
  const hour = cronField(m[2] ?? "", 23);
  const minute = cronField(m[3] ?? "", 59);
  if (days === null || hour === null || minute === null || minute === "*") return null;
  return `${minute} ${hour} * * ${days}`;
}

/**
 * The crontab line (for root's crontab, `crontab -e`) that does what the
 * service does, at the timer's times.
 * @param p the plan
 * @returns the line, or null when `OnCalendar=` has no cron equivalent
 */
export function cronLine(p: SchedulePlan): string | null {
  const when = calendarToCron(p.onCalendar);
  if (when === null) return null;
  const env = [
    `PATH=${shellQuote(p.path)}`,
    ...(p.denoDir ? [`DENO_DIR=${shellQuote(p.denoDir)}`] : []),
    "NO_COLOR=1",
  ].join(" ");
  const cmd = (args: string[]) => `${env} ${[p.ioscope, ...args].map(shellQuote).join(" ")}`;
  return `${when} ${[p.mkdir, "-p", ...dirsToMake(p)].map(shellQuote).join(" ")} && ${
    cmd(traceArgs(p))
  } && ${cmd(reportArgs(p))}`;
}
