/**
 * The program modules the bpf backend runs beside its own programs: a new
 * program is one line here (ARCHITECTURE.md, "Writing a BPF program").
 * @module
 */

import { fsyncCount } from "./_fsync_count.ts";
import type { BpfModule } from "./module.ts";

/** Every module, loaded in this order after the backend's own programs. */
export const BPF_MODULES: readonly BpfModule[] = [
  fsyncCount,
];
