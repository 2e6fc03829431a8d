/**
 * A program module: one file that says everything the bpf backend needs to
 * run a new program (ARCHITECTURE.md, "Writing a BPF program"): its maps (as
 * MAP_CREATE specs), its programs and where they attach (built against the
 * maps' descriptors and the backend's own: the gate, the traced set), and
 * what it reads back. The agent creates the maps, loads and attaches the
 * programs after the backend's own, and closes them with it
 * (agent/trace/backends/bpf.ts); a module that does not load on this kernel
 * is reported as unsupported, never fatal. modules.ts lists the modules.
 * @module
 */

import type { MapSpec } from "../../ffi/bpf/mod.ts";
import type { BuildContext } from "./_emit.ts";
import type { MapAccess } from "./maps.ts";
import type { PlannedProgram } from "./programs.ts";

/** A program module, with maps named `M` and a read-back of type `R`. */
export interface BpfModule<M extends string = string, R = unknown> {
  /** Its name: the key of its read-back (`BpfBackend.modules()`), and its unsupported metric. */
  readonly name: string;
  /** Its maps: role to MAP_CREATE spec (name each `ios_...`, 15 bytes at most). */
  readonly maps: Readonly<Record<M, MapSpec>>;
  /**
   * Its programs (names `ios_...`), each with its attach kind and point.
   * @param b the backend's build context: its maps (the gate, the targets), the filter
   * @param fds this module's maps' descriptors, by role
   */
  programs(b: BuildContext, fds: Readonly<Record<M, number>>): PlannedProgram[];
  /**
   * What it counted so far.
   * @param maps this module's maps, by role
   */
  read(maps: Readonly<Record<M, MapAccess>>): R;
}

/**
 * Declares a module (the identity, typed: map roles checked where they are used).
 * @param module the module
 * @returns the same module
 */
export function defineModule<M extends string, R>(module: BpfModule<M, R>): BpfModule<M, R> {
  return module;
}
