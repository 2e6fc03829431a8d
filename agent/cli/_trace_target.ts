/**
 * The target of `ioscope trace`, of one kind (`--pid`, `--comm`, `--cgroup`,
 * or a command after `--`), that describes itself: the words of the
 * `Tracing ...` line, what the session traces and follows, and, for a
 * command, how it is started. The kind is decided once, by `openTarget`; a
 * new kind of target is one more class here.
 * @module
 */

import { findCommand, UsageError } from "../mod.ts";
import {
  cgroupPids,
  type CgroupTarget,
  isAlive,
  pidsByComm,
  readStat,
  resolveCgroup,
  type RunAsUser,
  startStoppedCommand,
  type StoppedCommand,
  terminalStdio,
  tgidOf,
  type TraceTarget,
} from "../trace/mod.ts";
import { parsePid } from "./_args.ts";
import { terminalSafe } from "./terminal_safe.ts";

/** What the session follows beyond the target's first processes (its TraceOptions). */
export interface TargetFollowing {
  /** The processes the target forks too. */
  followChildren: boolean;
  /** `--comm NAME`: every process that takes the name too. */
  comm?: string;
}

/** A target of `ioscope trace`, checked, that says what it is. */
export interface Target {
  /** Thread group ids to trace at the start (a command's once `launch` started it). */
  readonly pids: number[];
  /** The `Tracing ...` line's words for it, safe for a terminal: `pid 4242 (nginx)`. */
  describe(): string;
  /** A line to say before tracing, or null: `4243 is a thread of process 4242: ...`. */
  notice(): string | null;
  /** What the session traces. */
  traceTarget(): TraceTarget;
  /** What the session follows. */
  following(): TargetFollowing;
  /**
   * Starts a command target stopped, before its first instruction (the
   * session resumes nothing: the caller resumes it once the probes attach).
   * Only a command has it.
   * @param live `--live`: the command gets no stdin, stdout or stderr
   */
  launch?(live: boolean): Promise<StoppedCommand>;
}

/** `s` unless there is one. */
function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

/** `--pid PID [--follow]`: a running process, every thread; a thread id means its process. */
class PidTarget implements Target {
  readonly pids: number[];
  #threadGiven: number | undefined;
  #follow: boolean;

  constructor(given: number, follow: boolean) {
    // A thread id is accepted by /proc and kill(); its process is the target.
    const p = tgidOf(given) ?? given;
    if (!isAlive(p)) throw new UsageError(`cannot attach to process ${given}: no such process`);
    this.pids = [p];
    this.#threadGiven = p !== given ? given : undefined;
    this.#follow = follow;
  }

  describe(): string {
    const pid = this.pids[0] ?? 0;
    return `pid ${pid} (${terminalSafe(readStat(pid)?.comm ?? "?")})`;
  }

