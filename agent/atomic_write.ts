/**
 * Writing files as root in directories other users may share: every output
 * goes through a new temporary file in the target's directory, created with
 * O_CREAT|O_EXCL|O_NOFOLLOW (a name that exists, a planted symlink included,
 * is never opened: another random name is tried), written, fsync'd, then
 * renamed over the target (or linked, where a file must never be replaced),
 * and the directory synced. A failed write leaves no temporary file and never
 * a half-written target.
 *
 * Only a regular file (or a symlink to one, or nothing) is ever replaced.
 * An output that is a character device or a FIFO (`/dev/null`, `/dev/stdout`,
 * bash's `>(cmd)`), or a symlink to one, is written through, never replaced,
 * and only when what sits at that name belongs to root or to this user (a FIFO
 * another user planted is refused); anything else (a block device, a socket,
 * a symlink to a directory) is refused. Nothing is created or replaced under
 * /dev (but /dev/shm), /proc or /sys.
 * @module
 */

import {
  ErrnoError,
  libc,
  O_CREAT,
  O_NONBLOCK,
  O_WRONLY,
  openFile,
  unwrap,
  writeAll,
} from "../ffi/mod.ts";

/** Fail if the name exists, whatever it is (a symlink is not followed). */
const O_EXCL = 0o200;
/** Fail if the last component is a symlink. */
const O_NOFOLLOW = 0o400000;

/** Do not make a terminal the controlling terminal when opening it. */
const O_NOCTTY = 0o400;
/** fcntl(2): get and set the file status flags. */
const F_GETFL = 3;
const F_SETFL = 4;

/**
 * Where a file is never created or replaced: devices and the kernel's own
 * file systems. /dev/shm, a tmpfs for everyone's files, is not one of them.
 */
const KERNEL_TREES = ["/dev", "/proc", "/sys"];
const SHARED_MEMORY = "/dev/shm";

/** An output ioscope will not write, with the reason: `writeErrorReason` gives the message. */
export class OutputRefused extends Error {
  /** @param message why, in a few words */
  constructor(message: string) {
    super(message);
    this.name = "OutputRefused";
  }
}

/**
 * How an output path is written: `replace` (a new file renamed into place:
 * nothing there yet, a regular file, or a symlink to one or to nothing) or
 * `through` (opened and written, never replaced: a character device or a
 * FIFO, directly or through a symlink, owned by root or by this user).
 * @param path the output
 * @returns how to write it
 * @throws {OutputRefused} for anything else, and for a file to create or
 *   replace under /dev, /proc or /sys
 * @example
 * ```ts
 * import { outputKind } from "./atomic_write.ts";
 * console.assert(outputKind("/dev/null") === "through");
 * console.assert(outputKind(`${Deno.makeTempDirSync()}/run.json`) === "replace");
 * ```
 */
export function outputKind(path: string): "replace" | "through" {
  let entry: Deno.FileInfo | null = null;
  try {
    entry = Deno.lstatSync(path);
  } catch (e: unknown) {
    // Nothing there (or no directory: the write says so).
    if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory)) throw e;
  }
  let target = entry;
  if (entry?.isSymlink) {
    try {
      target = Deno.statSync(path);
    } catch {
      target = null; // dangling: the link is replaced, as a file would be
    }
  }
  const special = target !== null && !target.isFile;
  if (!special) {
    const where = kernelTree(dirOf(path));
    if (where) throw new OutputRefused(`ioscope creates and replaces no file under ${where}`);
    return "replace";
  }
  if (target?.isDirectory) throw new OutputRefused("it is a directory; give a file path");
  if (!target?.isCharDevice && !target?.isFifo) {
    const what = target?.isBlockDevice ? "a block device" : "not a regular file";
    throw new OutputRefused(`it is ${what}, and ioscope replaces only regular files`);
  }
  const owner = entry?.uid ?? -1;
  if (owner !== 0 && owner !== Deno.uid()) {
    throw new OutputRefused(
      `it is a ${entry?.isSymlink ? "symlink to a " : ""}${
        target.isFifo ? "FIFO" : "device"
      } that uid ${owner} owns: write to a file of your own`,
    );
  }
  return "through";
}

