/**
 * A plain, escaped HTML page of a Run document, used until the full report
 * renderer is available.
 * @module
 */

import type { RunDocument } from "./schema.ts";
import { summaryText } from "./summary.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The Run document as a page: the terminal summary, escaped. */
export function plainRunHtml(run: RunDocument): string {
  return `<!doctype html><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>ioscope: ${escapeHtml(run.meta.comm)}</title>
<pre>${escapeHtml(summaryText(run))}</pre>\n`;
}
