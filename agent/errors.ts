/**
 * Errors the CLI turns into one line on stderr: a UsageError exits 2 (bad
 * input: usage, unknown target, invalid value), anything else exits 1.
 * @module
 */

/** Bad input from the user: exit status 2, one line, no stack trace. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure while running (a backend died, a file could not be written): exit 1. */
export class RunError extends Error {
  override name = "RunError";
}