  notice(): string | null {
    if (this.#threadGiven === undefined) return null;
    return `${this.#threadGiven} is a thread of process ${
      this.pids[0]
    }: tracing the process, every thread.`;
  }

  traceTarget(): TraceTarget {
    return {
      pids: this.pids,
      ...(this.#threadGiven !== undefined ? { threadGiven: this.#threadGiven } : {}),
    };
  }

  following(): TargetFollowing {
    return { followChildren: this.#follow };
  }
}

/** `--comm NAME`: every process of that name, and those that take it later. */
class CommTarget implements Target {
  readonly pids: number[];
  #comm: string;

  constructor(comm: string) {
    if (comm === "") throw new UsageError("--comm needs a process name");
    const found = pidsByComm(comm).filter((p) => p !== Deno.pid);
    if (found.length === 0) {
      throw new UsageError(`no process is named '${terminalSafe(comm)}' (see ps -e -o comm)`);
    }
    this.#comm = comm;
    this.pids = found;
  }

  describe(): string {
    const n = this.pids.length;
    return `${n} process${n > 1 ? "es" : ""} named ${terminalSafe(this.#comm)}`;
  }

  notice(): null {
    return null;
  }

  traceTarget(): TraceTarget {
    return { pids: this.pids, comm: this.#comm };
  }

  following(): TargetFollowing {
    return { followChildren: false, comm: this.#comm };
  }
}

/** `--cgroup DIR`: every process in a cgroup v2 directory, those that join later too. */
class CgroupTraceTarget implements Target {
  readonly pids: number[];
  #cgroup: CgroupTarget;

  constructor(dir: string) {
    try {
      this.#cgroup = resolveCgroup(dir);
    } catch (e: unknown) {
      throw new UsageError(`invalid --cgroup: ${e instanceof Error ? e.message : e}`);
    }
    this.pids = cgroupPids(dir).filter((p) => p !== Deno.pid);
  }

  describe(): string {
    const n = this.pids.length;
    return `cgroup ${terminalSafe(this.#cgroup.path)} (${n} ${
      plural(n, "process", "processes")
    } now, joiners too)`;
  }

  notice(): null {
    return null;
  }

  traceTarget(): TraceTarget {
    const path = this.#cgroup.path;
    return {
      pids: this.pids,
      cgroup: this.#cgroup,
      comm: path.replace(/\/+$/, "").replace(/.*\//, "") || "cgroup",
      cmdline: `cgroup ${path}`,
    };
  }

  following(): TargetFollowing {
    return { followChildren: false };
  }
}

/** `[--user NAME] -- COMMAND ARGS`: a command ioscope starts, and what it forks. */
class CommandTarget implements Target {
  readonly pids: number[] = [];
  #command: string[];
  #user: RunAsUser | undefined;
  #child: StoppedCommand | null = null;

  constructor(command: string[], user: string | undefined) {
    if (!findCommand(command[0] ?? "")) {
      throw new UsageError(`command not found: ${terminalSafe(command[0] ?? "")}`);
    }
    this.#command = command;
    this.#user = user !== undefined ? lookUpUser(user) : undefined;
  }

  /** The name the kernel gives it at exec: the file name, at most 15 bytes. */
  get #comm(): string {
    return (this.#command[0] ?? "").replace(/.*\//, "").slice(0, 15);
  }

  async launch(live: boolean): Promise<StoppedCommand> {
    // Under --live the command's own output would scribble over the view. A
    // command run as another user never gets the agent's terminal: its
    // streams that would be the terminal are pipes, relayed and made safe.
    const child = await startStoppedCommand(this.#command, {
      ...(this.#user ? { user: this.#user } : {}),
      ...(live ? { stdio: "null" as const } : this.#user ? { stdio: terminalStdio() } : {}),
    });
    this.#child = child;
    this.pids.splice(0, this.pids.length, child.pid);
    return child;
  }

  describe(): string {
    return `pid ${this.pids[0]} (${
      terminalSafe((this.#command[0] ?? "").replace(/.*\//, "")).slice(0, 15)
    })${this.#user ? ` as ${terminalSafe(this.#user.name)}` : ""}`;
  }

  notice(): null {
    return null;
  }

  traceTarget(): TraceTarget {
    const child = this.#child;
    return {
      pids: this.pids,
      comm: this.#comm,
      cmdline: this.#command.join(" "),
      // A daemonizing command: its daemon is the target once the launcher exits.
      ...(child ? { alive: () => child.alive() } : {}),
    };
  }

  following(): TargetFollowing {
    // A command's I/O may happen in processes it forks (fio's jobs, a shell's children).
    return { followChildren: true };
  }
}

/** A user from the passwd database (`getent passwd`, so NSS users too), by name or UID. */
function lookUpUser(name: string): RunAsUser {
  const unknown = new UsageError(`unknown user '${terminalSafe(name)}' (see getent passwd)`);
  if (name === "" || name.startsWith("-")) throw unknown;
  let line = "";
  try {
    const out = new Deno.Command("getent", { args: ["passwd", name], stderr: "null" })
      .outputSync();
    line = out.success ? new TextDecoder().decode(out.stdout).split("\n")[0] ?? "" : "";
  } catch {
    throw new UsageError("--user needs getent (libc-bin) to look the user up");
  }
  const [user = "", , uid = "", gid = ""] = line.split(":");
  if (!user || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) throw unknown;
  return { name: user, uid: Number(uid), gid: Number(gid) };
}

/** The target flags as given, before any is looked up. */
export interface TargetFlags {
  pid?: string | undefined;
  follow: boolean;
  comm?: string | undefined;
  cgroup?: string | undefined;
  command?: string[] | undefined;
  user?: string | undefined;
}

/**
 * Checks that the flags name exactly one target, and go together.
 * @param flags the target flags
 * @throws {UsageError} for none, two, or a flag that goes with another kind
 */
export function checkTargetFlags(flags: TargetFlags): void {
  const { pid, comm, cgroup, command, user } = flags;
  const targets = [pid, comm, cgroup, command].filter((t) => t !== undefined).length;
  if (targets === 0) {
    throw new UsageError("no target: give --pid PID, --comm NAME, --cgroup DIR, or -- COMMAND");
  }
  if (targets > 1) {
    throw new UsageError("give only one target: --pid, --comm, --cgroup, or -- COMMAND");
  }
  if (command !== undefined && command.length === 0) throw new UsageError("no command after --");
  if (flags.follow && pid === undefined) {
    throw new UsageError("--follow goes with --pid (--comm and -- COMMAND follow forks already)");
  }
  if (user !== undefined && command === undefined) {
    throw new UsageError("--user applies to a command: ioscope trace --user NAME -- COMMAND");
  }
}

/**
 * Looks the target up: the process, the name's processes, the cgroup, the
 * command on PATH (and its user). The one place the kind is decided.
 * @param flags target flags that passed checkTargetFlags
 * @returns the target
 * @throws {UsageError} when it does not exist
 */
export function openTarget(flags: TargetFlags): Target {
  if (flags.pid !== undefined) return new PidTarget(parsePid(flags.pid), flags.follow);
  if (flags.comm !== undefined) return new CommTarget(flags.comm);
  if (flags.cgroup !== undefined) return new CgroupTraceTarget(flags.cgroup);
  return new CommandTarget(flags.command ?? [], flags.user);
}
