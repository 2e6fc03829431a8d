/**
 * The safe core of every report page: escaping untrusted text, embedding JSON
 * that cannot end its script element, and a page shell whose
 * Content-Security-Policy allows only the page's own inline scripts and style
 * (by SHA-256 hash) and nothing from anywhere else.
 * @module
 */

import { sha256 } from "../schema/mod.ts";

/**
 * Escapes text for HTML element content and for quoted attribute values.
 * @param text any value; it is turned into a string first
 * @returns the text with `& < > " '` as character references
 * @example
 * ```ts
 * import { escapeHtml } from "./html.ts";
 * console.assert(escapeHtml(`<svg onload="x">`) === "&lt;svg onload=&quot;x&quot;&gt;");
 * ```
 */
export function escapeHtml(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * JSON for a `<script type="application/json">` element: `<`, `>` and `&` are
 * written as `\u003c`, `\u003e`, `\u0026` (and U+2028/U+2029 escaped), so no
 * string inside can end the element or open a comment, and `JSON.parse` of the
 * element's text gives the value back unchanged.
 * @param value a JSON-serialisable value
 * @returns JSON text safe inside a script element
 * @example
 * ```ts
 * import { jsonForScript } from "./html.ts";
 * const text = jsonForScript({ cmd: "</script><script>alert(1)</script>" });
 * console.assert(!text.includes("<"));
 * console.assert(JSON.parse(text).cmd === "</script><script>alert(1)</script>");
 * ```
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value ?? null).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * The CSP source expression for an inline script or style element's text.
 * @param text the exact text between the tags
 * @returns `'sha256-<base64>'`
 * @example
 * ```ts
 * import { cspHash } from "./html.ts";
 * console.assert(cspHash("") === "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='");
 * ```
 */
export function cspHash(text: string): string {
  return `'sha256-${btoa(String.fromCharCode(...sha256(new TextEncoder().encode(text))))}'`;
}

const SAFE: unique symbol = Symbol("ioscope.html");

/** Markup that is safe to insert as is: made only by {@linkcode markup}. */
export interface Html {
  readonly [SAFE]: true;
  /** The markup. */
  readonly value: string;
}

function trusted(value: string): Html {
  return { [SAFE]: true, value };
}

function isHtml(v: unknown): v is Html {
  return typeof v === "object" && v !== null && (v as Partial<Html>)[SAFE] === true;
}

function interpolate(v: unknown): string {
  if (v === null || v === undefined || v === false) return "";
  if (isHtml(v)) return v.value;
  if (Array.isArray(v)) return v.map(interpolate).join("");
  return escapeHtml(v);
}

/**
 * A template tag for markup: every interpolated value is escaped, except
 * {@linkcode Html} made by this tag (so fragments nest) and arrays of either.
 * `null`, `undefined` and `false` insert nothing. Interpolate only into element
 * content and quoted attribute values.
 * @param strings the template's literal parts (trusted: written in our code)
 * @param values the interpolated values (untrusted)
 * @returns the markup
 * @example
 * ```ts
 * import { markup } from "./html.ts";
 * const name = "<img src=x onerror=alert(1)>";
 * const row = markup`<td title="${name}">${name}</td>`;
 * console.assert(!row.value.includes("<img"));
 * console.assert(markup`<tr>${[row, row]}</tr>`.value.startsWith("<tr><td"));
 * ```
 */
export function markup(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? "";
  for (let i = 0; i < values.length; i++) out += interpolate(values[i]) + (strings[i + 1] ?? "");
  return trusted(out);
}

/** What a page is made of. */
export interface PageParts {
  /** The document title (plain text; escaped here). */
  title: string;
  /** The body's markup, made with {@linkcode markup}. */
  body: Html;
  /** The stylesheet. */
  css: string;
  /** Data for the page's scripts, embedded as `<script type="application/json" id="ioscope-data">`. */
  data: unknown;
  /** Inline scripts, in order (e.g. chart.js, then the page's own code). */
  scripts: string[];
}

/**
 * A complete HTML document with a strict Content-Security-Policy: nothing may
 * load from anywhere (`default-src 'none'`), and only the given scripts and
 * stylesheet run, each allowed by its hash. The JSON data block is inert.
 * @param parts the page's parts
 * @returns the HTML document
 * @throws {TypeError} when a script or the stylesheet contains a sequence that
 *   would end or confuse its element (`</script`, `<!--`, `</style`)
 * @example
 * ```ts
 * import { htmlPage, markup } from "./html.ts";
 * const page = htmlPage({ title: "t", body: markup`<p>hi</p>`, css: "p{}", data: {}, scripts: ["1"] });
 * console.assert(page.includes("Content-Security-Policy"));
 * ```
 */
export function htmlPage(parts: PageParts): string {
  for (const s of parts.scripts) {
    if (/<\/script|<!--|<script/i.test(s)) {
      throw new TypeError("An inline script contains '</script', '<script' or '<!--'");
    }
  }
  if (/<\/style|<!--/i.test(parts.css)) {
    throw new TypeError("The stylesheet contains '</style' or '<!--'");
  }
  const csp = [
    "default-src 'none'",
    `script-src ${parts.scripts.map(cspHash).join(" ")}`,
    `style-src ${cspHash(parts.css)}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(parts.title)}</title>`,
    `<style>${parts.css}</style>`,
    "</head>",
    "<body>",
    parts.body.value,
    `<script type="application/json" id="ioscope-data">${jsonForScript(parts.data)}</script>`,
    ...parts.scripts.map((s) => `<script>${s}</script>`),
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
