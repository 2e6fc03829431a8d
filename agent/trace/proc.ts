/**
 * Reading /proc: process existence, names, command lines, fault and context
 * switch counters. Text read here comes from the traced process and is
 * untrusted; callers escape it where it is rendered.
 * @module
 */

/** Fields of /proc/PID/stat the agent uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  minflt: number;
  majflt: number;
  utimeTicks: number;
  stimeTicks: number;
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/**
 * Parses the text of /proc/PID/stat. The comm field is in parentheses and may
 * itself contain spaces and parentheses, so split at the last ')'.
 * @param text the file's text
 * @returns the parsed fields, or null when the text is not a stat line
 */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const num = (i: number) => Number(rest[i] ?? NaN);
  const stat = {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "?",
    ppid: num(1),
    minflt: num(7),
    majflt: num(9),
    utimeTicks: num(11),
    stimeTicks: num(12),
  };
  return Number.isFinite(stat.pid) && Number.isFinite(stat.minflt) ? stat : null;
}

/** /proc/PID/stat, or null when the process does not exist. */
export function readStat(pid: number): ProcStat | null {
  const text = readText(`/proc/${pid}/stat`);
  return text === null ? null : parseStat(text);
}

/**
 * True while the process exists and one of its threads is not a zombie. A
 * process whose main thread exited (pthread_exit) while other threads work
 * shows a zombie leader in /proc/PID/stat: its other threads are asked.
 * @param pid a thread group id
 * @returns whether any thread of it still runs
 */
export function isAlive(pid: number): boolean {
  const st = readStat(pid);
  if (st === null || st.state === "X") return false;
  if (st.state !== "Z") return true;
  return liveThread(pid) !== null;
}

/** A thread of the process that is not a zombie, or null. */
function liveThread(pid: number): number | null {
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const state = parseStat(readText(`/proc/${pid}/task/${t.name}/stat`) ?? "")?.state;
      if (state !== undefined && state !== "Z" && state !== "X") return Number(t.name);
    }
  } catch {
    // gone
  }
  return null;
}

/**
 * The command line, arguments joined by spaces ("" for kernel threads or when
 * gone). A zombie leader has none: it is read from a live thread.
 */
export function readCmdline(pid: number): string {
  let text = readText(`/proc/${pid}/cmdline`);
  if (text === "") {
    const tid = liveThread(pid);
    if (tid !== null) text = readText(`/proc/${pid}/task/${tid}/cmdline`);
  }
  return text === null ? "" : text.replace(/\0+$/, "").split("\0").join(" ");
}

/** Every PID whose comm (the 15-character task name) equals `name`, ascending. */
export function pidsByComm(name: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const comm = readText(`/proc/${entry.name}/comm`);
    if (comm !== null && comm.replace(/\n$/, "") === name) found.push(Number(entry.name));
  }
  return found.sort((a, b) => a - b);
}

/** Voluntary and involuntary context switches of a process, summed over its threads. */
export function readCtxSwitches(pid: number): { voluntary: number; involuntary: number } | null {
  let voluntary = 0;
  let involuntary = 0;
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = readText(`/proc/${pid}/task/${t.name}/status`) ?? "";
      voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
      involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    }
  } catch {
    return null;
  }
  return { voluntary, involuntary };
}

/**
 * The thread group (process) of a thread id, from /proc/TID/status.
 * @param tid a thread id (a process id is its own leader's)
 * @returns the Tgid, or null when no such task exists
 */
export function tgidOf(tid: number): number | null {
  const text = readText(`/proc/${tid}/status`);
  const m = text === null ? null : /^Tgid:\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * Whether an ELF file is 32-bit (ELFCLASS32): on x86_64 such a process runs
 * in compat mode and its syscall numbers are i386's.
 * @param path the file (`/proc/PID/exe` for a process)
 * @returns true for ELFCLASS32, false for anything else or an unreadable file
 */
export function isElf32(path: string): boolean {
  try {
    using f = Deno.openSync(path);
    const ident = new Uint8Array(5);
    if (f.readSync(ident) !== 5) return false;
    // \x7fELF, then EI_CLASS: 1 = ELFCLASS32.
    return ident[0] === 0x7f && ident[1] === 0x45 && ident[2] === 0x4c && ident[3] === 0x46 &&
      ident[4] === 1;
  } catch {
    return false; // gone, or a kernel thread (no exe)
  }
}
