/**
 * The run store: a directory with one Run document per file, named by target
 * and time (`fio-3f2a9c1d-20261122T235334Z.json`). Each file is written to a
 * temporary name, synced to disk, then linked into place, so a crash or a full
 * disk never leaves a half file under a run's name, and an existing run is
 * never overwritten. Loading reports every file that is not a readable Run
 * document (corrupt, foreign, or a write a crash left behind) and skips it.
 * @module
 */

import { type RunDocument, targetId } from "../../schema/mod.ts";
import { TEMP_PREFIX, writeNewFile } from "../atomic_write.ts";

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
  await Deno.mkdir(dir, { recursive: true });
  const name = runFileName(run);
  // A temporary file made with O_EXCL|O_NOFOLLOW, synced, then linked: link()
  // fails when the name exists, so a run is never overwritten.
  return writeNewFile(
    dir,
    (n) => (n === 1 ? name : name.replace(/\.json$/, `-${n}.json`)),
    JSON.stringify(run, null, 2) + "\n",
  );
}

/**
 * Reads every Run document in a store directory. Files that are not Run
 * documents (not JSON, another schema, missing fields) and temporary files a
 * crashed write left behind are listed in `problems` and skipped; folders
 * (such as a report written into the store) are ignored.
 * @param dir the store directory
 * @returns the runs, oldest first, and the files skipped
 * @throws {Deno.errors.NotFound} when the directory does not exist
 */
export async function loadRuns(dir: string): Promise<LoadedStore> {
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
    let text: string;
    try {
      const info = await Deno.stat(path);
      if (!info.isFile) {
        problems.push({ file, reason: "not a regular file" });
        continue;
      }
      text = await Deno.readTextFile(path);
    } catch (e: unknown) {
      problems.push({ file, reason: `cannot be read (${e instanceof Error ? e.message : e})` });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e: unknown) {
      const why = e instanceof Error ? e.message : String(e);
      problems.push({ file, reason: `corrupt: not valid JSON (${why.slice(0, 80)})` });
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
 * console.assert(runDocumentProblem({ schema: "ioscope.bench/1" })?.includes("bench") === true);
 * ```
 */
export function runDocumentProblem(value: unknown): string | null {
  if (!isObject(value)) return "not a Run document (the JSON is not an object)";
  const schema = value.schema;
  if (schema !== "ioscope.run/1") {
    if (typeof schema === "string" && schema.startsWith("ioscope.run/")) {
      return `a Run document of an unsupported version (${schema.slice(0, 40)})`;
    }
    return typeof schema === "string"
      ? `not a Run document (schema ${JSON.stringify(schema.slice(0, 40))})`
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
  for (const [name, s] of Object.entries(value.syscalls)) {
    if (!isObject(s) || typeof s.count !== "number" || !Array.isArray(s.buckets)) {
      return `corrupt Run document: syscalls.${name.slice(0, 30)} is malformed`;
    }
  }
  if (value.io_uring !== undefined && !isObject(value.io_uring)) {
    return "corrupt Run document: io_uring is not an object";
  }
  return null;
}
