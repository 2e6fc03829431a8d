/**
 * The chart.js browser build (`dist/chart.umd.js`), read once from the npm
 * package that deno.json pins, to be inlined into reports. Deno keeps npm
 * packages in its cache (`$DENO_DIR/npm/<registry>/chart.js/<version>/`), or
 * in `node_modules/` when the project uses one; both are tried. Nothing is
 * read until a report needs it: {@linkcode chartJsSource} reads it once, on
 * first use; {@linkcode loadChartJs}, which the CLI awaits before it renders,
 * also makes Deno fetch the package when this machine has never had it.
 * @module
 */

/** The version used when the import map cannot tell (the one deno.json pins). */
const PINNED_VERSION = "4.4.9";

/** The chart.js version reports inline, from the import map (`chart.js` -> `npm:chart.js@X`). */
export const CHART_JS_VERSION: string = mappedVersion();

function mappedVersion(): string {
  try {
    const m = /^npm:\/?chart\.js@(\d+\.\d+\.\d+)/.exec(import.meta.resolve("chart.js"));
    if (m?.[1]) return m[1];
  } catch {
    // no import map entry: use the pinned version
  }
  return PINNED_VERSION;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

function candidates(version: string): string[] {
  const roots: string[] = [];
  const denoDir = env("DENO_DIR");
  if (denoDir) roots.push(denoDir);
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) roots.push(`${xdg}/deno`);
  const home = env("HOME");
  if (home) roots.push(`${home}/.cache/deno`, `${home}/Library/Caches/deno`);
  const registries = ["registry.npmjs.org"];
  const custom = env("NPM_CONFIG_REGISTRY");
  if (custom) {
    try {
      registries.unshift(new URL(custom).host);
    } catch {
      // not a URL: ignore
    }
  }
  const paths: string[] = [];
  if (import.meta.url.startsWith("file:")) {
    paths.push(new URL("../node_modules/chart.js/dist/chart.umd.js", import.meta.url).pathname);
  }
  for (const root of roots) {
    for (const reg of registries) {
      paths.push(`${root}/npm/${reg}/chart.js/${version}/dist/chart.umd.js`);
    }
  }
  return paths;
}

function readFirst(paths: string[], version: string): string | null {
  for (const p of paths) {
    let text: string;
    try {
      text = Deno.readTextFileSync(p);
    } catch {
      continue;
    }
    if (text.slice(0, 200).includes(`Chart.js v${version}`)) return text;
  }
  return null;
}

let loaded: string | null = null;

function readSource(): string | null {
  loaded ??= readFirst(candidates(CHART_JS_VERSION), CHART_JS_VERSION);
  return loaded;
}

/**
 * Makes sure chart.js is at hand before a report is rendered: read from
 * Deno's npm cache, or, on a machine that has never had the package,
 * fetched by importing it, then read.
 * @returns the text of `chart.umd.js`
 * @throws {Error} when the package is not in Deno's cache and could not be fetched
 */
export async function loadChartJs(): Promise<string> {
  if (readSource() === null) {
    try {
      await import("chart.js");
    } catch {
      // offline or not mapped: chartJsSource says so below
    }
    loaded = readFirst(candidates(CHART_JS_VERSION), CHART_JS_VERSION);
  }
  return chartJsSource();
}

/**
 * The chart.js browser build's source text, to inline in a report.
 * @returns the text of `chart.umd.js`
 * @throws {Error} when the package is not in Deno's cache and could not be fetched
 * @example
 * ```ts
 * import { chartJsSource } from "./chartjs.ts";
 * console.assert(chartJsSource().includes("Chart.js v"));
 * ```
 */
export function chartJsSource(): string {
  if (readSource() === null) {
    throw new Error(
      `Cannot inline chart.js ${CHART_JS_VERSION}: dist/chart.umd.js is not in Deno's npm cache ` +
        `(tried ${candidates(CHART_JS_VERSION).join(", ")}); run 'deno install' in the ` +
        "ioscope directory while online",
    );
  }
  return loaded as string;
}