/** The kernel tree (/dev, /proc, /sys) a directory lies in, symlinks resolved, or null. */
function kernelTree(dir: string): string | null {
  let real = dir;
  try {
    real = Deno.realPathSync(dir);
  } catch {
    // missing: the write fails on its own
  }
  const under = (t: string) => real === t || real.startsWith(`${t}/`);
  if (under(SHARED_MEMORY)) return null;
  return KERNEL_TREES.find(under) ?? null;
}

/**
 * Writes `data` through an existing character device or FIFO (following a
 * symlink to it), without creating, truncating or replacing anything. A FIFO
 * nobody reads is an error (ENXIO), not a wait forever.
 */
function writeThrough(path: string, bytes: Uint8Array): void {
  const fd = openFile(path, { flags: O_WRONLY | O_NOCTTY | O_NONBLOCK });
  try {
    // What was opened, not what the name points to now.
    const opened = Deno.statSync(`/proc/self/fd/${fd.fd}`);
    if (!opened.isCharDevice && !opened.isFifo) {
      throw new OutputRefused("it changed into a regular file while being opened");
    }
    const flags = unwrap(libc().fcntl(fd.fd, F_GETFL, 0), "fcntl(F_GETFL)", path);
    unwrap(libc().fcntl(fd.fd, F_SETFL, flags & ~O_NONBLOCK), "fcntl(F_SETFL)", path);
    if (bytes.length > 0) writeAll(fd.fd, Deno.UnsafePointer.of(bytes) ?? 0, bytes.length);
  } finally {
    fd.close();
  }
}

/** The prefix of every temporary file (the run store reports such files as unfinished writes). */
export const TEMP_PREFIX = ".ioscope-";

/** Options of the writers. */
export interface AtomicWriteOptions {
  /** Permission bits of the new file (less the umask). @default 0o644 */
  mode?: number;
  /** Makes a temporary file's name; tests plant symlinks where it points. @default random */
  tempName?: () => string;
}

