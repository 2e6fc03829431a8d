/**
 * The chart.js browser build (`dist/chart.umd.js` of `npm:chart.js@4.4.9`),
 * to be inlined into reports. It is vendored beside this file
 * (`report/vendor/chart.umd.js`, with its licence) and pinned by its SHA-256:
 * the bytes read are refused unless they hash to {@linkcode CHART_JS_SHA256},
 * and nothing else is ever read or imported. A report is rendered as root on
 * production hosts, so no cache another user can write to (`$DENO_DIR`,
 * `$XDG_CACHE_HOME`, `$HOME` under `sudo -E`) can put JavaScript in it, and a
 * fresh checkout or an install (which copies `report/`) needs no network and
 * no cache. The page's CSP hash is of these same bytes.
 * @module
 */

import { sha256 } from "../schema/mod.ts";

/** The chart.js version reports inline (deno.json maps `chart.js` to the same; a test checks). */
export const CHART_JS_VERSION = "4.4.9";

/** SHA-256 of `dist/chart.umd.js` of `npm:chart.js@4.4.9`, as the npm tarball holds it. */
export const CHART_JS_SHA256 = "de315773454b6076b63990bfa05ce5155a37f71992c87d7bb5f9a2ea698697ef";

/** Where the vendored copy is: beside this module, in the checkout or the install. */
export const CHART_JS_URL: URL = new URL("./vendor/chart.umd.js", import.meta.url);

/** The most a chart.umd.js may be: the pinned one is 206,670 bytes. */
const MAX_BYTES = 4 << 20;

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The chart.js text in `bytes` if they are the pinned file, else why not.
 * @param bytes what was read
 * @returns the text, or an Error that says what is wrong
 */
export function verifyChartJs(bytes: Uint8Array): string | Error {
  const digest = hex(sha256(bytes));
  if (digest !== CHART_JS_SHA256) {
    return new Error(
      `its SHA-256 is ${digest}, not the pinned ${CHART_JS_SHA256} of chart.js ${CHART_JS_VERSION}`,
    );
  }
  // Valid UTF-8 by the hash; decoded strictly so the CSP hash (of the text
  // encoded again) is of exactly these bytes.
  return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
}

let loaded: string | null = null;

function readPinned(): string {
  if (CHART_JS_URL.protocol !== "file:") {
    throw new Error(
      `Cannot inline chart.js ${CHART_JS_VERSION}: ioscope runs from ${CHART_JS_URL.origin}, ` +
        "and the vendored chart.umd.js is read from a local checkout or install only",
    );
  }
  const path = decodeURIComponent(CHART_JS_URL.pathname);
  let bytes: Uint8Array;
  try {
    const info = Deno.lstatSync(path);
    if (!info.isFile || info.size > MAX_BYTES) throw new Error("not a regular file of its size");
    bytes = Deno.readFileSync(path);
  } catch (e: unknown) {
    throw new Error(
      `Cannot inline chart.js ${CHART_JS_VERSION}: cannot read ${path} ` +
        `(${e instanceof Error ? e.message : e}); the checkout or install is incomplete`,
    );
  }
  const text = verifyChartJs(bytes);
  if (text instanceof Error) {
    throw new Error(`Refusing to inline ${path}: ${text.message}`);
  }
  return text;
}

/**
 * The chart.js source before a report is rendered (kept for callers that
 * await it first: the same as {@linkcode chartJsSource}, which never fetches).
 * @returns the text of `chart.umd.js`
 * @throws {Error} when the vendored file is missing or is not the pinned one
 */
export function loadChartJs(): Promise<string> {
  try {
    return Promise.resolve(chartJsSource());
  } catch (e: unknown) {
    return Promise.reject(e);
  }
}

/**
 * The chart.js browser build's source text, to inline in a report: the
 * vendored file, read once and checked against its pinned SHA-256.
 * @returns the text of `chart.umd.js`
 * @throws {Error} when the vendored file is missing or is not the pinned one
 * @example
 * ```ts
 * import { chartJsSource } from "./chartjs.ts";
 * console.assert(chartJsSource().includes("Chart.js v4.4.9"));
 * ```
 */
export function chartJsSource(): string {
  loaded ??= readPinned();
  return loaded;
}
