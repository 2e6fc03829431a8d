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
 * clean environment with HOME, USER, LOGNAME and SHELL set).
 * @module
 */

import { libc, unwrap } from "../../ffi/mod.ts";
import { RunError } from "../errors.ts";
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

/** A command started but held stopped until `resume()`. */
export interface StoppedCommand {
  readonly pid: number;
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
 * Starts `argv` stopped, with the agent's stdin, stdout and stderr (or none:
 * `stdio: "null"`, for a command traced under a full-screen view).
 * @param argv the command and its arguments
 * @param options `user` to run it as; `stdio` (default "inherit")
 * @returns the stopped command
 */
export async function startStoppedCommand(
  argv: string[],
  options: { user?: RunAsUser; stdio?: "inherit" | "null" } = {},
): Promise<StoppedCommand> {
  const { user, stdio = "inherit" } = options;
  unwrap(libc().prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n), "prctl(PR_SET_CHILD_SUBREAPER)");
  // `kill -STOP $$` stops the shell; after SIGCONT it execs the command in its PID.
  const shell = ["/bin/sh", "-c", 'kill -STOP $$ && exec "$@"', "sh", ...argv];
  const asUser = user
    ? [
      "setpriv",
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      "--init-groups",
      "--reset-env",
      "--",
    ]
    : [];
  const [program = "/bin/sh", ...args] = [...asUser, ...shell];
  const child = new Deno.Command(program, {
    args,
    stdin: stdio,
    stdout: stdio,
    stderr: stdio,
  }).spawn();
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
