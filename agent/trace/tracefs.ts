/**
 * Where tracefs is, and mounting it when the host has not (Debian does not
 * mount it by default outside debugfs).
 * @module
 */

/** The tracefs mount point the agent uses. */
export const TRACEFS = "/sys/kernel/tracing";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

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
