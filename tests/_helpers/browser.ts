/**
 * Opens report pages in Debian's headless Chromium through playwright-core
 * (never a downloaded browser), and records what a page did: console errors,
 * uncaught errors, dialogs, CSP violations and every request other than the
 * page's own file. Requests leaving the page are also aborted.
 * @module
 */

import { type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** What a page did while it was open. */
export interface PageLog {
  consoleErrors: string[];
  pageErrors: string[];
  requests: string[];
  dialogs: string[];
  cspViolations: string[];
}

/** One canvas and how much of it is drawn. */
export interface CanvasInfo {
  id: string;
  width: number;
  height: number;
  /** Pixels that are not fully transparent. */
  painted: number;
  /** Distinct colours among the painted pixels (capped at 64). */
  colors: number;
}

/** A Chromium with a fresh profile; closing it removes the profile. */
export interface Browser extends AsyncDisposable {
  context: BrowserContext;
  /**
   * Opens an HTML file and waits for its script to finish (`body[data-ready]`),
   * or only for the load event when `waitReady` is false.
   */
  open(path: string, options?: { waitReady?: boolean }): Promise<{ page: Page; log: PageLog }>;
}

/** Starts Chromium headless, with no network features and a throwaway profile. */
export async function launchBrowser(): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "ioscope-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: 30_000,
    });
  } catch (e) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw e;
  }
  return {
    context,
    async open(path: string, options: { waitReady?: boolean } = {}) {
      const { waitReady = true } = options;
      const url = new URL(`file://${Deno.realPathSync(path)}`).href;
      const page = await context.newPage();
      const log: PageLog = {
        consoleErrors: [],
        pageErrors: [],
        requests: [],
        dialogs: [],
        cspViolations: [],
      };
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") log.consoleErrors.push(m.text());
      });
      page.on("pageerror", (e) => log.pageErrors.push(String(e)));
      page.on("request", (r) => {
        if (r.url() !== url) log.requests.push(r.url());
      });
      page.on("dialog", (d) => {
        log.dialogs.push(`${d.type()}: ${d.message()}`);
        d.dismiss().catch(() => {});
      });
      await page.route((u) => u.href !== url, (route) => route.abort());
      await page.addInitScript(
        `globalThis.__csp = []; document.addEventListener("securitypolicyviolation", ` +
          `(e) => globalThis.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
      );
      await page.goto(url, { waitUntil: "load" });
      if (waitReady) await page.waitForSelector("body[data-ready]", { timeout: 15_000 });
      log.cspViolations = await page.evaluate<string[]>("globalThis.__csp");
      return { page, log };
    },
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** Every canvas on the page, with how much of it is painted. */
export function canvases(page: Page): Promise<CanvasInfo[]> {
  return page.evaluate<CanvasInfo[]>(`Array.from(document.querySelectorAll("canvas")).map((c) => {
    // Read a copy, so the page's own canvas is never read back (Chromium warns
    // about repeated readbacks without willReadFrequently).
    const copy = document.createElement("canvas");
    copy.width = c.width;
    copy.height = c.height;
    const ctx = copy.getContext("2d", { willReadFrequently: true });
    let painted = 0;
    const seen = new Set();
    if (ctx && c.width > 0 && c.height > 0) {
      ctx.drawImage(c, 0, 0);
      const px = ctx.getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i + 3] > 0) {
          painted++;
          if (seen.size < 64) seen.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
        }
      }
    }
    return { id: c.id, width: c.width, height: c.height, painted, colors: seen.size };
  })`);
}

/** Runs an expression in the page (a string: the tests have no DOM types) and returns its value. */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

/** What markup a page holds that a report never writes itself. */
export interface Injection {
  /** `<script>` elements. */
  scripts: number;
  /** Elements that load or embed something (img, iframe, object, embed, svg outside the flame graph...). */
  loaders: string[];
  /** Elements with an inline event handler attribute (`on...`). */
  handlers: string[];
}

/** Looks for markup an injection would have added. */
export function injection(page: Page): Promise<Injection> {
  return page.evaluate<Injection>(`(() => {
    const all = Array.from(document.querySelectorAll("*"));
    const loaders = Array.from(document.querySelectorAll(
      "img, iframe, object, embed, video, audio, link, base, form, meta[http-equiv=refresh], svg"
    )).filter((e) => !e.closest("#flame")).map((e) => e.outerHTML.slice(0, 80));
    const handlers = all.filter((e) => Array.from(e.attributes).some((a) => /^on/i.test(a.name)))
      .map((e) => e.outerHTML.slice(0, 80));
    return { scripts: document.scripts.length, loaders, handlers };
  })()`);
}
