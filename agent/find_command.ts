/**
 * The one PATH lookup of the agent: where `bpftrace`, `perf`, `fio` or a
 * user's command is.
 * @module
 */

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Where a command is: a name with a slash is that path; a plain name is
 * looked up in each absolute `PATH` directory in order. Unlike a shell, an
 * empty or relative entry (which a shell reads as the current directory) is
 * skipped: ioscope runs as root, and the current directory may be anyone's.
 * Only regular files count.
 * @param command a plain name (`bpftrace`) or a path (`./fio`, `/usr/bin/fio`)
 * @returns its absolute path, or null when there is none
 * @example
 * ```ts
 * import { findCommand } from "./find_command.ts";
 * console.assert(findCommand("sh")?.endsWith("/sh"));
 * console.assert(findCommand("no-such-command-here") === null);
 * ```
 */
export function findCommand(command: string): string | null {
  if (command === "") return null;
  if (command.includes("/")) return isFile(command) ? command : null;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    if (!dir.startsWith("/")) continue;
    const path = `${dir.replace(/\/+$/, "")}/${command}`;
    if (isFile(path)) return path;
  }
  return null;
}
