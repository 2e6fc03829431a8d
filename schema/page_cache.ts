/**
 * The Run document's `page_cache`: the pages the traced processes added to
 * the page cache, per file (page-cache misses), beside the descriptor view.
 * docs/why.md ("Page-cache misses per file") says how they are counted and
 * what the hit ratio means.
 * @module
 */

/** One file's pages added to the page cache by the traced processes. */
export interface PageCacheFile {
  /** The path as the descriptor view (`fds[].target`) shows it; "" when no traced descriptor named the file. */
  target: string;
  /** The file's device, `major:minor` (the inode's superblock, as `stat -c %d` shows it split). */
  dev: string;
  ino: number;
  /**
   * Pages added: a read's or a fault's misses, readahead included (pages for
   * reads not made yet), and the new pages a write reached.
   */
  pages_added: number;
  /** `pages_added` times `page_size`. */
  bytes_added: number;
  /** Bytes the traced processes read from the file through its descriptors (read, pread64, readv, preadv, preadv2); null when no descriptor of it was resolved. */
  read_bytes: number | null;
  /** Bytes written to it through its descriptors (write, pwrite64, writev, pwritev, pwritev2); null likewise. */
  written_bytes: number | null;
  /**
   * `1 - bytes_added / read_bytes`, 0 at the least: the share of the bytes
   * read that the cache already held, when every page added was a read's.
   * Readahead adds pages before they are read, so a file read in part shows
   * fewer hits than it had. Null when nothing was read through a descriptor,
   * or when something was written to the file (a write's new pages are not a
   * read's misses).
   */
  hit_ratio: number | null;
}

/** Pages added to the page cache while tracing (the bpf backend). */
export interface PageCacheStats {
  /** The kernel's page size in bytes (the auxiliary vector's AT_PAGESZ). */
  page_size: number;
  /** Pages added, every file together. */
  pages_added: number;
  /** The files with the most pages added, at most {@linkcode PAGE_CACHE_TOP_FILES}, most first. */
  files: PageCacheFile[];
  /** Files past the top ones, and their pages. */
  other_files: number;
  other_pages: number;
  /**
   * Pages added to files the kernel's map had no room for (past
   * {@linkcode PAGE_CACHE_MAX_FILES} files in one trace): in `pages_added`,
   * in no file. Absent in Runs written before it was counted.
   */
  lost_pages?: number;
}

/** How many files the bpf backend counts by name in one trace (its map's size). */
export const PAGE_CACHE_MAX_FILES = 16_384;

/** How many files `page_cache.files` lists. */
export const PAGE_CACHE_TOP_FILES = 20;
