/**
 * What the target's descriptors are: each "pid:fd" a backend keyed I/O by is
 * resolved through /proc/PID/fd (the link) and /proc/PID/fdinfo (the open
 * flags) the first time a snapshot shows it, while the trace runs (a
 * descriptor closed before then stays "unknown").
 * @module
 */

import type { FdKind, FdStats } from "../../schema/mod.ts";
import type { FdTotals, Snapshot } from "../../probes/mod.ts";
import type { FdInfo } from "./_copy_split.ts";

/**
 * The kind of descriptor a /proc/PID/fd link names.
 * @param target the link's text
 * @returns its kind
 * @example
 * ```ts
 * import { fdKind } from "./_fd_table.ts";
 * console.assert(fdKind("socket:[4242]") === "socket");
 * console.assert(fdKind("/var/log/x.log") === "file");
 * ```
 */
export function fdKind(target: string): FdKind {
  if (target === "") return "unknown";
  if (target.startsWith("socket:[")) return "socket";
  if (target.startsWith("pipe:[")) return "pipe";
  if (target.startsWith("anon_inode:")) return "anon";
  if (target.startsWith("/dev/")) return "device";
  if (target.startsWith("/")) return "file";
  return "other";
}

/** O_ACCMODE of an fdinfo `flags:` line (octal): 1 is O_WRONLY. */
function writeOnly(fdinfo: string): boolean {
  const m = /^flags:\s*([0-7]+)/m.exec(fdinfo);
  return m?.[1] !== undefined && (parseInt(m[1], 8) & 3) === 1;
}

/**
 * The most descriptors an FdTable resolves: what a backend keys by is capped
 * as much (bpf's map, ftrace's FD_KEYS_MAX), so this bounds it whatever the
 * backend does.
 */
export const FD_TABLE_MAX = 16_384;

/** Resolves and remembers descriptors by "pid:fd", at most {@linkcode FD_TABLE_MAX}. */
export class FdTable {
  #known = new Map<string, FdInfo>();
  #dropped = 0;

  /** Resolves every descriptor of the snapshot not resolved yet, while there is room. */
  update(snapshot: Snapshot): void {
    for (const [key, t] of snapshot.fds) {
      if (this.#known.has(key)) continue;
      if (this.#known.size >= FD_TABLE_MAX) {
        this.#dropped++;
        continue;
      }
      this.#known.set(key, readFdInfo(t.pid, t.fd));
    }
  }

  /** Descriptors not resolved for want of room (each time a snapshot showed one). */
  get dropped(): number {
    return this.#dropped;
  }

  /** What is known, by "pid:fd". */
  get known(): ReadonlyMap<string, FdInfo> {
    return this.#known;
  }
}

/**
 * Reads one descriptor's link and open flags.
 * @param pid the process
 * @param fd the descriptor
 * @returns its kind, link text ("" when gone) and whether it is write-only
 */
export function readFdInfo(pid: number, fd: number): FdInfo {
  if (fd < 0) return { kind: "unknown", target: "", writeOnly: false };
  try {
    const target = Deno.readLinkSync(`/proc/${pid}/fd/${fd}`);
    let info = "";
    let stat: FdInfo["stat"];
    try {
      info = Deno.readTextFileSync(`/proc/${pid}/fdinfo/${fd}`);
      const st = Deno.statSync(`/proc/${pid}/fd/${fd}`); // the file, for its page-cache misses
      if (st.dev !== null && st.ino !== null) stat = { dev: st.dev, ino: st.ino };
    } catch {
      // closed meanwhile
    }
    return { kind: fdKind(target), target, writeOnly: writeOnly(info), ...(stat ? { stat } : {}) };
  } catch {
    return { kind: "unknown", target: "", writeOnly: false };
  }
}

/**
 * The descriptors worth showing: the top `n` by time and the top `n` by
 * bytes, together (each once), by time first.
 * @param fds the snapshot's per descriptor totals
 * @param known what was resolved
 * @param n how many of each
 * @returns the Run document's `fds`
 */
export function topFds(
  fds: ReadonlyMap<string, FdTotals>,
  known: ReadonlyMap<string, FdInfo>,
  n = 10,
): FdStats[] {
  const all = [...fds.entries()].filter(([, t]) => t.count > 0);
  const byTime = [...all].sort((a, b) => b[1].total_ns - a[1].total_ns).slice(0, n);
  const byBytes = [...all].filter(([, t]) => t.bytes > 0)
    .sort((a, b) => b[1].bytes - a[1].bytes).slice(0, n);
  const chosen = new Map([...byTime, ...byBytes]);
  return [...chosen.entries()]
    .sort((a, b) => b[1].total_ns - a[1].total_ns)
    .map(([key, t]) => {
      const info = known.get(key);
      return {
        pid: t.pid,
        fd: t.fd,
        kind: info?.kind ?? "unknown",
        target: info?.target ?? "",
        count: t.count,
        errors: t.errors,
        bytes: t.bytes,
        total_ns: t.total_ns,
        calls: Object.fromEntries([...t.calls].sort((a, b) => b[1] - a[1])),
      };
    });
}
