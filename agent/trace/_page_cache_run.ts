/**
 * The Run document's `page_cache` from a snapshot: each file's pages added
 * (by its device and inode, as the kernel counted them) named by the path
 * the descriptor view resolved for the same device and inode, with the bytes
 * the traced processes read and wrote through its descriptors.
 * @module
 */

import {
  COPYING_READS,
  COPYING_WRITES,
  PAGE_CACHE_TOP_FILES,
  type PageCacheFile,
  type PageCacheStats,
  type RunDocument,
  type Unsupported,
} from "../../schema/mod.ts";
import type { Snapshot } from "../../probes/mod.ts";
import type { FdInfo } from "./_copy_split.ts";

/**
 * A device number as user space has it (`st_dev`, glibc's encoding) in the
 * kernel's (`s_dev`: major << 20 | minor), as the page-cache records carry it.
 * @param dev `st_dev`
 * @returns `s_dev`
 * @example
 * ```ts
 * import { kernelDev } from "./_page_cache_run.ts";
 * console.assert(kernelDev(0xfe00) === 254 << 20); // 254:0
 * ```
 */
export function kernelDev(dev: number): number {
  const d = BigInt(dev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return Number((major << 20n) | (minor & 0xfffffn));
}

function devText(sDev: number): string {
  return `${sDev >>> 20}:${sDev & 0xfffff}`;
}

/**
 * The kernel's page size, from this process's auxiliary vector (AT_PAGESZ).
 * @returns bytes; 4096 when the vector cannot be read
 */
export function pageSize(): number {
  try {
    const auxv = Deno.readFileSync("/proc/self/auxv");
    const v = new DataView(auxv.buffer, auxv.byteOffset, auxv.byteLength);
    for (let at = 0; at + 16 <= auxv.byteLength; at += 16) {
      if (v.getBigUint64(at, true) === 6n) return Number(v.getBigUint64(at + 8, true)); // AT_PAGESZ
    }
  } catch {
    // no /proc: the common size
  }
  return 4096;
}

/**
 * Why a snapshot has no page-cache counts: the Run's `meta.unsupported` entry.
 * @param backend the backend's name
 * @param snapshot the backend's snapshot
 * @returns the entry, or null when they were counted
 */
export function pageCacheUnsupported(backend: string, snapshot: Snapshot): Unsupported | null {
  if (snapshot.pageCache) return null;
  return {
    metric: "page_cache",
    reason: snapshot.pageCacheUnsupported ??
      `the ${backend} backend does not count pages added to the page cache (bpf only)`,
  };
}

/**
 * The Run's `page_cache`, or null with the reason added to `meta.unsupported`.
 * @param run the Run document (changed in place)
 * @param snapshot the snapshot it was built from
 * @param fds the descriptors resolved while tracing
 * @param size the page size
 */
export function addPageCache(
  run: RunDocument,
  snapshot: Snapshot,
  fds: ReadonlyMap<string, FdInfo>,
  size = pageSize(),
): void {
  const unsupported = pageCacheUnsupported(run.meta.backend, snapshot);
  if (unsupported || !snapshot.pageCache) {
    run.page_cache = null;
    if (unsupported && !run.meta.unsupported.some((u) => u.metric === "page_cache")) {
      run.meta.unsupported.push(unsupported);
    }
    return;
  }
  // Each file the descriptors named: its path and the bytes read and written through them.
  const named = new Map<string, { target: string; read: number; written: number }>();
  for (const [key, t] of snapshot.fds) {
    const info = fds.get(key);
    if (!info?.stat || info.kind !== "file") continue;
    const id = `${kernelDev(info.stat.dev)}:${info.stat.ino}`;
    const f = named.get(id) ?? { target: info.target, read: 0, written: 0 };
    for (const [call, bytes] of t.callBytes) {
      if (COPYING_READS.includes(call)) f.read += bytes;
      if (COPYING_WRITES.includes(call)) f.written += bytes;
    }
    named.set(id, f);
  }
  const all = snapshot.pageCache.files.filter((f) => f.pages > 0).sort((a, b) => b.pages - a.pages);
  const files = all.slice(0, PAGE_CACHE_TOP_FILES).map((f): PageCacheFile => {
    const n = named.get(`${f.dev}:${f.ino}`);
    const bytesAdded = f.pages * size;
    return {
      target: n?.target ?? "",
      dev: devText(f.dev),
      ino: f.ino,
      pages_added: f.pages,
      bytes_added: bytesAdded,
      read_bytes: n ? n.read : null,
      written_bytes: n ? n.written : null,
      hit_ratio: n && n.read > 0 && n.written === 0
        ? Math.round(Math.max(0, 1 - bytesAdded / n.read) * 10_000) / 10_000
        : null,
    };
  });
  const rest = all.slice(PAGE_CACHE_TOP_FILES);
  const stats: PageCacheStats = {
    page_size: size,
    pages_added: all.reduce((t, f) => t + f.pages, snapshot.pageCache.lostPages),
    files,
    other_files: rest.length,
    other_pages: rest.reduce((t, f) => t + f.pages, 0),
    lost_pages: snapshot.pageCache.lostPages,
  };
  run.page_cache = stats;
}
