/**
 * Starting a command to trace from its first syscall: it is started stopped
 * (a shell that stops itself, then execs the command in the same PID), the
 * probes attach, and then it is resumed.
 *
 * A command that daemonizes (forks, and the launcher exits) leaves its daemon
 * an orphan: the agent makes itself the child subreaper (PR_SET_CHILD_SUBREAPER)
 * so that orphans of the command become the agent's children instead of
 * init's, and the command is alive while the launcher or one of them is.
 * `--user NAME` runs the command as that user (setpriv, the user's groups, a
 * clean environment with HOME, USER, LOGNAME and SHELL set), and never hands
 * it the agent's terminal: it runs in a session of its own (setsid: no
 * controlling terminal, so /dev/tty cannot be opened and TIOCSTI has no
 * terminal to push into), each of stdin, stdout and stderr that is a
 * terminal becomes a pipe the CLI relays (see {@linkcode terminalStdio}),
 * and no other descriptor of the agent's survives its exec.
 * @module
 */

import { libc, unwrap } from "../../ffi/mod.ts";
import { RunError } from "../mod.ts";
import { isAlive, readStat } from "./proc.ts";

/** prctl(2) option: orphaned descendants are reparented to this process. */
const PR_SET_CHILD_SUBREAPER = 36;
/** waitpid(2) option: do not block. */
const WNOHANG = 1;

/** A user to run a command as, from the passwd database. */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
}

/** What the command's stdin, stdout and stderr are: the agent's, a pipe, or /dev/null. */
export interface CommandStdio {
  stdin: "inherit" | "piped" | "null";
  stdout: "inherit" | "piped" | "null";
  stderr: "inherit" | "piped" | "null";
}

/** A command started but held stopped until `resume()`. */
export interface StoppedCommand {
  readonly pid: number;
  /** Its stdin, when piped: the CLI writes what it relays here. */
  readonly stdin: WritableStream<Uint8Array> | null;
  /** Its stdout, when piped: the CLI relays it. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  /** Its stderr, when piped: the CLI relays it. */
  readonly stderr: ReadableStream<Uint8Array> | null;
  /**
   * Lets it run. Every child the agent has at this moment (the tracer, its
   * watchdog, perf) is a tool; a child that appears later is the command's orphan.
   */
  resume(): void;
  /** True while the launcher runs, or an orphaned descendant of it (a daemon) does. */
  alive(): boolean;
  /** The command's orphaned descendants that still run (daemons), by PID. */
  orphans(): number[];
  /** Ends it if it still runs (SIGTERM, then SIGKILL after 2 s) and reaps it. Idempotent. */
  reap(): Promise<Deno.CommandStatus>;
}

/**
 * The stdio for a command that must not get the agent's terminal: each of
 * the agent's stdin, stdout and stderr that is a terminal is piped (the CLI
 * relays it), the others are handed down as they are (a file, a pipe). A
 * terminal stdin is piped only while the agent is in the terminal's
 * foreground: in the background, reading it would stop the agent (SIGTTIN),
 * so the command gets /dev/null.
 * @returns the stdio to start the command with
 */
export function terminalStdio(): CommandStdio {
  const out = (s: { isTerminal(): boolean }) => s.isTerminal() ? "piped" : "inherit";
  return {
    stdin: !Deno.stdin.isTerminal() ? "inherit" : inForeground() ? "piped" : "null",
    stdout: out(Deno.stdout),
    stderr: out(Deno.stderr),
  };
}

/** True when this process's group is its terminal's foreground group (/proc/self/stat). */
function inForeground(): boolean {
  try {
    const text = Deno.readTextFileSync("/proc/self/stat");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // state ppid pgrp session tty_nr tpgid
    return f[2] !== undefined && f[2] === f[5];
  } catch {
    return false;
  }
}

/** fcntl(2) commands and flag. */
const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks every descriptor of the agent above stderr close-on-exec, so that a
 * descriptor it inherited without the flag (a terminal the caller opened, a
 * pipe) does not reach a command run as another user.
 */
function closeOnExec(): void {
  let fds: number[];
  try {
    fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).filter((n) => n > 2);
  } catch {
    return;
  }
  for (const fd of fds) {
    const flags = libc().fcntl(fd, F_GETFD, 0);
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) libc().fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  }
}

/**
 * Starts `argv` stopped, with the agent's stdin, stdout and stderr (or none:
 * `stdio: "null"`, for a command traced under a full-screen view; or as
 * given, each on its own). With `user`, the command runs in its own session
 * (setsid) with no descriptor of the agent's but the three it is given.
 * @param argv the command and its arguments
 * @param options `user` to run it as; `stdio` (default "inherit")
 * @returns the stopped command
 */
export async function startStoppedCommand(
  argv: string[],
  options: { user?: RunAsUser; stdio?: "inherit" | "null" | CommandStdio } = {},
): Promise<StoppedCommand> {
  const { user, stdio = "inherit" } = options;
  const streams = typeof stdio === "string"
    ? { stdin: stdio, stdout: stdio, stderr: stdio }
    : stdio;
  unwrap(libc().prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n), "prctl(PR_SET_CHILD_SUBREAPER)");
  // `kill -STOP $$` stops the shell; after SIGCONT it execs the command in its PID.
  const shell = ["/bin/sh", "-c", 'kill -STOP $$ && exec "$@"', "sh", ...argv];
  // setsid(1) calls setsid(2) and execs in place (the child leads no group, so it does not fork).
  const asUser = user
    ? [
      "setsid",
      "setpriv",
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      "--init-groups",
      "--reset-env",
      "--",
    ]
    : [];
  const [program = "/bin/sh", ...args] = [...asUser, ...shell];
  if (user) closeOnExec();
  const child = new Deno.Command(program, { args, ...streams }).spawn();
  const deadline = Date.now() + 5_000;
  while (readStat(child.pid)?.state !== "T") {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new RunError("the command did not start");
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  let reaped: Promise<Deno.CommandStatus> | null = null;
  let tools = new Set<number>();
  const orphans = () => {
    const found: number[] = [];
    for (const p of childrenOf(Deno.pid)) {
      if (p === child.pid || tools.has(p)) continue;
      if (isAlive(p)) found.push(p);
      else reapZombie(p);
    }
    return found;
  };
  return {
    pid: child.pid,
    stdin: streams.stdin === "piped" ? child.stdin : null,
    stdout: streams.stdout === "piped" ? child.stdout : null,
    stderr: streams.stderr === "piped" ? child.stderr : null,
    resume() {
      tools = new Set(childrenOf(Deno.pid));
      Deno.kill(child.pid, "SIGCONT");
    },
    alive: () => isAlive(child.pid) || orphans().length > 0,
    orphans,
    reap() {
      reaped ??= (async () => {
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // gone
          }
        }, 2_000);
        try {
          Deno.kill(child.pid, "SIGCONT");
          const st = readStat(child.pid);
          if (st && st.state !== "Z") child.kill("SIGTERM");
        } catch {
          // already exited
        }
        const status = await child.status;
        clearTimeout(timer);
        return status;
      })();
      return reaped;
    },
  };
}

/** The children of a process, over all its threads (/proc/PID/task/TID/children). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
        if (text) out.push(...text.split(" ").map(Number));
      } catch {
        // the thread exited
      }
    }
  } catch {
    // no /proc
  }
  return out;
}

/** Reaps an orphan that exited (it is the agent's child now, and Deno does not wait for it). */
function reapZombie(pid: number): void {
  if (readStat(pid)?.state !== "Z") return;
  libc().waitpid(pid, new Int32Array(1), WNOHANG);
}
