/**
 * Page-cache misses per file, for the terminal: the pages the traced
 * processes added to the page cache, and the files with the most. Pure;
 * paths are made safe by the caller.
 * @module
 */

import { formatBytes, formatCount } from "./_terminal_format.ts";
import { PAGE_CACHE_MAX_FILES, type PageCacheFile, type RunDocument } from "../../schema/mod.ts";

/** A path cut to `width` characters from its end (the file name matters most). */
function tail(path: string, width: number): string {
  return path.length <= width ? path : `...${path.slice(path.length - width + 3)}`;
}

function fileLine(f: PageCacheFile): string {
  const ratio = f.hit_ratio === null ? "" : `, hit ratio ${Math.round(f.hit_ratio * 100)}%`;
  const read = f.read_bytes ? `, read ${formatBytes(f.read_bytes)}` : "";
  const what = f.target || `dev ${f.dev} inode ${f.ino}`;
  const figures = `: ${formatCount(f.pages_added)} pages${read}${ratio}`;
  return `  ${tail(what, Math.max(20, 78 - figures.length))}${figures}`;
}

/**
 * The page cache's lines: the pages added in all, then the files with the
 * most (at most `limit`), and the pages of files the kernel map had no room for.
 * @param run the Run document
 * @param limit files shown at most
 * @returns lines of at most 80 characters (none when nothing was counted)
 */
export function pageCacheLines(run: RunDocument, limit = 3): string[] {
  const pc = run.page_cache;
  if (!pc || pc.pages_added === 0) return [];
  const files = pc.files.length + pc.other_files;
  return [
    "",
    `page cache: ${formatCount(pc.pages_added)} pages added (${
      formatBytes(pc.pages_added * pc.page_size)
    }: misses and readahead) in ${formatCount(files)} file${files === 1 ? "" : "s"}`,
    ...pc.files.slice(0, limit).map(fileLine),
    ...(pc.lost_pages
      ? [
        `  ${
          formatCount(pc.lost_pages)
        } pages of files past the ${PAGE_CACHE_MAX_FILES} counted by name`,
      ]
      : []),
  ];
}
