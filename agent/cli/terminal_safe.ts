/**
 * Text that did not come from ioscope (process names, command lines, paths,
 * file contents quoted in a store problem, a user's argument) made safe for a
 * terminal: no escape sequence, control character or text-direction override
 * reaches it.
 * @module
 */

// C0 controls (ESC, BEL, CR, LF, TAB...), DEL, C1 controls (CSI is U+009B),
// the line and paragraph separators, and the bidirectional overrides and
// isolates that reorder what a terminal shows (Trojan Source).
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Replaces every character a terminal could act on with `?`.
 * @param text untrusted text
 * @returns the text with escape sequences and control characters defused
 * @example
 * ```ts
 * import { terminalSafe } from "./terminal_safe.ts";
 * console.assert(terminalSafe("a\x1b[31mred\x07\n") === "a?[31mred??");
 * ```
 */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, "?");
}

/**
 * True when the text holds nothing `terminalSafe` would replace.
 * @param text the text
 * @returns whether it can be printed as it is
 */
export function isTerminalSafe(text: string): boolean {
  return terminalSafe(text) === text;
}

// The same, less the line feed and the tab: a command's output keeps its lines.
const UNSAFE_IN_LINES =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Like {@linkcode terminalSafe}, for the output of a command relayed to the
 * terminal: line feeds and tabs are kept, a CR before a line feed is dropped,
 * every other character a terminal could act on becomes `?`.
 * @param text untrusted text
 * @returns the text with its lines, without escape sequences
 * @example
 * ```ts
 * import { linesSafe } from "./terminal_safe.ts";
 * console.assert(linesSafe("a\tb\r\n\x1b]0;x\x07\n") === "a\tb\n?]0;x?\n");
 * ```
 */
export function linesSafe(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(UNSAFE_IN_LINES, "?");
}

// What JSON.stringify leaves raw that a terminal could act on: DEL, the C1
// controls, and the separators and direction marks above (C0 it escapes).
const JSON_RAW_UNSAFE = /[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text (from `JSON.stringify`) made safe for a terminal without changing
 * its value: each character a terminal could act on, which can only be inside
 * a string, is written as a `\uXXXX` escape.
 * @param json the output of `JSON.stringify`
 * @returns the same JSON value, as text a terminal only shows
 * @example
 * ```ts
 * import { jsonTerminalSafe } from "./terminal_safe.ts";
 * const text = jsonTerminalSafe(JSON.stringify({ comm: "a\u009b2J" }));
 * console.assert(text === '{"comm":"a\\u009b2J"}');
 * console.assert(JSON.parse(text).comm === "a\u009b2J");
 * ```
 */
export function jsonTerminalSafe(json: string): string {
  return json.replace(
    JSON_RAW_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
