/**
 * The bpf backend's programs: one module per program (instructions built with
 * ffi/bpf's assembler), their map layout (`layout.ts`), where each attaches
 * (`programs.ts`), the list of modules (`modules.ts`), and the read-back of
 * their maps into a Snapshot (`maps.ts`). The agent loads and attaches them
 * (agent/trace/backends/bpf.ts) and creates their maps.
 * @module
 */
export type { BuildContext, FieldPlace, TargetFilter } from "./_emit.ts";
export { MAP_NAMES } from "./layout.ts";
export { BpfMapReader, mapSpecs, slotValue } from "./maps.ts";
export type { MapSetOptions, TracedSyscall } from "./maps.ts";
export type { BpfModule } from "./module.ts";
export { BPF_MODULES } from "./modules.ts";
export { pageCache } from "./_page_cache.ts";
export { planPrograms } from "./programs.ts";
export type { PlannedProgram } from "./programs.ts";
export { planWhy, whyEnd } from "./why.ts";
export type { RequestFields } from "./why.ts";
export { WhyMapSet } from "./why_maps.ts";
export type { BlockDeviceId } from "./why_maps.ts";
