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

/** The fields of a {@linkcode ProcStat} a trace samples while it runs. */
export type ProcSample = Pick<ProcStat, "state" | "minflt" | "majflt">;

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
  return aliveBy(pid, readStat(pid));
}

/** {@linkcode isAlive} from a stat already read (null: no such process). */
function aliveBy(pid: number, st: ProcSample | null): boolean {
  if (st === null || st.state === "X") return false;
  if (st.state !== "Z") return true;
  return liveThread(pid) !== null;
}

/** How many /proc/PID/stat files a {@linkcode StatFiles} keeps open; past it, read by path. */
const KEPT_OPEN = 256;

/**
 * /proc/PID/stat of a set of processes, each kept open and read again from
 * its start (lseek, read: two syscalls) instead of opened, read and closed
 * (about ten): a trace reads it five times a second for as long as it runs.
 * An open file stays bound to its process: once that process is gone (reaped)
 * a read fails, and a new process that takes the PID is never mistaken for it.
 * `close()` releases the files.
 */
export class StatFiles implements Disposable {
  /** An open file, "gone" once a read failed, "path" past KEPT_OPEN. */
  #files = new Map<number, Deno.FsFile | "gone" | "path">();
  #open = 0;
  #buf = new Uint8Array(4096);
  #decoder = new TextDecoder();

  /**
   * A process's stat now.
   * @param pid a thread group id
   * @returns the parsed fields, or null once it is gone
   */
  read(pid: number): ProcStat | null {
    const n = this.#fill(pid);
    if (typeof n !== "number") return n;
    const st = this.#parse(n);
    if (!st) return null;
    const b = this.#buf.subarray(0, n);
    st.comm = this.#decoder.decode(b.subarray(b.indexOf(0x28) + 1, b.lastIndexOf(0x29)));
    return st;
  }

  /**
   * What a trace samples five times a second: {@linkcode read} less the
   * comm (no string decoded).
   * @param pid a thread group id
   * @returns the state and fault counters, or null once it is gone
   */
  sample(pid: number): ProcSample | null {
    const n = this.#fill(pid);
    return typeof n === "number" ? this.#parse(n) : n;
  }

  /** Reads the stat into the buffer: its length, a stat read by path, or null when gone. */
  #fill(pid: number): number | ProcStat | null {
    let f = this.#files.get(pid);
    if (f === undefined) {
      try {
        f = this.#open < KEPT_OPEN ? Deno.openSync(`/proc/${pid}/stat`) : "path";
      } catch {
        f = "gone";
      }
      if (typeof f !== "string") this.#open++;
      this.#files.set(pid, f);
    }
    if (f === "gone") return null;
    if (f === "path") return readStat(pid);
    try {
      f.seekSync(0, Deno.SeekMode.Start);
      const n = f.readSync(this.#buf);
      if (!n) throw new Error("empty");
      return n;
    } catch {
      // ESRCH: the process was reaped
      f.close();
      this.#open--;
      this.#files.set(pid, "gone");
      return null;
    }
  }

  /** The PID at the start of the buffer. */
  #pid(): number {
    const b = this.#buf;
    let pid = 0;
    for (let i = 0; b[i] !== 0x20 && i < 12; i++) pid = pid * 10 + (b[i] as number) - 0x30;
    return pid;
  }

  /**
   * {@linkcode parseStat} of the first `n` bytes of the buffer, without a
   * string per field; `comm` left empty for {@linkcode read} to fill.
   */
  #parse(n: number): ProcStat | null {
    const b = this.#buf;
    const open = b.indexOf(0x28); // (
    let close = n - 1;
    while (close > open && b[close] !== 0x29) close--; // the last )
    if (open < 0 || close <= open || close + 2 >= n) return null;
    // Fields after the comm, from the state (0) on: 1 ppid, 7 minflt, 9 majflt, 11 utime, 12 stime.
    const nums = this.#nums;
    let field = 1;
    let v = 0;
    let sign = 1;
    for (let i = close + 4; i < n && field <= 12; i++) {
      const c = b[i] as number;
      if (c >= 0x30 && c <= 0x39) v = v * 10 + c - 0x30;
      else if (c === 0x2d) sign = -1; // tpgid is -1 without a terminal
      else {
        nums[field++] = sign * v;
        v = 0;
        sign = 1;
      }
    }
    if (field <= 12) return null;
    return {
      pid: this.#pid(),
      comm: "",
      state: String.fromCharCode(b[close + 2] as number),
      ppid: nums[1] as number,
      minflt: nums[7] as number,
      majflt: nums[9] as number,
      utimeTicks: nums[11] as number,
      stimeTicks: nums[12] as number,
    };
  }

  #nums = new Array<number>(13).fill(0);

  /**
   * Whether the process runs, as {@linkcode isAlive} says, from a stat read
   * by {@linkcode read} (no second read).
   * @param pid the process
   * @param st its stat from `read(pid)` or `sample(pid)`
   * @returns whether any thread of it still runs
   */
  alive(pid: number, st: ProcSample | null): boolean {
    return aliveBy(pid, st);
  }

  /** Closes every file. Idempotent. */
  close(): void {
    for (const f of this.#files.values()) if (typeof f !== "string") f.close();
    this.#files.clear();
    this.#open = 0;
  }

  /** See {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
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
 * Every thread id of the processes, from /proc/PID/task.
 * @param pids thread group ids
 * @returns their threads' ids (none for a process that has exited)
 * @example
 * ```ts
 * import { threadsOf } from "./proc.ts";
 * console.assert(threadsOf([Deno.pid]).includes(Deno.pid));
 * ```
 */
export function threadsOf(pids: readonly number[]): number[] {
  const tids: number[] = [];
  for (const pid of pids) {
    try {
      for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
        if (/^\d+$/.test(e.name)) tids.push(Number(e.name));
      }
    } catch {
      // exited
    }
  }
  return tids;
}

/**
 * Whether a task (thread or process) with this id exists now.
 * @param tid a thread or process id
 * @returns false once it is gone
 */
export function isTask(tid: number): boolean {
  try {
    Deno.statSync(`/proc/${tid}`);
    return true;
  } catch {
    return false;
  }
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