/** A random temporary file name: `.ioscope-<16 hex digits>.tmp`. */
function randomTempName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${TEMP_PREFIX}${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}.tmp`;
}

/**
 * The directory part of a path: "." for a bare name, "/" for a file at the root.
 * @param path a file path
 * @returns its directory
 */
export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i > 0 ? path.slice(0, i) : i === 0 ? "/" : ".";
}

/**
 * Writes `data` to a new temporary file in `dir`, fsync'd and closed. The
 * file is created with O_EXCL|O_NOFOLLOW: if the name exists (a file, a
 * symlink planted there) another name is tried, and nothing it points to is
 * ever opened.
 * @param dir the directory (the target's, so a rename stays in one file system)
 * @param data the contents
 * @param options mode and temporary names
 * @returns the temporary file's path; the caller renames or links it, then removes it
 * @throws {ErrnoError} what open, write or fsync failed with (ENOSPC, EACCES, EROFS...)
 */
export function writeTempFile(
  dir: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): string {
  const { mode = 0o644, tempName = randomTempName } = options;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  for (let attempt = 0;; attempt++) {
    const path = `${dir.replace(/\/+$/, "") || "/"}/${tempName()}`;
    let fd;
    try {
      fd = openFile(path, { flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode });
    } catch (e: unknown) {
      if (e instanceof ErrnoError && e.code === "EEXIST" && attempt < 16) continue;
      throw e;
    }
    try {
      if (bytes.length > 0) writeAll(fd.fd, Deno.UnsafePointer.of(bytes) ?? 0, bytes.length);
      unwrap(libc().fsync(fd.fd), "fsync", path);
      fd.close();
      return path;
    } catch (e: unknown) {
      try {
        fd.close();
      } catch {
        // the write's error is the one to report
      }
      removeQuietly(path);
      throw e;
    }
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // already gone
  }
}

/**
 * Syncs a directory, so a rename or link in it survives a crash. File
 * systems that cannot sync a directory are left as they are.
 * @param dir the directory
 */
export function syncDir(dir: string): void {
  try {
    const d = Deno.openSync(dir, { read: true });
    try {
      d.syncSync();
    } finally {
      d.close();
    }
  } catch {
    // the file itself was synced
  }
}

/**
 * Writes a file atomically: a new temporary file beside it (see
 * {@linkcode writeTempFile}), renamed over `path`. A symlink at `path` is
 * replaced, not followed, unless it leads to a device or FIFO: that, like a
 * device or FIFO named directly, is written through, never replaced (see
 * {@linkcode outputKind}). On failure nothing is left but what was there.
 * @param path the file to write
 * @param data the contents
 * @param options mode and temporary names
 * @throws {ErrnoError} or a Deno error from rename; see {@linkcode writeErrorReason}
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic_write.ts";
 * const dir = Deno.makeTempDirSync();
 * await writeFileAtomic(`${dir}/a.json`, "{}\n");
 * console.assert(Deno.readTextFileSync(`${dir}/a.json`) === "{}\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  try {
    writeFileAtomicSync(path, data, options);
    return Promise.resolve();
  } catch (e: unknown) {
    return Promise.reject(e);
  }
}

/** The synchronous form of {@linkcode writeFileAtomic}. */
export function writeFileAtomicSync(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): void {
  if (outputKind(path) === "through") {
    writeThrough(path, typeof data === "string" ? new TextEncoder().encode(data) : data);
    return;
  }
  const dir = dirOf(path);
  const tmp = writeTempFile(dir, data, options);
  try {
    Deno.renameSync(tmp, path);
  } catch (e: unknown) {
    removeQuietly(tmp);
    throw e;
  }
  syncDir(dir);
}

/**
 * Writes a new file under the first free name `names(1)`, `names(2)`, ...:
 * a temporary file linked into place (link(2) never replaces a name), so an
 * existing file is never overwritten.
 * @param dir the directory
 * @param names the name to try for attempt n (1, 2, ...), at most 1000 tries
 * @param data the contents
 * @param options mode and temporary names
 * @returns the path written
 */
export function writeNewFile(
  dir: string,
  names: (n: number) => string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): string {
  const tmp = writeTempFile(dir, data, options);
  try {
    for (let n = 1;; n++) {
      const path = `${dir.replace(/\/+$/, "") || "/"}/${names(n)}`;
      try {
        Deno.linkSync(tmp, path);
        syncDir(dir);
        return path;
      } catch (e: unknown) {
        if (!(e instanceof Deno.errors.AlreadyExists) || n >= 1000) throw e;
      }
    }
  } finally {
    removeQuietly(tmp);
  }
}

const REASONS: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOENT: "the directory does not exist",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "it is a directory",
  EIO: "input/output error",
  EXDEV: "the temporary file is on another file system",
  ENAMETOOLONG: "the name is too long",
  EEXIST: "temporary names kept existing (a planted file?)",
  ELOOP: "a symlink where a file was expected",
  ENXIO: "a FIFO that nobody reads",
};

/**
 * Why a write failed, in a few words with the errno name:
 * `no space left on device (ENOSPC)`.
 * @param e what a writer threw
 * @returns the reason
 */
export function writeErrorReason(e: unknown): string {
  const raw = e instanceof ErrnoError ? e.code : (e as { code?: unknown } | null)?.code;
  const code = typeof raw === "string" ? raw : "";
  if (code && REASONS[code]) return `${REASONS[code]} (${code})`;
  const message = e instanceof Error ? e.message : String(e);
  return (code ? `${message.replace(/ \(os error \d+\).*$/, "")} (${code})` : message)
    .split("\n")[0] ?? "";
}
