/**
 * The program modules the bpf backend runs beside its own programs: a new
 * program is one line here (ARCHITECTURE.md, "Writing a BPF program").
 * @module
 */

import { fsyncCount } from "./_fsync_count.ts";
import { pageCache } from "./_page_cache.ts";
import type { BpfModule } from "./module.ts";

/**
 * Every module, loaded in this order after the backend's own programs, in
 * every bpf trace: the page-cache misses per file (`pageCache`, the Run's
 * `page_cache`). The walk-through's example (`fsyncCount`, ARCHITECTURE.md)
 * is not registered, since fsync is a traced syscall already and a
 * registered module costs every trace its load; its test passes it to the
 * backend (`startBpf({ modules: [fsyncCount] })`).
 */
export const BPF_MODULES: readonly BpfModule[] = [pageCache];

/** The walk-through's example module, for its test and the document. */
export const EXAMPLE_MODULES: readonly BpfModule[] = [fsyncCount];
