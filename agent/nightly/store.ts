/**
 * The run store: a directory with one Run document per file, named by target
 * and time (`fio-3f2a9c1d-20261122T235334Z.json`). Each file is written to a
 * temporary name, synced to disk, then linked into place, so a crash or a full
 * disk never leaves a half file under a run's name, and an existing run is
 * never overwritten. Loading reports every file that is not a readable Run
 * document (corrupt, foreign, or a write a crash left behind) and skips it.
 *
 * A store is read and written as root, and Runs hold command lines and
 * descriptor targets: the directory is 0700 and its files 0600; a store other
 * users can write to is refused; each file is opened with O_NOFOLLOW and read
 * only if it is a regular file of at most {@linkcode MAX_RUN_BYTES} (a link to
 * /etc/shadow or /proc/kcore is skipped, not read); and a reason for skipping
 * a file names what is wrong, never quotes what the file holds.
 * @module
 */

import { type RunDocument, targetId } from "../../schema/mod.ts";
import { TEMP_PREFIX, writeNewFile } from "../mod.ts";
import { ErrnoError, O_NONBLOCK, O_RDONLY, openFile, read } from "../../ffi/mod.ts";

/** The mode of a store directory: Runs hold command lines and descriptor targets. */
export const STORE_DIR_MODE = 0o700;
/** The mode of a Run file (in a store, or `trace --json`) and of the reports made of them. */
export const PRIVATE_FILE_MODE = 0o600;
/**
 * The largest store file read: 64 MiB (a day-long trace's Run is 1.8 MiB of
 * JSON: docs/commands.md, long traces).
 */
export const MAX_RUN_BYTES = 64 << 20;
/** Fail if the last component is a symlink. */
const O_NOFOLLOW = 0o400000;

/** Thrown when a store directory is not safe to use as root. */
export class UnsafeStoreError extends Error {
  override name = "UnsafeStoreError";
}

/** A Run document read from a store. */
export interface StoredRun {
  /** The file's name in the store. */
  file: string;
  /** The file's path. */
  path: string;
  /** The document. */
  run: RunDocument;
}

/** A file of the store that was skipped, and why. */
export interface StoreProblem {
  /** The file's name in the store. */
  file: string;
  /** Why it was skipped, in a few words. */
  reason: string;
}

/** What {@linkcode loadRuns} found. */
export interface LoadedStore {
  /** The Run documents, oldest first (by `meta.started_at`). */
  runs: StoredRun[];
  /** The files skipped. */
  problems: StoreProblem[];
}

/**
 * The file name a run is stored under (before any `-2`, `-3` added when two
 * runs of a target start in the same second): the process name made safe for
 * a file name, the target id, and the start time in UTC.
 * @param run the Run document
 * @returns e.g. `"fio-3f2a9c1d-20261122T235334Z.json"`
 * @example
 * ```ts
 * import { runFileName } from "./store.ts";
 * import type { RunDocument } from "../../schema/mod.ts";
 * const run = { meta: { comm: "../x y", cmdline: "", started_at: "2026-11-22T23:53:34.021Z" } };
 * console.assert(/^x_y-[0-9a-f]{8}-20261122T235334Z\.json$/.test(
 *   runFileName(run as unknown as RunDocument),
 * ));
 * ```
 */
export function runFileName(run: RunDocument): string {
  const slug = run.meta.comm.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[._-]+/, "")
    .slice(0, 40) || "target";
  const t = new Date(run.meta.started_at);
  const time = Number.isNaN(t.getTime())
    ? "unknown-time"
    : t.toISOString().replace(/\.\d+Z$/, "Z").replace(/[-:]/g, "");
  return `${slug}-${targetId(run.meta)}-${time}.json`;
}

/**
 * Keeps a Run document in the store directory (created if missing), as one
 * new file: written to a temporary file, synced, then linked under its name,
 * which never replaces an existing run. Nothing is left under the run's name
 * if the write fails.
 * @param dir the store directory
 * @param run the Run document
 * @returns the path written
 * @throws {Deno.errors.PermissionDenied} and other file-system errors
 */
