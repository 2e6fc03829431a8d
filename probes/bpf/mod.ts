/**
 * The bpf backend's programs: one module per program (instructions built with
 * ffi/bpf's assembler), their map layout (`layout.ts`), where each attaches
 * (`programs.ts`), the list of modules (`modules.ts`), and the read-back of
 * their maps into a Snapshot (`maps.ts`). The agent loads and attaches them
 * (agent/trace/backends/bpf.ts) and creates their maps.
 * @module
 */
