/**
 * The one tracefs module: where tracefs is, mounting it when the host has not
 * (Debian does not mount it by default outside debugfs), which tracepoints
 * exist, and reading its files (event formats, header page, sizes). Every
 * backend reads tracefs through here; ftrace_instance.ts builds instances on it.
 * @module
 */

import { exists } from "../mod.ts";

/** The tracefs mount point the agent uses. */
export const TRACEFS = "/sys/kernel/tracing";

/** True when this process mounted tracefs, so it unmounts it when done. */
let weMounted = false;

/**
 * Makes sure tracefs is mounted at /sys/kernel/tracing, mounting it if needed.
 * @returns null when tracefs is usable, else the reason it is not
 */
export function ensureTracefs(): string | null {
  if (exists(`${TRACEFS}/events`)) return null;
  if (!exists(TRACEFS)) {
    return `${TRACEFS} does not exist: the kernel has no tracefs (CONFIG_TRACING)`;
  }
  try {
    const out = new Deno.Command("mount", {
      args: ["-t", "tracefs", "nodev", TRACEFS],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      return `tracefs is not mounted and mounting it failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`;
    }
  } catch (e: unknown) {
    return `tracefs is not mounted and mount could not run: ${e instanceof Error ? e.message : e}`;
  }
  weMounted = true;
  return exists(`${TRACEFS}/events`) ? null : `tracefs mounted but ${TRACEFS}/events is missing`;
}

/**
 * Unmounts tracefs if {@linkcode ensureTracefs} mounted it, leaving the host
 * as it was found. A mount still in use (another tracer) stays.
 */
export function releaseTracefs(): void {
  if (!weMounted) return;
  weMounted = false;
  try {
    new Deno.Command("umount", { args: [TRACEFS], stdout: "null", stderr: "null" }).outputSync();
  } catch {
    // leave it mounted
  }
}

/** True when the tracepoint `group:name` exists. */
export function hasTracepoint(group: string, name: string): boolean {
  return exists(`${TRACEFS}/events/${group}/${name}`);
}

/**
 * Reads a tracefs (or procfs) file to its end. Some tracefs files return
 * their text in several short reads, and Deno.readTextFileSync stops after
 * the first of those (events/header_page reads as 32 of its 205 bytes).
 * @param path the file
 * @returns its whole text
 */
export function readTracefsText(path: string): string {
  using f = Deno.openSync(path);
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = f.readSync(buf);
    if (n === null || n === 0) break;
    chunks.push(buf.slice(0, n));
  }
  const all = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

/**
 * The format file of the tracepoint `group:name` (field names, offsets, sizes).
 * @param group the event group (`syscalls`, `sched`)
 * @param name the event (`sys_enter_read`)
 * @returns the text of `events/GROUP/NAME/format`
 * @throws when the tracepoint does not exist
 */
export function eventFormat(group: string, name: string): string {
  return readTracefsText(`${TRACEFS}/events/${group}/${name}/format`);
}