export async function saveRun(dir: string, run: RunDocument): Promise<string> {
  await Deno.mkdir(dir, { recursive: true, mode: STORE_DIR_MODE });
  checkStoreDir(dir, { tighten: true });
  const name = runFileName(run);
  // A temporary file made with O_EXCL|O_NOFOLLOW, synced, then linked: link()
  // fails when the name exists, so a run is never overwritten.
  return writeNewFile(
    dir,
    (n) => (n === 1 ? name : name.replace(/\.json$/, `-${n}.json`)),
    JSON.stringify(run, null, 2) + "\n",
    { mode: PRIVATE_FILE_MODE },
  );
}

/**
 * Retention: removes the oldest runs of one target beyond `keep`, so a store
 * written every night stays bounded. Only this target's files, by the names
 * {@linkcode saveRun} gives (`<name>-<target id>-<time>[-n].json`), and only
 * regular files, are removed; other files are left alone.
 * @param dir the store directory
 * @param run a run of the target (its file name says which files are the target's)
 * @param keep how many of the newest to keep (>= 1)
 * @returns the names removed, oldest first
 */
export async function pruneRuns(dir: string, run: RunDocument, keep: number): Promise<string[]> {
  if (!(Number.isInteger(keep) && keep >= 1)) throw new RangeError(`Invalid keep ${keep}`);
  const prefix = runFileName(run).replace(/-(\d{8}T\d{6}Z|unknown-time)\.json$/, "-");
  const mine = /^(\d{8}T\d{6}Z)(?:-(\d+))?\.json$/;
  const found: { name: string; time: string; n: number }[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.startsWith(prefix)) continue;
    const m = mine.exec(e.name.slice(prefix.length));
    if (m) found.push({ name: e.name, time: m[1] ?? "", n: Number(m[2] ?? 1) });
  }
  found.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : a.n - b.n));
  const removed: string[] = [];
  for (const f of found.slice(0, Math.max(0, found.length - keep))) {
    await Deno.remove(`${dir.replace(/\/+$/, "") || "/"}/${f.name}`);
    removed.push(f.name);
  }
  return removed;
}

/**
 * Checks that a store directory is safe to read and write as root: a
 * directory no one but its owner can write to (not group- or world-writable),
 * owned by this user or root. With `tighten`, a store of this user's with
 * wider modes (0755 from an older ioscope) is made 0700.
 * @param dir the store directory
 * @param options `tighten`: chmod 0700 a store this user owns
 * @throws {UnsafeStoreError} when others can write to it, or it is someone else's
 * @throws {Deno.errors.NotFound} when it does not exist
 */
export function checkStoreDir(dir: string, options: { tighten?: boolean } = {}): void {
  const info = Deno.statSync(dir);
  if (!info.isDirectory) throw new UnsafeStoreError(`${dir} is not a directory`);
  const mode = (info.mode ?? 0) & 0o7777;
  const uid = Deno.uid();
  if (info.uid !== uid && info.uid !== 0) {
    throw new UnsafeStoreError(
      `the store ${dir} belongs to user ${info.uid}, who could change what ioscope reads: ` +
        "use a store of your own (or root's)",
    );
  }
  if ((mode & 0o022) !== 0) {
    throw new UnsafeStoreError(
      `the store ${dir} can be written by other users (mode ${
        mode.toString(8).padStart(4, "0")
      }): ` +
        `chmod 0700 ${dir}`,
    );
  }
  if (options.tighten && info.uid === uid && (mode & 0o077) !== 0) {
    Deno.chmodSync(dir, STORE_DIR_MODE);
  }
}

/**
 * Reads one store file without following a symlink, and only if it is a
 * regular file of at most `maxBytes`: opened O_NOFOLLOW|O_NONBLOCK (a FIFO
 * does not block), checked through the open descriptor, read to its end.
 * @param path the file
 * @param maxBytes the most it may hold
 * @returns the bytes, or why it was not read (a few words, no contents)
 */
export function readStoreFile(path: string, maxBytes = MAX_RUN_BYTES): Uint8Array | string {
  let fd;
  try {
    fd = openFile(path, { flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK });
  } catch (e: unknown) {
    if (e instanceof ErrnoError && e.code === "ELOOP") return "a symlink (not followed)";
    return `cannot be opened (${e instanceof ErrnoError ? e.code : "error"})`;
  }
  try {
    // The descriptor's own file: /proc/self/fd/N names what was opened.
    const info = Deno.statSync(`/proc/self/fd/${fd.fd}`);
    if (!info.isFile) return "not a regular file";
    if (info.size > maxBytes) return `too large (${info.size} bytes; at most ${maxBytes})`;
    const buf = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const n = read(fd.fd, Deno.UnsafePointer.of(buf.subarray(length)) ?? 0, buf.length - length);
      if (n === 0) break;
      length += n;
      if (length === buf.length) return `too large (it grew past ${buf.length - 1} bytes)`;
    }
    return buf.subarray(0, length);
  } catch (e: unknown) {
    return `cannot be read (${e instanceof ErrnoError ? e.code : "error"})`;
  } finally {
    fd.close();
  }
}

