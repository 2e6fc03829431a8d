/**
 * Targets by cgroup (v2) and PID namespace facts, read from cgroupfs and
 * /proc. A cgroup v2 directory's inode number is its cgroup id: the value
 * `bpf_get_current_cgroup_id()` (bpftrace's `cgroup`) returns for a task in it.
 * @module
 */

/** A cgroup v2 directory and its id. */
export interface CgroupTarget {
  /** The directory as given. */
  path: string;
  /** Its cgroup id (the directory's inode number). */
  id: number;
}

/**
 * Checks that `path` is a cgroup v2 directory and reads its id.
 * @param path the directory (`/sys/fs/cgroup/system.slice/nginx.service`)
 * @returns the path and id
 * @throws {Error} with a one-line reason when it is not one
 */
export function resolveCgroup(path: string): CgroupTarget {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    throw new Error(`${path} does not exist`);
  }
  if (!info.isDirectory) throw new Error(`${path} is not a directory`);
  try {
    // Only cgroup v2 directories have cgroup.controllers (v1 ones have cgroup.procs too).
    Deno.statSync(`${path}/cgroup.controllers`);
    Deno.statSync(`${path}/cgroup.procs`);
  } catch {
    throw new Error(
      `${path} is not a cgroup v2 directory (no cgroup.controllers; cgroup v1 is not supported)`,
    );
  }
  if (info.ino === null) throw new Error(`${path} has no inode number`);
  return { path, id: info.ino };
}

/**
 * The processes (thread group ids) in a cgroup now, from its cgroup.procs.
 * @param path the cgroup directory
 * @returns the PIDs, ascending; empty when none (or when the cgroup is gone)
 */
export function cgroupPids(path: string): number[] {
  let text: string;
  try {
    text = Deno.readTextFileSync(`${path}/cgroup.procs`);
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => /^\d+$/.test(l)).map(Number).sort((a, b) => a - b);
}

/** True while the cgroup directory exists. */
export function cgroupExists(path: string): boolean {
  try {
    return Deno.statSync(`${path}/cgroup.procs`).isFile;
  } catch {
    return false;
  }
}

/** Where a process stands in PID namespaces, when it is not ours. */
export interface PidNamespace {
  /** The namespace's inode (`pid:[4026532...]`). */
  inode: number;
  /** The process's PID in its own (innermost) namespace. */
  pid_in_namespace: number;
}

/**
 * The PID namespace of a process when it differs from ours (a container's
 * process seen by its host PID), or null when it is ours or unreadable.
 * @param pid a host PID
 * @returns the namespace's inode and the PID inside it, or null
 */
export function foreignPidNamespace(pid: number): PidNamespace | null {
  let theirs: string;
  let ours: string;
  try {
    theirs = Deno.readLinkSync(`/proc/${pid}/ns/pid`);
    ours = Deno.readLinkSync("/proc/self/ns/pid");
  } catch {
    return null;
  }
  if (theirs === ours) return null;
  const inode = Number(/\[(\d+)\]/.exec(theirs)?.[1] ?? 0);
  let inner = pid;
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const nspid = /^NSpid:\s+(.+)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number) ?? [];
    inner = nspid[nspid.length - 1] ?? pid;
  } catch {
    // gone meanwhile: keep the host PID
  }
  return { inode, pid_in_namespace: inner };
}

/**
 * The ids of a cgroup and of the cgroups below it now (a container's own
 * sub-cgroups), at most `limit`, the directory's own first.
 * @param path the cgroup directory
 * @param id its id
 * @param limit how many ids at most (a BPF predicate compares each)
 * @returns the ids
 */
export function cgroupTreeIds(path: string, id: number, limit = 64): number[] {
  const ids = [id];
  const walk = (dir: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(dir)];
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory || ids.length >= limit) continue;
      const sub = `${dir}/${e.name}`;
      try {
        ids.push(resolveCgroup(sub).id);
        walk(sub);
      } catch {
        // not a cgroup (or gone)
      }
    }
  };
  walk(path);
  return ids;
}
