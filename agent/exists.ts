/**
 * The one "is there something at this path" of the project (agent, CI
 * scripts and tests).
 * @module
 */

/**
 * Whether a path exists: stat(2) finds it (a link is followed; a dangling one
 * does not exist). Any error, a permission one included, reads as absent.
 * @param path the path
 * @returns true when stat(2) finds it
 * @example
 * ```ts
 * import { exists } from "./exists.ts";
 * console.assert(exists("/") && !exists("/no/such/path"));
 * ```
 */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