/**
 * Reads every Run document in a store directory (refused when other users
 * can write to it; see {@linkcode checkStoreDir}). Files that are not Run
 * documents (not JSON, another schema, missing fields) and temporary files a
 * crashed write left behind are listed in `problems` and skipped; folders
 * (such as a report written into the store) are ignored.
 * @param dir the store directory
 * @returns the runs, oldest first, and the files skipped
 * @throws {Deno.errors.NotFound} when the directory does not exist
 * @throws {UnsafeStoreError} when others can write to it
 */
export async function loadRuns(dir: string): Promise<LoadedStore> {
  checkStoreDir(dir);
  const runs: StoredRun[] = [];
  const problems: StoreProblem[] = [];
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory) continue;
    names.push(e.name);
  }
  names.sort();
  for (const file of names) {
    const path = `${dir.replace(/\/+$/, "") || "/"}/${file}`;
    if (file.startsWith(TEMP_PREFIX)) {
      problems.push({ file, reason: "an unfinished write (a crash or a full disk left it)" });
      continue;
    }
    if (!file.endsWith(".json")) {
      problems.push({ file, reason: "not a Run document (a foreign file: no .json name)" });
      continue;
    }
    const bytes = readStoreFile(path);
    if (typeof bytes === "string") {
      problems.push({ file, reason: bytes });
      continue;
    }
    // The parser's message quotes the text: only the file is named.
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      problems.push({ file, reason: "corrupt: not valid JSON" });
      continue;
    }
    const reason = runDocumentProblem(value);
    if (reason !== null) {
      problems.push({ file, reason });
      continue;
    }
    runs.push({ file, path, run: value as RunDocument });
  }
  runs.sort((a, b) =>
    Date.parse(a.run.meta.started_at) - Date.parse(b.run.meta.started_at) ||
    (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)
  );
  return { runs, problems };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Why a value is not a Run document the store can use, or null when it is.
 * Checks the schema and the fields trend reports read; other fields may be
 * missing (documents from older versions).
 * @param value a parsed JSON value
 * @returns the reason, or null
 * @example
 * ```ts
 * import { runDocumentProblem } from "./store.ts";
 * console.assert(runDocumentProblem({ schema: "ioscope.bench/1" }) === "not a Run document (another schema)");
 * ```
 */
export function runDocumentProblem(value: unknown): string | null {
  if (!isObject(value)) return "not a Run document (the JSON is not an object)";
  const schema = value.schema;
  if (schema !== "ioscope.run/2" && schema !== "ioscope.run/1") {
    if (typeof schema === "string" && schema.startsWith("ioscope.run/")) {
      return "a Run document of an unsupported version";
    }
    return typeof schema === "string"
      ? "not a Run document (another schema)"
      : "not a Run document (no schema field)";
  }
  const meta = value.meta;
  if (!isObject(meta)) return "corrupt Run document: no meta";
  if (typeof meta.comm !== "string") return "corrupt Run document: meta.comm is not a string";
  if (typeof meta.cmdline !== "string") return "corrupt Run document: meta.cmdline is not a string";
  if (typeof meta.started_at !== "string" || Number.isNaN(Date.parse(meta.started_at))) {
    return "corrupt Run document: meta.started_at is not a time";
  }
  if (typeof meta.duration_s !== "number" || !(meta.duration_s >= 0)) {
    return "corrupt Run document: meta.duration_s is not a number";
  }
  if (!isObject(value.syscalls)) return "corrupt Run document: no syscalls";
  for (const s of Object.values(value.syscalls)) {
    if (!isObject(s) || typeof s.count !== "number" || !Array.isArray(s.buckets)) {
      return "corrupt Run document: a syscall's figures are malformed";
    }
  }
  if (value.io_uring !== undefined && !isObject(value.io_uring)) {
    return "corrupt Run document: io_uring is not an object";
  }
  return null;
}
