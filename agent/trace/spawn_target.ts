/**
 * Starting a command to trace from its first syscall: it is started stopped
 * (a shell that stops itself, then execs the command in the same PID), the
 * probes attach, and then it is resumed.
 * @module
 */

import { RunError } from "../errors.ts";
import { readStat } from "./proc.ts";

/** A command started but held stopped until `resume()`. */
export interface StoppedCommand {
  readonly pid: number;
  /** Lets it run. */
  resume(): void;
  /** Ends it if it still runs (SIGTERM, then SIGKILL after 2 s) and reaps it. Idempotent. */
  reap(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `argv` stopped, with the agent's stdin, stdout and stderr.
 * @param argv the command and its arguments
 * @returns the stopped command
 */
export async function startStoppedCommand(argv: string[]): Promise<StoppedCommand> {
  const child = new Deno.Command("/bin/sh", {
    // `kill -STOP $$` stops the shell; after SIGCONT it execs the command in its PID.
    args: ["-c", 'kill -STOP $$ && exec "$@"', "sh", ...argv],
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
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
  return {
    pid: child.pid,
    resume() {
      Deno.kill(child.pid, "SIGCONT");
    },
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
