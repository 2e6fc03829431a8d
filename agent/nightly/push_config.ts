/**
 * The push options checked before a trace starts: a receiver's URL and the
 * credentials file of `--remote-write-auth`. Apart from push.ts so that
 * checking them loads no npm package (the encoders are loaded only to push).
 * @module
 */

import { UsageError } from "../mod.ts";

/**
 * Checks a receiver URL given on the command line.
 * @param value the URL
 * @param flag the flag, for the message
 * @returns the URL
 * @throws {UsageError} not http(s), malformed, or with credentials in it
 * @example
 * ```ts
 * import { parsePushUrl } from "./push_config.ts";
 * console.assert(parsePushUrl("http://127.0.0.1:9090/api/v1/write", "--remote-write").port === "9090");
 * ```
 */
export function parsePushUrl(value: string, flag: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(
      `invalid ${flag} '${value}': give a URL, e.g. http://127.0.0.1:9090/api/v1/write`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`invalid ${flag}: the URL must be http:// or https://`);
  }
  if (url.username || url.password) {
    throw new UsageError(
      `invalid ${flag}: no credentials in the URL (they would show in ps); ` +
        "put them in a file given with --remote-write-auth FILE",
    );
  }
  return url;
}

/**
 * Reads `--remote-write-auth FILE`: one line, `bearer TOKEN` or `basic
 * USER:PASSWORD`. The file must be readable and no one's but its owner's
 * (no group or other permission bits).
 * @param path the file
 * @returns the Authorization header's value
 * @throws {UsageError} unreadable, group/world accessible, or not one of the two forms
 */
export function readAuthFile(path: string): string {
  let text: string;
  let mode: number | null;
  try {
    mode = Deno.statSync(path).mode;
    text = Deno.readTextFileSync(path);
  } catch (e: unknown) {
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new UsageError(`cannot read --remote-write-auth ${path}: ${why}`);
  }
  if (mode !== null && (mode & 0o077) !== 0) {
    throw new UsageError(
      `--remote-write-auth ${path} is readable by others (mode ${
        (mode & 0o777).toString(8)
      }): chmod 600 it`,
    );
  }
  const line = text.split("\n").map((l) => l.trim()).find((l) => l !== "") ?? "";
  const m = /^(bearer|basic)\s+(\S+)$/i.exec(line);
  // deno-lint-ignore no-control-regex
  if (!m || /[\x00-\x1f\x7f]/.test(line)) {
    throw new UsageError(
      `--remote-write-auth ${path}: write one line, 'bearer TOKEN' or 'basic USER:PASSWORD'`,
    );
  }
  const secret = m[2] ?? "";
  if (m[1]?.toLowerCase() === "bearer") return `Bearer ${secret}`;
  if (!secret.includes(":")) {
    throw new UsageError(`--remote-write-auth ${path}: basic needs USER:PASSWORD`);
  }
  const bytes = new TextEncoder().encode(secret);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}
